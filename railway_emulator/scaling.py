"""Where a service instance runs and with how many replicas: one answer, three fields.

Railway takes scaling two ways: the single-region fields `region` and `numReplicas` of
ServiceInstanceUpdateInput, and `multiRegionConfig` ({"<region>": {"numReplicas": n}}), which the
dashboard and `railway scale` write (also as `services.<id>.deploy.multiRegionConfig` of an
environment patch). It reports `ServiceInstance.region` and `.numReplicas`, and the config itself
in `Environment.config`. The emulator keeps the three consistent, so a change made either way
shows in every field a reader may look at:

- a multiRegionConfig replaces the placement; regions with no replicas are dropped; `numReplicas`
  becomes the total and `region` the region with the most replicas (on a tie, the first by name);
- `region` and/or `numReplicas` without a multiRegionConfig place every replica in one region:
  the given one, or else the current primary region; no region means Railway's default region,
  which has no config of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCALING_FIELDS = ("region", "numReplicas", "multiRegionConfig")


class ScalingRefused(ValueError):
    """A multiRegionConfig that does not say where replicas run."""


def normalized(config: Any) -> dict[str, dict[str, int]]:
    """`config` as {region: {"numReplicas": n}} with n >= 1, or ScalingRefused."""
    if not isinstance(config, Mapping):
        raise ScalingRefused("multiRegionConfig must map regions to {numReplicas}")
    placement = {}
    for region, settings in config.items():
        if isinstance(settings, Mapping):
            replicas = settings.get("numReplicas", 1)
            replicas = 0 if replicas is None else replicas
        else:
            replicas = 0 if settings is None else None  # a null removes the region
        if isinstance(replicas, float) and replicas.is_integer():
            replicas = int(replicas)  # JSON has one kind of number: 2.0 is 2
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ScalingRefused(f"multiRegionConfig.{region}.numReplicas must be a whole number of replicas")
        if replicas:
            placement[str(region)] = {"numReplicas": replicas}
    if not placement:
        raise ScalingRefused("multiRegionConfig must place at least one replica")
    return placement


def primary_region(placement: Mapping[str, Mapping[str, int]]) -> str:
    """The region reported as the instance's `region`: the one with the most replicas."""
    return min(placement, key=lambda region: (-placement[region]["numReplicas"], region))


def apply_scaling(instance: dict[str, Any], change: Mapping[str, Any]) -> None:
    """Apply the scaling fields present in `change` (an update input or a patch's deploy block)."""
    if change.get("multiRegionConfig") is not None:
        placement: dict[str, dict[str, int]] | None = normalized(change["multiRegionConfig"])
    elif any(field in change for field in SCALING_FIELDS):
        region = change["region"] if "region" in change else instance.get("region")
        replicas = change.get("numReplicas")
        if replicas is None:
            replicas = instance.get("numReplicas") or 1
        if not region:
            instance.update({"multiRegionConfig": None, "region": None, "numReplicas": replicas})
            return
        placement = normalized({region: {"numReplicas": replicas}})
    else:
        return
    instance["multiRegionConfig"] = placement
    instance["region"] = primary_region(placement)
    instance["numReplicas"] = sum(settings["numReplicas"] for settings in placement.values())
