"""A service's deployments in one environment: listing them, and Railway's own rollback.

No Pulumi here: the deployment provider starts and adopts deployments with these, and
`./mvs rollback` uses them to send `deploymentRollback` before any engine starts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import RailwayNotFound, RailwayOutcomeUnknown
from .client import RailwayClient

ADOPT_WINDOW = 20  # deployments listed after a lost answer: ours and whatever came since
ADOPT_ENV = "MVS_ADOPT_DEPLOYMENTS"  # {service id: deployment id}: ./mvs rollback's, for one update to take


def newest(client: RailwayClient, scope: dict[str, str], count: int) -> list[dict[str, Any]]:
    """The service's newest deployments in this environment, newest first."""
    edges = client.execute("deployments", {"input": scope, "first": count})["deployments"]["edges"]
    return [edge["node"] for edge in edges]


def newer_than(deployments: list[dict[str, Any]], marker: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Those of `deployments` (newest first) made after `marker`; all of them when there was none."""
    if marker is None:
        return deployments
    ids = [d["id"] for d in deployments]
    if marker["id"] in ids:
        return deployments[: ids.index(marker["id"])]
    return [d for d in deployments if d["createdAt"] > marker["createdAt"]]


def adoption_bound(client: RailwayClient) -> datetime | None:
    """The earliest moment a deployment can have been created and still be known to come after
    every answer this process has had (ServerTimes: its `Date`, to the second, so one second past
    it); None when the client keeps no server times or has had no answer."""
    latest = client.server_times.latest(client.endpoint) if client.server_times is not None else None
    return latest + timedelta(seconds=1) if latest is not None else None


def made_since(deployments: list[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    """Those of `deployments` (newest first) Railway created at or after `moment`."""
    return [d for d in deployments if datetime.fromisoformat(d["createdAt"]) >= moment]


@dataclass(frozen=True)
class RollbackStart:
    """What asking Railway to roll a service back to one of its deployments gave."""

    service: str
    target: str  # the deployment rolled back to
    started: str | None = None  # the deployment Railway started for it
    refused: str = ""  # why Railway cannot (the image is past its plan's retention, the deployment is gone)


def start_rollback(client: RailwayClient, scope: dict[str, str], service: str, target: str) -> RollbackStart:
    """`deploymentRollback` of `target` when Railway can still do it (`canRollback`), returning the
    deployment it started. It is sent once; after a lost answer the newest deployment made since is
    taken as ours, as a lost deploy answer is (see providers/deployment.py)."""
    try:
        found = client.execute("deployment", {"id": target})["deployment"]
    except RailwayNotFound:
        return RollbackStart(service, target, refused=f"Railway no longer has deployment {target}")
    if not found.get("canRollback"):
        return RollbackStart(
            service, target, refused=f"Railway can no longer roll back to deployment {target} (image retention)"
        )
    before = newest(client, scope, 1)
    with contextlib.suppress(RailwayOutcomeUnknown):  # a lost answer: look for what it started
        client.execute("deploymentRollback", {"id": target})
    made = newer_than(newest(client, scope, ADOPT_WINDOW), before[0] if before else None)
    if not made:
        return RollbackStart(service, target, refused="Railway accepted the rollback but started no deployment")
    return RollbackStart(service, target, started=made[-1]["id"])
