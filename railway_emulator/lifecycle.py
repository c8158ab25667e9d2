"""The deployment lifecycle: QUEUED -> BUILDING -> DEPLOYING -> SUCCESS, FAILED or CRASHED.

By default a deployment moves one step each time it is read (`deployment(id)`), so a client that
polls sees every state in order and tests never wait on a clock. With a `deploy_seconds` setting
(POST /_emulator/lifecycle {"deploy_seconds": 20}) it follows the emulator's clock instead: it
reaches its end `deploy_seconds` after it started, BUILDING after a third of that and DEPLOYING
after two thirds, whoever reads it and however often (every request first brings each deployment
up to date; `statusUpdatedAt` is the moment the status was due). A restart in that mode ends a
third of `deploy_seconds` after it began (it only deploys again).

Its end is decided when it starts, from the behaviour set for the service through the admin API:
- the simulated health check: when the image is said to answer only some paths
  (`healthy_paths`), a deployment whose healthcheckPath is not one of them ends FAILED;
- `outcome`: force SUCCESS, FAILED or CRASHED (the process exits after starting).
By default it ends SUCCESS. A successful deployment replaces the previous one, which becomes
REMOVED (its `_removedAt` records when).

Rollback (`deploymentRollback`), as Railway documents it: a new deployment that runs the target's
snapshot, "with both image and custom variables"; the service instance's settings and the
variables stay as they are (so the next ordinary deploy runs them again). It goes through the same
lifecycle and ends SUCCESS, since the target ran. A deployment can be rolled back (`canRollback`)
while it is SUCCESS, or once REMOVED (having succeeded) for as long as the plan keeps its image:
Free/Trial 24h, Hobby 72h, Pro 120h, Enterprise 360h after its removal (plans.py); and only while
its service still has an instance in that environment.

`deploymentRestart` restarts a deployment in place (same id): its containers stop and start
again, so it goes back to DEPLOYING (its instances RESTARTING) and its next read ends it SUCCESS,
or CRASHED when the service's `restart_outcome` behaviour says so.

Deployment.meta (a JSON scalar in Railway's schema) holds:
- `image`: the image the deployment runs (from its snapshot; for a rollback, the target's);
- `reason`: why it failed or crashed, else None;
- `rollbackOf`: on a rollback only, the id of the deployment it rolled back to;
- `serviceManifest`: `{deploy: {...}}`, the settings it runs (start and pre-deploy commands, health
  check, restart policy, replicas, multiRegionConfig, cron schedule), as Railway reports them.

Each step writes the lines Railway's logs show for it (logs.py): the image pulled and the health
check in the build log; the container starting, stopping or crashing in the deploy log.
"""

from __future__ import annotations

import copy
from typing import Any

from . import logs
from .plans import current_plan
from .store import clock_ns, instance_key, iso_ms, new_id, now, parse_iso_ns, settings, variables_key

PATH = ("QUEUED", "BUILDING", "DEPLOYING")
FINAL = ("SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED")
RESTARTABLE = ("SUCCESS", "CRASHED", "SLEEPING")
HOUR_NS = 3600 * 1_000_000_000


MANIFEST_DEPLOY_FIELDS = (
    "startCommand",
    "preDeployCommand",
    "healthcheckPath",
    "healthcheckTimeout",
    "restartPolicyType",
    "restartPolicyMaxRetries",
    "numReplicas",
    "multiRegionConfig",
    "cronSchedule",
)


def service_manifest(instance: dict[str, Any]) -> dict[str, Any]:
    """The service's settings a deployment runs, as Railway reports them in `meta.serviceManifest`."""
    return {"deploy": {field: copy.deepcopy(instance.get(field)) for field in MANIFEST_DEPLOY_FIELDS}}


def order_key(deployment: dict[str, Any]) -> tuple[str, int]:
    """Oldest first: by createdAt, then by creation order (two may share a millisecond)."""
    return deployment["createdAt"], deployment.get("_seq", 0)


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
    meta: dict[str, Any] = {
        "image": (snapshot["instance"].get("source") or {}).get("image"),
        "reason": reason,
        "serviceManifest": service_manifest(snapshot["instance"]),
    }
    if rollback_of is not None:
        meta["rollbackOf"] = rollback_of["id"]
    started = clock_ns(state)
    deployment = {
        "id": new_id(),
        "status": "QUEUED",
        "serviceId": service_id,
        "environmentId": environment_id,
        "projectId": service["projectId"],
        "createdAt": iso_ms(started),
        "updatedAt": iso_ms(started),
        "statusUpdatedAt": iso_ms(started),
        "meta": meta,
        "url": None,
        "staticUrl": None,
        "snapshotId": None,
        "_outcome": outcome,
        "_snapshot": snapshot,
        "_rollbackOf": rollback_of["id"] if rollback_of else None,
        "_seq": max((d.get("_seq", 0) for d in state["deployments"].values()), default=0) + 1,
        "_startedNs": started,
        "_startPosition": 0,
    }
    state["deployments"][deployment["id"]] = deployment
    image = deployment["meta"]["image"]
    logs.append(
        state, deployment, "build", f"Pulling image {image}" if image else "Waiting for a source", at_ns=started
    )
    return deployment


