"""A service's settings in one environment: image, start and pre-deploy commands, health check,
restart policy, replicas and region, cron schedule.

Railway applies them with serviceInstanceUpdate, which deploys nothing by itself; the
Deployment resource rolls them out, once per change.

Placement is declared as one region and a replica count, and written both as those fields and as
the `multiRegionConfig` they mean. Railway reports `region` and `numReplicas` on the instance but
keeps the config only in the environment's config, so read() looks there too: a second region
added in the dashboard can leave the primary region and the total unchanged, and must still show
as drift.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from .base import RailwayProvider, applied_now, pick

# our input name -> ServiceInstance / ServiceInstanceUpdateInput field
API_FIELDS = {
    "start_command": "startCommand",
    "pre_deploy_command": "preDeployCommand",
    "healthcheck_path": "healthcheckPath",
    "healthcheck_timeout": "healthcheckTimeout",
    "restart_policy_type": "restartPolicyType",
    "restart_policy_max_retries": "restartPolicyMaxRetries",
    "num_replicas": "numReplicas",
    "region": "region",
    "cron_schedule": "cronSchedule",
}
SETTINGS = ("image", *API_FIELDS)


def placement(region: str | None, num_replicas: int | None) -> dict[str, dict[str, int]] | None:
    """The multiRegionConfig a declared region and replica count mean; None leaves Railway's default
    region alone (and untracked)."""
    return {region: {"numReplicas": int(num_replicas or 1)}} if region else None  # the engine hands floats


def placement_from_api(config: Any) -> dict[str, dict[str, int]] | None:
    """A multiRegionConfig as Railway reports it, in the shape placement() makes."""
    if not isinstance(config, dict):
        return None
    placed = {
        region: {"numReplicas": settings.get("numReplicas", 1)}
        for region, settings in config.items()
        if isinstance(settings, dict) and settings.get("numReplicas", 1)
    }
    return placed or None


def update_input(props: dict[str, Any]) -> dict[str, Any]:
    """The serviceInstanceUpdate input for the declared settings (null unsets a field)."""
    data: dict[str, Any] = {"source": {"image": props["image"]}}
    for ours, theirs in API_FIELDS.items():
        data[theirs] = props.get(ours)
    if props.get("region"):
        data["multiRegionConfig"] = placement(props["region"], props.get("num_replicas"))
    return data


def settings_from_api(instance: dict[str, Any]) -> dict[str, Any]:
    settings = {ours: instance.get(theirs) for ours, theirs in API_FIELDS.items()}
    settings["image"] = (instance.get("source") or {}).get("image")
    return settings


class ServiceInstanceProvider(RailwayProvider):
    inputs = ("service_id", "environment_id", *SETTINGS, "multi_region_config")
    replace_on = ("service_id", "environment_id")

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        if "multi_region_config" not in olds:
            # State written before placement was tracked: region and num_replicas already say it.
            olds = {**olds, "multi_region_config": news.get("multi_region_config")}
        return super().diff(id_, olds, news)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        with self.client() as client:
            client.execute(
                "serviceInstanceUpdate",
                {
                    "serviceId": props["service_id"],
                    "environmentId": props["environment_id"],
                    "input": update_input(props),
                },
            )
        return {**pick(props, self.inputs), "applied_at": applied_now()}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['environment_id']}:{props['service_id']}", self._apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        snapshot = self.snapshot(props["environment_id"])
        instance = snapshot.instance(props["service_id"]) if snapshot is not None else None
        if instance is None:
            return ReadResult(None, {})
        current = {**pick(props, ("service_id", "environment_id")), **settings_from_api(instance)}
        if props.get("region"):  # a declared placement is tracked; Railway's default region is not
            deploy = snapshot.service_config(props["service_id"]).get("deploy") or {}
            current["multi_region_config"] = placement_from_api(deploy.get("multiRegionConfig"))
        else:
            current["multi_region_config"] = None
        return ReadResult(id_, {**current, "applied_at": props.get("applied_at")}, current)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: the settings go with the service instance."""


class ServiceInstance(Resource, module="railway", name="ServiceInstance"):
    applied_at: pulumi.Output[str]

    def __init__(
        self, name: str, service_id: pulumi.Input[str], environment_id: pulumi.Input[str], settings: dict, opts=None
    ):
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown service settings: {', '.join(sorted(unknown))}")
        props = {
            "service_id": service_id,
            "environment_id": environment_id,
            **{k: settings.get(k) for k in SETTINGS},
            "multi_region_config": placement(settings.get("region"), settings.get("num_replicas")),
            "applied_at": None,
        }
        super().__init__(ServiceInstanceProvider(), name, props, opts)
