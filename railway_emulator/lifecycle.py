"""The deployment lifecycle: QUEUED -> BUILDING -> DEPLOYING -> SUCCESS, FAILED or CRASHED.

A deployment moves one step each time it is read, so a client that polls sees every state in
order and tests never wait on a clock. Its end is decided when it starts, from the behaviour set
for the service through the admin API:
- the simulated health check: when the image is said to answer only some paths
  (`healthy_paths`), a deployment whose healthcheckPath is not one of them ends FAILED;
- `outcome`: force SUCCESS, FAILED or CRASHED (the process exits after starting).
By default it ends SUCCESS. A successful deployment replaces the previous one (REMOVED).

`deploymentRestart` restarts a deployment in place (same id): its containers stop and start
again, so it goes back to DEPLOYING (its instances RESTARTING) and its next read ends it SUCCESS,
or CRASHED when the service's `restart_outcome` behaviour says so.

Each step writes the lines Railway's logs show for it (logs.py): the image pulled and the health
check in the build log; the container starting, stopping or crashing in the deploy log.
"""

from __future__ import annotations

import copy
from typing import Any

from . import logs
from .store import instance_key, new_id, now, variables_key

PATH = ("QUEUED", "BUILDING", "DEPLOYING")
FINAL = ("SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED")
RESTARTABLE = ("SUCCESS", "CRASHED", "SLEEPING")


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
    image = deployment["meta"]["image"]
    logs.append(state, deployment, "build", f"Pulling image {image}" if image else "Waiting for a source")
    return deployment


def advance(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """Move a deployment one step along its path (a no-op once it has ended)."""
    status = deployment["status"]
    if status in FINAL:
        return
    position = PATH.index(status)
    deployment["status"] = PATH[position + 1] if position + 1 < len(PATH) else deployment["_outcome"]
    deployment["statusUpdatedAt"] = now()
    _log_step(state, deployment)
    if deployment["status"] == "SUCCESS":
        for other in state["deployments"].values():
            same_instance = (other["serviceId"], other["environmentId"]) == (
                deployment["serviceId"],
                deployment["environmentId"],
            )
            if same_instance and other is not deployment and other["status"] == "SUCCESS":
                other["status"] = "REMOVED"


def _log_step(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """The lines Railway writes when a deployment reaches its new status."""
    status = deployment["status"]
    path = deployment["_snapshot"]["instance"].get("healthcheckPath")
    if status == "DEPLOYING" and not deployment.get("_restarting"):
        logs.append(state, deployment, "build", "Image ready")
        logs.append(state, deployment, "deploy", "Starting Container")
    elif status == "SUCCESS" and path and not deployment.get("_restarting"):
        logs.append(state, deployment, "build", f"Starting Healthcheck (path: {path})")
        logs.append(state, deployment, "build", "[1/1] Healthcheck succeeded!")
    elif status == "FAILED":
        logs.append(state, deployment, "build", f"Healthcheck failed at path {path or '/'}", "error")
    elif status == "CRASHED":
        logs.append(state, deployment, "deploy", deployment["meta"]["reason"], "error")
        logs.append(state, deployment, "deploy", "Stopping Container")
    if status in FINAL:
        deployment.pop("_restarting", None)


def restart(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """Restart a deployment in place: it deploys again and its next read decides how it ends."""
    service = state["services"].get(deployment["serviceId"]) or {}
    outcome = state["behaviours"].get(service.get("name"), {}).get("restart_outcome", "SUCCESS")
    deployment.update(
        {
            "status": "DEPLOYING",
            "statusUpdatedAt": now(),
            "updatedAt": now(),
            "_outcome": outcome,
            "_restarting": True,
            "_restarts": deployment.get("_restarts", 0) + 1,
        }
    )
    deployment["meta"]["reason"] = "The process exited with code 1" if outcome == "CRASHED" else None
    logs.append(state, deployment, "deploy", "Stopping Container")
    logs.append(state, deployment, "deploy", "Starting Container")
