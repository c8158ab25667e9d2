"""`./mvs ps | logs | restart` on a Railway stack, through Railway's API.

Which project, environment and services: the stack's outputs (`project_id`, `environment_id`,
`service_ids`, `urls`, `release`), read from its state with `pulumi stack output`, so the
commands act on what the last `up` made and never on a look-alike found by name. Which token and
endpoint: the stack's `railway:token` (`railway:tokenKind`) and `railway:endpoint` when it has
them, else RAILWAY_API_TOKEN / RAILWAY_TOKEN and RAILWAY_API_ENDPOINT, as the stack's providers
choose. Services are named as the stack names them: `database`, the declared ones, `backup`
and `backup-verify`, and with monitoring `prometheus`, `alertmanager`, `pushgateway`,
`postgres-exporter`, `grafana` and `edge-metrics`.

Requests per command: ps 1; logs 1 + 1 per service shown; logs -f 1 per service per poll, paced
by the token's rate limit (components/railway/logs.py); restart 1 + 1 + the reads of its
bounded wait (components/railway/restart.py).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from components.errors import (
    RailwayError,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutcomeUnknown,
    RailwayRateLimited,
    RailwayRequestInvalid,
    RailwayTokenMissing,
    RailwayUnavailable,
    RestartFailed,
    ServiceNotDeployed,
    StackNotUp,
    ToolError,
    UnknownService,
)
from components.railway.client import (
    CONFIG_ENDPOINT,
    CONFIG_TOKEN,
    CONFIG_TOKEN_KIND,
    RailwayClient,
    RailwayToken,
)
from components.railway.logs import LogLine, LogReader, LogSource, deployment_logs
from components.railway.logs import follow as follow_logs
from components.railway.monitoring import SERVICES as MONITORING_SERVICES
from components.railway.restart import RESTARTABLE, restart_and_wait
from components.railway.status import IN_PROGRESS, Deployment, ServiceStatus, environment_services
from components.spec import EnvironmentSpec
from components.spec.secret_command import set_secret_advice

from .. import releases
from ..pulumi_cli import pulumi
from ..releases import Releases
from . import log_lines
from .table import table

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
OWN_SERVICES = ("database", "backup", "backup-verify")  # what the stack adds to the declared services


@dataclass(frozen=True)
class StackOutputs:
    """What the last `up` of a Railway stack recorded."""

    stack: str
    environment_id: str
    service_ids: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)
    release: str | None = None

    def names(self, spec: EnvironmentSpec) -> list[str]:
        """The stack's services in the order `ps` shows them: the database, the declared services
        in start-up order, the backup jobs, the monitoring services, then anything else the state
        still holds."""
        preferred = [OWN_SERVICES[0], *spec.startup_order(), *OWN_SERVICES[1:], *MONITORING_SERVICES]
        ordered = [name for name in preferred if name in self.service_ids]
        return ordered + sorted(set(self.service_ids) - set(ordered))

    def service_id(self, name: str) -> str:
        if name not in self.service_ids:
            known = ", ".join(sorted(self.service_ids))
            raise UnknownService(f"{self.stack} has no service {name!r}; its services are: {known}")
        return self.service_ids[name]


def stack_outputs(stack: str) -> StackOutputs:
    """The stack's outputs, or StackNotUp when it has none to act on."""
    try:
        outputs = json.loads(pulumi("stack", "output", "--json", "--stack", stack) or "{}")
    except ToolError as error:
        if "no stack named" not in error.stderr:
            raise
        raise StackNotUp(
            f"there is no stack {stack} in this state backend yet: bring it up with ./mvs up {stack}"
        ) from None
    if not outputs.get("environment_id") or not outputs.get("service_ids"):
        raise StackNotUp(
            f"{stack} has not been brought up (its state records no Railway environment): run ./mvs up {stack}"
        )
    return StackOutputs(
        stack,
        outputs["environment_id"],
        dict(outputs["service_ids"]),
        dict(outputs.get("urls") or {}),
        outputs.get("release"),
    )


def railway_client(stack: str) -> RailwayClient:
    """A client with the token and endpoint the stack's providers would use."""
    config = json.loads(pulumi("config", "--json", "--stack", stack) or "{}")

    def plain(key: str) -> str | None:
        return (config.get(key) or {}).get("value")

    token_value = pulumi("config", "get", CONFIG_TOKEN, "--stack", stack).strip() if CONFIG_TOKEN in config else None
    try:
        token = RailwayToken.configured(token_value, plain(CONFIG_TOKEN_KIND))
    except RailwayTokenMissing as missing:
        raise RailwayTokenMissing(
            f"{missing}, or store one in the stack: {set_secret_advice(stack, CONFIG_TOKEN)}"
        ) from None
    return RailwayClient(token, endpoint=plain(CONFIG_ENDPOINT))


