"""One deployment of a service in an environment, made when its settings or variables change.

Its `fingerprint` input is a digest of everything that needs a redeploy (image, settings,
variables), so one `pulumi up` deploys each changed service exactly once, after its settings and
variables are written. It waits for the deployment to finish and fails with Railway's status and
a rollback hint when the deployment does not become healthy.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import MvsError, RailwayOutcomeUnknown
from ..deployment_watch import SUCCEEDED, DeploymentWaitExpired, DeploymentWatch, duration_seconds
from ..deployments import ADOPT_ENV, ADOPT_WINDOW, adoption_bound, made_since, newer_than, newest
from ..logs import deployment_logs
from .base import RailwayProvider, pick, say
from .instance import API_FIELDS

DEFAULT_TIMEOUT_SECONDS = 900.0


class DeploymentFailed(MvsError):
    """A deployment ended without becoming healthy."""


def fingerprint(*parts: Any) -> str:
    """A stable digest of whatever should trigger a redeploy when it changes."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def start_deployment(client, scope: dict[str, str], expects: dict[str, Any] | None = None) -> str:
    """Start one deployment; if the answer was lost, adopt the one it started instead of a second.

    Railway has no idempotency key for deploys, and a deployment made just before ours (a
    dashboard redeploy, a cron run) may still run the old settings or variables. So, after a lost
    answer, a deployment is taken as ours only when both hold:
    - it was made after this run's writes to the service. Which ones those are is bounded without
      asking (deployments.adoption_bound: a second past the newest answer this process had, whose
      `Date` is Railway's clock). The deploy is sent only once Railway's clock is surely past that
      bound (ServerTimes.until_past_bound: at most a second's wait, no request), so the deployment
      it makes is always adoptable, even right after a variable write, the usual case;
    - it deploys what this run declared (`expects`: the image and settings, which Railway reports
      in the deployment's `meta`), so a dashboard redeploy of other settings made after the bound
      is not taken for ours either.
    When none qualifies, the deploy is asked again. A process that has had no answer yet (none of
    this run's writes went through it) notes the newest deployment before asking instead."""
    bound = adoption_bound(client)
    newest_before = newest(client, scope, 1) if bound is None else None
    if bound is not None and client.server_times is not None:
        time.sleep(client.server_times.until_past_bound(client.endpoint))
    try:
        return client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]
    except RailwayOutcomeUnknown:
        listed = newest(client, scope, ADOPT_WINDOW)
        if bound is not None:
            made = made_since(listed, bound)
        else:
            made = newer_than(listed, newest_before[0] if newest_before else None)
        ours = [deployment for deployment in made if deploys(deployment, expects)]
        if ours:
            return ours[-1]["id"]  # the first made after the bound that deploys what we declared
        return client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]


def expected_deploy(settings: dict[str, Any]) -> dict[str, Any]:
    """What a deployment of these declared settings runs, in the terms of Railway's deployment
    `meta`: its `image`, and `serviceManifest.deploy` fields."""
    return {
        "image": settings.get("image"),
        "deploy": {theirs: settings.get(ours) for ours, theirs in API_FIELDS.items() if ours != "region"},
    }


def deploys(deployment: dict[str, Any], expects: dict[str, Any] | None) -> bool:
    """Whether a deployment runs what `expects` says, as far as its `meta` tells (a field Railway
    does not report cannot rule it out)."""
    if not expects:
        return True
    meta = deployment.get("meta") or {}
    if expects.get("image") and meta.get("image") and meta["image"] != expects["image"]:
        return False
    deploy = (meta.get("serviceManifest") or {}).get("deploy") or {}
    return all(deploy[field] == want for field, want in (expects.get("deploy") or {}).items() if field in deploy)


def deploy_and_wait(
    client, scope: dict[str, str], service_name: str, watch: DeploymentWatch, poll_seconds: float
) -> dict[str, Any]:
    """Start a deployment and wait for it; returns it once healthy, or raises DeploymentFailed
    with Railway's status and what to do."""
    deployment_id = start_deployment(client, scope)
    try:
        return wait_for(watch, deployment_id, service_name, poll_seconds)
    except DeploymentFailed as failed:
        raise DeploymentFailed(f"{failed}{last_log_lines(client, deployment_id)}") from None


LAST_LINES = 5


def last_log_lines(client, deployment_id: str, count: int = LAST_LINES) -> str:
    """The failed deployment's last log lines, for the end of its one-line failure ("" when it
    wrote none or they cannot be read: the failure is said either way)."""
    try:
        lines = deployment_logs(client, deployment_id, limit=count)
    except MvsError:
        return ""
    shown = [" ".join(str(line.get("message") or "").split())[:200] for line in lines]
    shown = [message for message in shown if message]
    return f" Its last log lines: {' | '.join(shown)}" if shown else ""


