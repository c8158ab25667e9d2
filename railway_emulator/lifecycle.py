"""The deployment lifecycle: QUEUED -> BUILDING -> DEPLOYING -> SUCCESS, FAILED or CRASHED.

A deployment moves one step each time it is read, so a client that polls sees every state in
order and tests never wait on a clock. Its end is decided when it starts, from the behaviour set
for the service through the admin API:
- the simulated health check: when the image is said to answer only some paths
  (`healthy_paths`), a deployment whose healthcheckPath is not one of them ends FAILED;
- `outcome`: force SUCCESS, FAILED or CRASHED (the process exits after starting).
By default it ends SUCCESS. A successful deployment replaces the previous one (REMOVED).
"""

from __future__ import annotations

import copy
from typing import Any

from .store import instance_key, new_id, now, variables_key

PATH = ("QUEUED", "BUILDING", "DEPLOYING")
FINAL = ("SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED")


def start_deployment(
    state: dict[str, Any], service_id: str, environment_id: str, rollback_of: dict[str, Any] | None = None
) -> dict[str, Any]:
    service = state["services"][service_id]
    instance = state["instances"][instance_key(environment_id, service_id)]
    behaviour = state["behaviours"].get(service["name"], {})
    outcome = behaviour.get("outcome", "SUCCESS")
    if rollback_of is not None:
        snapshot = copy.deepcopy(rollback_of["_snapshot"])
        outcome = "SUCCESS"
    else:
        snapshot = {
            "instance": copy.deepcopy(instance),
            "variables": dict(state["variables"].get(variables_key(environment_id, service_id), {})),
        }
        healthy_paths = behaviour.get("healthy_paths")
        path = instance.get("healthcheckPath")
        if healthy_paths is not None and path and path not in healthy_paths:
            outcome = "FAILED"
    reason = None
    if outcome == "FAILED":
        reason = f"Healthcheck failed at path {snapshot['instance'].get('healthcheckPath') or '/'}"
    elif outcome == "CRASHED":
        reason = "The process exited with code 1"
    deployment = {
        "id": new_id(),
        "status": "QUEUED",
        "serviceId": service_id,
        "environmentId": environment_id,
        "projectId": service["projectId"],
        "createdAt": now(),
        "updatedAt": now(),
        "statusUpdatedAt": now(),
        "meta": {"image": (snapshot["instance"].get("source") or {}).get("image"), "reason": reason},
        "url": None,
        "staticUrl": None,
        "snapshotId": None,
        "_outcome": outcome,
        "_snapshot": snapshot,
        "_rollbackOf": rollback_of["id"] if rollback_of else None,
    }
    state["deployments"][deployment["id"]] = deployment
    return deployment


def advance(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """Move a deployment one step along its path (a no-op once it has ended)."""
    status = deployment["status"]
    if status in FINAL:
        return
    position = PATH.index(status)
    deployment["status"] = PATH[position + 1] if position + 1 < len(PATH) else deployment["_outcome"]
    deployment["statusUpdatedAt"] = now()
    if deployment["status"] == "SUCCESS":
        for other in state["deployments"].values():
            same_instance = (other["serviceId"], other["environmentId"]) == (
                deployment["serviceId"],
                deployment["environmentId"],
            )
            if same_instance and other is not deployment and other["status"] == "SUCCESS":
                other["status"] = "REMOVED"