def next_step(error: RailwayError, stack: str) -> str:
    steps = (
        (
            RailwayNotAuthorized,
            f"check that the token (RAILWAY_API_TOKEN, RAILWAY_TOKEN or {CONFIG_TOKEN}) can see {stack}'s project",
        ),
        (
            RailwayNotFound,
            f"it was deleted outside the stack: ./mvs preview {stack} shows what ./mvs up {stack} would bring back",
        ),
        (
            RailwayRateLimited,
            "the token's hourly request limit is spent: wait for its window to reset, then run this again",
        ),
        (RailwayUnavailable, "Railway did not answer: try again in a minute"),
        (RailwayOutcomeUnknown, f"it may have been done: look with ./mvs ps {stack} before sending it again"),
        (RailwayRequestInvalid, "this is a bug in mvs-infra: please report it with this line"),
    )
    return next(
        (step for kind, step in steps if isinstance(error, kind)), f"look with ./mvs ps {stack}, then try again"
    )


@contextlib.contextmanager
def railway(stack: str) -> Iterator[RailwayClient]:
    """A client for the stack; a failed request becomes one line that says what to do next."""
    with railway_client(stack) as client:
        try:
            yield client
        except RailwayError as error:
            reason = str(error).split(": ", 1)[-1].rstrip(".")
            raise type(error)(
                f"{reason}. Next: {next_step(error, stack)}", error.operation, error.status, error.code
            ) from None


# ---- ps -------------------------------------------------------------------------------------


def state_column(status: ServiceStatus | None) -> str:
    if status is None:
        return "not in this environment"
    text = status.latest.status if status.latest else "never deployed"
    return f"{text} (cron {status.cron_schedule})" if status.cron_schedule else text


def url_column(status: ServiceStatus | None, recorded: str | None) -> str:
    if status is not None and status.domains:
        return ", ".join(f"https://{domain}" for domain in status.domains)
    return recorded or "-"


def ps(stack: str, spec: EnvironmentSpec) -> int:
    """One line per service: state, health, image, release and URL (one request). A service whose
    latest deployment failed (or is still coming up) while an older one serves gets two lines: the
    deployment that really serves, then the other with why it does not (one more request each),
    each labelled with the release it runs, from the stack's release history."""
    outputs = stack_outputs(stack)
    rows = [["SERVICE", "STATE", "HEALTH", "IMAGE", "RELEASE", "URL"]]
    with railway(stack) as client:
        found = environment_services(client, outputs.environment_id)
        # Which update failed matters only for a deployment that did not succeed.
        unsettled = any(s.latest is not None and s.latest.status != "SUCCESS" for s in found.values())
        history = releases.read(stack, with_outcome=unsettled)
        for name in outputs.names(spec):
            status = found.get(outputs.service_ids[name])
            url = url_column(status, outputs.urls.get(name))
            attempt = status.superseded_attempt if status else None
            if status is None or attempt is None:
                image = (status.running_image if status else None) or "-"
                health = status.health() if status else "-"
                latest = status.latest if status else None
                release = release_of(name, latest, spec, outputs, history)
                rows.append([name, state_column(status), health, image, release, url])
                continue
            serving = replace(status, latest=status.serving)
            rows.append(
                [
                    name,
                    f"{state_column(serving)} (serving)",
                    serving.health(),
                    serving.running_image or "-",
                    release_of(name, status.serving, spec, outputs, history),
                    url,
                ]
            )
            rows.append(
                [
                    f"  {name}: latest",
                    attempt_state(attempt),
                    why_not_serving(client, status, attempt),
                    attempt.image or "-",
                    release_of(name, attempt, spec, outputs, history),
                    f"./mvs logs {stack} {name}",
                ]
            )
    print(table(rows))
    return 0


def attempt_state(attempt: Deployment) -> str:
    if attempt.status in IN_PROGRESS:
        return f"{attempt.status} (not serving yet)"
    return f"{attempt.status} (not serving)"


def why_not_serving(client: RailwayClient, status: ServiceStatus, attempt: Deployment) -> str:
    """Why the latest deployment does not serve: its state in words, and its last error line (or
    last line) when it ended badly."""
    reason = replace(status, latest=attempt).health()
    if attempt.status in IN_PROGRESS:
        return reason
    lines = [line for line in deployment_logs(client, attempt.id, limit=20) if line.get("message")]
    errors = [line for line in lines if log_lines.severity(line.get("severity"), line["message"]) == "error"]
    last = (errors or lines or [None])[-1]
    if last is None:
        return reason
    message = " ".join(last["message"].split())
    return f"{reason}: {message[:100]}{'…' if len(message) > 100 else ''}"