def wait_for(
    watch: DeploymentWatch,
    deployment_id: str,
    service_name: str,
    poll_seconds: float,
    known_seconds: float | None = None,
) -> dict[str, Any]:
    """Wait for a deployment to end (deployment_watch.py: first looked at when it should be done,
    from `known_seconds`, its service's last deployment's duration); returns it once healthy, or
    raises DeploymentFailed."""
    expected = watch.expected_seconds(known_seconds)

    def tell(deployment: dict[str, Any]) -> None:
        say(f"railway: {service_name} deployment {deployment_id}: {deployment['status']}")

    try:
        deployment = watch.wait(
            deployment_id,
            first_look=expected if expected is not None else poll_seconds,
            interval=poll_seconds,
            timeout=DEFAULT_TIMEOUT_SECONDS,
            on_status=tell,
        )
    except DeploymentWaitExpired as expired:
        status = (expired.deployment or {}).get("status", "unknown")
        raise DeploymentFailed(
            f"deployment {deployment_id} of service {service_name} is still {status} after "
            f"{DEFAULT_TIMEOUT_SECONDS:.0f}s; check it in Railway, then run `./mvs up <stack>` again"
        ) from None
    if deployment["status"] != SUCCEEDED:
        raise DeploymentFailed(
            f"deployment {deployment_id} of service {service_name} ended {deployment['status']}. "
            "The previous deployment keeps serving. To go back to the last good release, run "
            f"`./mvs rollback <stack>`; to investigate, `./mvs logs <stack> {service_name}` and `./mvs ps <stack>`."
        )
    return {**deployment, "id": deployment_id}


def adopted_deployment(service_id: str) -> str | None:
    """The deployment `./mvs rollback` already started for this service (Railway's own rollback),
    which this update takes as its deployment instead of starting another."""
    try:
        adopted = json.loads(os.environ.get(ADOPT_ENV) or "{}")
    except json.JSONDecodeError:
        return None
    return adopted.get(service_id) if isinstance(adopted, dict) else None


class DeploymentProvider(RailwayProvider):
    inputs = ("service_id", "environment_id", "service_name", "fingerprint")
    replace_on = ()

    def _deploy(self, props: dict[str, Any], known_seconds: float | None = None) -> dict[str, Any]:
        """`known_seconds`: how long the service's last deployment took (from the state), so its
        status is first read when this one should be done."""
        scope = {"serviceId": props["service_id"], "environmentId": props["environment_id"]}
        adopted = adopted_deployment(props["service_id"])
        watch = self.watch(props["environment_id"])
        if adopted:
            say(f"railway: {props['service_name']}: taking Railway's rollback deployment {adopted} as this update's")
            deployment_id = adopted
        else:
            with self.client() as client:
                deployment_id = start_deployment(client, scope, props.get("expects"))
        try:
            deployment = wait_for(watch, deployment_id, props["service_name"], self.poll_seconds, known_seconds)
        except DeploymentFailed as failed:
            with self.client() as client:
                raise DeploymentFailed(f"{failed}{last_log_lines(client, deployment_id)}") from None
        return {
            **pick(props, self.inputs),
            "deployment_id": deployment["id"],
            "status": deployment["status"],
            "latest_started_at": deployment["createdAt"],
            "duration_seconds": duration_seconds(deployment),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._deploy(props)
        return CreateResult(outs["deployment_id"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._deploy(news, olds.get("duration_seconds")))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The service's newest deployment: ours, or a later one (a cron run, a dashboard redeploy)."""
        snapshot = self.snapshot(props["environment_id"])
        latest = snapshot.latest_deployment(props["service_id"]) if snapshot is not None else None
        if latest is None:
            return ReadResult(None, {})
        outs = {
            **pick(props, self.inputs),
            "deployment_id": props.get("deployment_id") or id_,
            "status": latest["status"] if latest["id"] == (props.get("deployment_id") or id_) else props.get("status"),
            "latest_started_at": latest["createdAt"],
            "duration_seconds": props.get("duration_seconds"),
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
        expects: pulumi.Input[dict] | None = None,
    ):
        props = {
            "service_id": service_id,
            "environment_id": environment_id,
            "service_name": service_name,
            "fingerprint": fingerprint,
            "expects": expects,  # what it deploys (not compared: `fingerprint` says when to deploy)
            "deployment_id": None,
            "status": None,
            "latest_started_at": None,
            "duration_seconds": None,
        }
        super().__init__(DeploymentProvider(), name, props, opts)