def advance(state: dict[str, Any], deployment: dict[str, Any], at_ns: int | None = None) -> None:
    """Move a deployment one step along its path (a no-op once it has ended); `at_ns` is when the
    step happened (default now)."""
    status = deployment["status"]
    if status in FINAL:
        return
    at_ns = clock_ns(state) if at_ns is None else at_ns
    position = PATH.index(status)
    deployment["status"] = PATH[position + 1] if position + 1 < len(PATH) else deployment["_outcome"]
    deployment["statusUpdatedAt"] = iso_ms(at_ns)
    _log_step(state, deployment, at_ns)
    if deployment["status"] == "SUCCESS":
        for other in state["deployments"].values():
            same_instance = (other["serviceId"], other["environmentId"]) == (
                deployment["serviceId"],
                deployment["environmentId"],
            )
            if same_instance and other is not deployment and other["status"] == "SUCCESS":
                remove(state, other, at_ns)


def remove(state: dict[str, Any], deployment: dict[str, Any], at_ns: int | None = None) -> None:
    """The deployment stops serving: REMOVED, remembering when and from which status."""
    if deployment["status"] == "REMOVED":
        return
    at = iso_ms(clock_ns(state) if at_ns is None else at_ns)
    deployment["_removedFrom"] = deployment["status"]
    deployment["_removedAt"] = at
    deployment["status"] = "REMOVED"
    deployment["statusUpdatedAt"] = at
    deployment.pop("_restarting", None)


def timed(state: dict[str, Any]) -> float | None:
    """The seconds a deployment takes in the time-based lifecycle, or None (one step per read)."""
    seconds = settings(state).get("deploy_seconds")
    return None if seconds is None else float(seconds)


def read(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """A client reads the deployment: one step in the default lifecycle, nothing in the timed one
    (`settle` has already brought it to where the clock says)."""
    if timed(state) is None:
        advance(state, deployment)


def settle(state: dict[str, Any]) -> bool:
    """In the time-based lifecycle, move every deployment to the status the clock says it has
    reached; True if one moved. A no-op in the default lifecycle."""
    seconds = timed(state)
    if seconds is None:
        return False
    moved = False
    clock = clock_ns(state)
    span = seconds * 1_000_000_000 / (len(PATH))  # QUEUED, BUILDING and DEPLOYING share the time
    for deployment in sorted(state["deployments"].values(), key=order_key):
        if deployment["status"] not in PATH:
            continue
        started = deployment.get("_startedNs", clock)
        start_position = deployment.get("_startPosition", 0)
        while deployment["status"] in PATH:
            steps = PATH.index(deployment["status"]) + 1 - start_position  # steps done after this one
            due = started + round(steps * span)
            if due > clock:
                break
            advance(state, deployment, due)
            moved = True
    return moved


def can_rollback(state: dict[str, Any], deployment: dict[str, Any]) -> bool:
    """SUCCESS, or REMOVED after succeeding and within the plan's image retention; and its service
    still has an instance in that environment to deploy to."""
    if instance_key(deployment["environmentId"], deployment["serviceId"]) not in state["instances"]:
        return False
    if deployment["status"] == "SUCCESS":
        return True
    if deployment["status"] != "REMOVED" or deployment.get("_removedFrom", "SUCCESS") != "SUCCESS":
        return False
    removed_at = deployment.get("_removedAt") or deployment["statusUpdatedAt"]
    age_ns = clock_ns(state) - parse_iso_ns(removed_at)
    return age_ns < current_plan(state).retention_hours * HOUR_NS


def _log_step(state: dict[str, Any], deployment: dict[str, Any], at_ns: int | None = None) -> None:
    """The lines Railway writes when a deployment reaches its new status."""
    status = deployment["status"]
    path = deployment["_snapshot"]["instance"].get("healthcheckPath")
    if status == "DEPLOYING" and not deployment.get("_restarting"):
        logs.append(state, deployment, "build", "Image ready", at_ns=at_ns)
        logs.append(state, deployment, "deploy", "Starting Container", at_ns=at_ns)
    elif status == "SUCCESS" and path and not deployment.get("_restarting"):
        logs.append(state, deployment, "build", f"Starting Healthcheck (path: {path})", at_ns=at_ns)
        logs.append(state, deployment, "build", "[1/1] Healthcheck succeeded!", at_ns=at_ns)
    elif status == "FAILED":
        logs.append(state, deployment, "build", f"Healthcheck failed at path {path or '/'}", "error", at_ns=at_ns)
    elif status == "CRASHED":
        logs.append(state, deployment, "deploy", deployment["meta"]["reason"], "error", at_ns=at_ns)
        logs.append(state, deployment, "deploy", "Stopping Container", at_ns=at_ns)
    if status in FINAL:
        deployment.pop("_restarting", None)


def restart(state: dict[str, Any], deployment: dict[str, Any]) -> None:
    """Restart a deployment in place: it deploys again and its next read decides how it ends."""
    service = state["services"].get(deployment["serviceId"]) or {}
    outcome = state["behaviours"].get(service.get("name"), {}).get("restart_outcome", "SUCCESS")
    deployment.update(
        {
            "status": "DEPLOYING",
            "statusUpdatedAt": now(state),
            "updatedAt": now(state),
            "_outcome": outcome,
            "_restarting": True,
            "_restarts": deployment.get("_restarts", 0) + 1,
            "_startedNs": clock_ns(state),
            "_startPosition": PATH.index("DEPLOYING"),
        }
    )
    deployment["meta"]["reason"] = "The process exited with code 1" if outcome == "CRASHED" else None
    logs.append(state, deployment, "deploy", "Stopping Container")
    logs.append(state, deployment, "deploy", "Starting Container")
