"""One deployment of a service in an environment, made when its settings or variables change.

Its `fingerprint` input is a digest of everything that needs a redeploy (image, settings,
variables), so one `pulumi up` deploys each changed service exactly once, after its settings and
variables are written. It waits for the deployment to finish and fails with Railway's status and
a rollback hint when the deployment does not become healthy.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import MvsError, RailwayOutcomeUnknown
from .base import RailwayProvider, pick, say

SUCCEEDED = "SUCCESS"
FAILED = ("FAILED", "CRASHED", "REMOVED", "SKIPPED")
DEFAULT_TIMEOUT_SECONDS = 900.0
ADOPT_WINDOW = 20  # deployments listed after a lost answer: ours and whatever came since


class DeploymentFailed(MvsError):
    """A deployment ended without becoming healthy."""


def _newest(client, scope: dict[str, str], count: int) -> list[dict[str, Any]]:
    """The service's newest deployments in this environment, newest first."""
    edges = client.execute("deployments", {"input": scope, "first": count})["deployments"]["edges"]
    return [edge["node"] for edge in edges]


def _newer_than(deployments: list[dict[str, Any]], marker: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Those of `deployments` (newest first) made after `marker`; all of them when there was none."""
    if marker is None:
        return deployments
    ids = [d["id"] for d in deployments]
    if marker["id"] in ids:
        return deployments[: ids.index(marker["id"])]
    return [d for d in deployments if d["createdAt"] > marker["createdAt"]]


def fingerprint(*parts: Any) -> str:
    """A stable digest of whatever should trigger a redeploy when it changes."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def start_deployment(client, scope: dict[str, str]) -> str:
    """Start one deployment; if the answer was lost, adopt the one it started instead of a second.

    Railway has no idempotency key for deploys, and a deployment made just before ours (a
    dashboard redeploy, a cron run) may still run the old settings. So the newest deployment is
    noted before asking: after a lost answer only a deployment newer than that one can be ours,
    and any such one was made after this run's writes, so it runs them."""
    newest_before = _newest(client, scope, 1)
    try:
        return client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]
    except RailwayOutcomeUnknown:
        made = _newer_than(_newest(client, scope, ADOPT_WINDOW), newest_before[0] if newest_before else None)
        if made:
            return made[0]["id"]
        return client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]


def deploy_and_wait(client, scope: dict[str, str], service_name: str, poll_seconds: float) -> dict[str, Any]:
    """Start a deployment and wait for it; returns it once healthy, or raises DeploymentFailed
    with Railway's status and what to do."""
    deployment_id = start_deployment(client, scope)
    deadline = time.monotonic() + DEFAULT_TIMEOUT_SECONDS
    last_status = None
    while True:
        deployment = client.execute("deployment", {"id": deployment_id})["deployment"]
        status = deployment["status"]
        if status != last_status:
            say(f"railway: {service_name} deployment {deployment_id}: {status}")
            last_status = status
        if status == SUCCEEDED:
            return {**deployment, "id": deployment_id}
        if status in FAILED:
            raise DeploymentFailed(
                f"deployment {deployment_id} of service {service_name} ended {status}. "
                "The previous deployment keeps serving. To roll back, restore the previous release in the "
                "stack file (git revert) and run `./mvs up <stack>`; to investigate, open the deployment's "
                "logs in Railway."
            )
        if time.monotonic() > deadline:
            raise DeploymentFailed(
                f"deployment {deployment_id} of service {service_name} is still {status} after "
                f"{DEFAULT_TIMEOUT_SECONDS:.0f}s; check it in Railway, then run `./mvs up <stack>` again"
            )
        time.sleep(poll_seconds)


class DeploymentProvider(RailwayProvider):
    inputs = ("service_id", "environment_id", "service_name", "fingerprint")
    replace_on = ()

    def _deploy(self, props: dict[str, Any]) -> dict[str, Any]:
        scope = {"serviceId": props["service_id"], "environmentId": props["environment_id"]}
        with self.client() as client:
            deployment = deploy_and_wait(client, scope, props["service_name"], self.poll_seconds)
        return {
            **pick(props, self.inputs),
            "deployment_id": deployment["id"],
            "status": deployment["status"],
            "latest_started_at": deployment["createdAt"],
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._deploy(props)
        return CreateResult(outs["deployment_id"], outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._deploy(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The service's newest deployment: ours, or a later one (a cron run, a dashboard redeploy)."""
        scope = {"serviceId": props["service_id"], "environmentId": props["environment_id"]}
        found = self.lookup("deployments", {"input": scope, "first": 1})
        if found is None or not found["edges"]:
            return ReadResult(None, {})
        latest = found["edges"][0]["node"]
        outs = {
            **pick(props, self.inputs),
            "deployment_id": props.get("deployment_id") or id_,
            "status": latest["status"] if latest["id"] == (props.get("deployment_id") or id_) else props.get("status"),
            "latest_started_at": latest["createdAt"],
        }
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to do: deployments go with the service instance."""


class Deployment(Resource, module="railway", name="Deployment"):
    deployment_id: pulumi.Output[str]
    status: pulumi.Output[str]
    latest_started_at: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        service_id: pulumi.Input[str],
        environment_id: pulumi.Input[str],
        service_name: str,
        fingerprint: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "service_id": service_id,
            "environment_id": environment_id,
            "service_name": service_name,
            "fingerprint": fingerprint,
            "deployment_id": None,
            "status": None,
            "latest_started_at": None,
        }
        super().__init__(DeploymentProvider(), name, props, opts)