def release_of(
    name: str, deployment: Deployment | None, spec: EnvironmentSpec, outputs: StackOutputs, history: Releases
) -> str:
    """The release a deployment really runs: the release record that names this deployment (or
    its image), the failed release for the deployment of a failed update, else what the stack's
    outputs say for the app's services."""
    if deployment is not None:
        for record in history.history:
            recorded = record.get("services", {}).get(name) or {}
            if recorded.get("deployment_id") == deployment.id:
                return record["version"]
        if history.last_update == "failed" and history.failed_version and deployment.status != "SUCCESS":
            return f"{history.failed_version} (failed)"
        for record in history.history:
            recorded = record.get("services", {}).get(name) or {}
            if deployment.image and recorded.get("image") == deployment.image:
                return record["version"]
    return outputs.release if name in spec.release.images and outputs.release else "-"


# ---- logs -----------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def log_sources(
    outputs: StackOutputs, spec: EnvironmentSpec, client: RailwayClient, service: str | None
) -> list[LogSource]:
    """The latest deployment of the service, or of every service (those never deployed are
    named on stderr and left out)."""
    names = [service] if service else outputs.names(spec)
    ids = {name: outputs.service_id(name) for name in names}
    found = environment_services(client, outputs.environment_id)
    sources = []
    for name in names:
        status = found.get(ids[name])
        if status is None or status.latest is None:
            if service:
                raise ServiceNotDeployed(
                    f"{name} has no deployment in {outputs.stack}, so no logs: deploy it with ./mvs up {outputs.stack}"
                )
            say(f"{name}: no deployment yet, no logs")
            continue
        sources.append(LogSource(name, status.latest.id))
    return sources


def logs(
    stack: str, spec: EnvironmentSpec, service: str | None, follow: bool, tail: int, since: datetime | None = None
) -> int:
    """The last `tail` lines (written since `since`, when given) of the latest deployment of one
    service or of all, each with its time and severity, prefixed with the service when there are
    several; with `follow`, new lines until Ctrl-C (exit 130)."""
    try:
        outputs = stack_outputs(stack)
        if service:
            outputs.service_id(service)
        with railway(stack) as client:
            sources = log_sources(outputs, spec, client, service)
            if not sources:
                return 0
            width = max(len(source.label) for source in sources)
            colour = log_lines.use_colour(sys.stdout)

            def emit(line: LogLine) -> None:
                level = log_lines.severity(line.severity, line.message, dict(line.attributes))
                source = line.source if len(sources) > 1 else None
                print(log_lines.render(line.timestamp, level, line.message, source, width, colour), flush=True)

            reader = LogReader(client, sources)
            start = log_lines.rfc3339(since) if since is not None else None
            for line in reader.tail(max(tail, 0), start, log_lines.rfc3339(datetime.now(UTC))):
                emit(line)
            if follow:
                follow_logs(reader, emit, notice=say)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0


# ---- restart --------------------------------------------------------------------------------


def restart(stack: str, spec: EnvironmentSpec, service: str) -> int:
    """Restart the service's latest deployment and wait until it runs again."""
    outputs = stack_outputs(stack)
    service_id = outputs.service_id(service)
    with railway(stack) as client:
        status = environment_services(client, outputs.environment_id).get(service_id)
        latest = status.latest if status else None
        if latest is None:
            raise ServiceNotDeployed(
                f"{service} has no deployment in {stack}, so nothing to restart: deploy it with ./mvs up {stack}"
            )
        if latest.status not in RESTARTABLE:
            raise RestartFailed(
                f"{service}'s latest deployment {latest.id} is {latest.status}, which cannot be restarted: "
                f"wait for it to finish (./mvs ps {stack}), or deploy again with ./mvs up {stack}"
            )
        print(
            f"restarting {service} (deployment {latest.id}, {latest.status}); waiting until it runs again", flush=True
        )

        def show(state: str, instances: tuple[str, ...]) -> None:
            print(f"  {service}: {state}" + (f" (instances: {', '.join(instances)})" if instances else ""), flush=True)

        result = restart_and_wait(client, latest.id, on_change=show)
    if result.back:
        print(f"{service} is running again (deployment {latest.id} SUCCESS after {result.waited_seconds:.0f}s)")
        return 0
    if result.crashed:
        raise RestartFailed(
            f"{service} did not come back: deployment {latest.id} is {result.status} after the restart. "
            f"Next: read why with ./mvs logs {stack} {service}; fix the cause and restart again, or roll back to "
            f"the previous release in the stack file and ./mvs up {stack}"
        )
    raise RestartFailed(
        f"{service} is still {result.status} {result.waited_seconds:.0f}s after the restart. "
        f"Next: watch it with ./mvs ps {stack} and ./mvs logs {stack} {service} -f"
    )
