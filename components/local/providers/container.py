"""A container of the dev stack: created from its declaration, started, and healthy before `up` goes on.

Any change of a declared setting replaces the container (docker-compose does the same): the old
one is removed, then the new one is created, its files put in, started, and waited on until its
health check passes, saying what it waits for and for how long. Containers that depend on it are
created only then, so the backend never starts against a database that is still initialising.

`read()` reports what the engine really runs, in the declaration's own terms (durations in
seconds, restart policies, ports, aliases, labels and variables the way they were declared), so a
preview right after `up`, or after the daemon restarted, shows nothing, while a container stopped,
exited, removed, changed or running another image shows as drift that `up` repairs: a stopped one
is started again, anything else is replaced.

Before the old container of a replacement is removed, the new one's host ports are checked: a port
another program took fails the preview and the update with the port and its declaration key, and
the running stack keeps running. Secret variables are secret outputs; their values are cut out of
any container log line quoted in an error.
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable
from typing import Any

import pulumi
from docker.errors import NotFound
from docker.models.containers import Container as EngineContainer
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from ...errors import ContainerUnhealthy, DockerRefused, PortInUse
from ..client import port_is_free, ports_published_by
from .base import UNKNOWN, DockerProvider, changed_keys, ours, say

NANOSECONDS = 1_000_000_000
POLL_SECONDS = 0.5
SAY_EVERY_SECONDS = 15
STOP_SECONDS = 10
LOG_LINES = 8  # of an unhealthy container's output, in its one-line error
ENGINE_SETTINGS = (
    "name",
    "image",
    "command",
    "env",
    "healthcheck",
    "restart",
    "network",
    "aliases",
    "ports",
    "labels",
    "volumes",
    "uploads",
)
RUNNING = "running"
UNLESS_STOPPED = {"policy": "unless-stopped", "max_retries": 0}  # what the stack's own parts run with
STATE_ONLY = ("wait_seconds", "waits_for", "declared_as", "secret_names")  # no change on the engine


def check_ports(props: dict[str, Any], held_by_old: Callable[[], set[int]] = set) -> None:
    """Every host port the container publishes is free, or held by the container it replaces (asked
    of the engine only for a port that is not free)."""
    declared = props.get("declared_as") or {}
    for binding in props.get("ports") or []:
        port, ip = int(binding["external"]), binding["ip"]
        if port_is_free(port, ip) or port in held_by_old():
            continue
        key = (declared.get("ports") or {}).get(str(port), "a host_port")
        where = f"{declared['file']} publishes it at mvs:environment.{key}" if declared.get("file") else key
        raise PortInUse(
            f"port {port} on {ip} is in use by another program; {where}. Nothing was changed: stop what uses it "
            f"(`ss -ltnp 'sport = :{port}'` shows it), or set {key} to a free port, then run up again"
        )


def upload_archive(uploads: list[dict[str, Any]]) -> bytes:
    """The declared files as one tar to extract at /: each at its absolute path, with its numeric
    owner, group and mode (a name would be resolved here, which says nothing of the image)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            data = str(upload["content"]).encode()
            member = tarfile.TarInfo(str(upload["path"]).lstrip("/"))
            member.size = len(data)
            member.mode = int(str(upload.get("mode") or "0644"), 8)
            member.uid = int(upload.get("owner") or 0)
            member.gid = int(upload.get("group") or 0)
            member.mtime = int(time.time())
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def engine_healthcheck(check: dict[str, Any]) -> dict[str, Any]:
    return {
        "test": list(check["test"]),
        "interval": int(check["interval_seconds"]) * NANOSECONDS,
        "timeout": int(check["timeout_seconds"]) * NANOSECONDS,
        "retries": int(check["retries"]),
        "start_period": int(check["start_period_seconds"]) * NANOSECONDS,
    }


def engine_restart(restart: dict[str, Any]) -> dict[str, Any]:
    return {"Name": restart["policy"], "MaximumRetryCount": int(restart["max_retries"])}


def observed(attrs: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """What the engine runs, in the form the declaration gives it: equal to `props` when nothing
    changed. Only declared things are compared: the image's own variables, labels and volumes, and
    the aliases Docker adds, are left out."""
    config, host = attrs.get("Config") or {}, attrs.get("HostConfig") or {}
    state = attrs.get("State") or {}
    seen: dict[str, Any] = {
        "name": attrs.get("Name", "").lstrip("/"),
        "image": attrs.get("Image"),
        "running": bool(state.get("Running")) and not state.get("Paused"),
    }
    if props.get("command") is not None:
        seen["command"] = config.get("Cmd")
    env = {entry.partition("=")[0]: entry for entry in config.get("Env") or []}
    seen["env"] = [env.get(entry.partition("=")[0], "") for entry in props.get("env") or []]
    check = config.get("Healthcheck")
    if props.get("healthcheck") is not None:
        seen["healthcheck"] = check and {
            "test": check.get("Test"),
            "interval_seconds": int(check.get("Interval", 0)) // NANOSECONDS,
            "timeout_seconds": int(check.get("Timeout", 0)) // NANOSECONDS,
            "retries": int(check.get("Retries", 0)),
            "start_period_seconds": int(check.get("StartPeriod", 0)) // NANOSECONDS,
        }
    policy = host.get("RestartPolicy") or {}
    seen["restart"] = {"policy": policy.get("Name") or "no", "max_retries": int(policy.get("MaximumRetryCount") or 0)}
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    endpoint = networks.get(props.get("network")) or {}
    seen["network"] = props.get("network") if endpoint else next(iter(networks), None)
    seen["aliases"] = [alias for alias in props.get("aliases") or [] if alias in (endpoint.get("Aliases") or [])]
    seen["ports"] = sorted(
        (
            {"internal": int(spec.split("/")[0]), "external": int(b["HostPort"]), "ip": b.get("HostIp") or "0.0.0.0"}
            for spec, bindings in (host.get("PortBindings") or {}).items()
            for b in bindings or []
        ),
        key=lambda p: (p["internal"], p["external"]),
    )
    labels = config.get("Labels") or {}
    seen["labels"] = {key: labels.get(key) for key in props.get("labels") or {}}
    paths = {volume["path"] for volume in props.get("volumes") or []}
    seen["volumes"] = [
        {"volume": mount.get("Name"), "path": mount.get("Destination")}
        for mount in attrs.get("Mounts") or []
        if mount.get("Type") == "volume" and mount.get("Destination") in paths
    ]
    seen["volumes"].sort(key=lambda v: [x["path"] for x in props.get("volumes") or []].index(v["path"]))
    return seen


def redact(text: str, props: dict[str, Any]) -> str:
    """`text` without the values of the container's secret variables."""
    secret_names = set(props.get("secret_names") or [])
    for entry in props.get("env") or []:
        name, _, value = str(entry).partition("=")
        if name in secret_names and len(value) >= 4:
            text = text.replace(value, "[secret]")
    return text


def health_of(container: EngineContainer) -> tuple[str, str]:
    """(status, what the last check printed): `healthy`, `starting`, `unhealthy`, or the container's
    own state when it is not running."""
    state = container.attrs["State"]
    health = state.get("Health") or {}
    last = (health.get("Log") or [{}])[-1].get("Output", "").strip()
    if state.get("Restarting") or not state.get("Running"):
        return state.get("Status", "exited"), last
    return health.get("Status", "running"), last


def wait_healthy(container: EngineContainer, props: dict[str, Any]) -> None:
    """Until the container is healthy (or merely running, without a health check). Anything else
    after `wait_seconds`, or a container that stopped for good, is ContainerUnhealthy."""
    name, seconds = props["name"], int(props.get("wait_seconds") or 60)
    checked = props.get("healthcheck") is not None
    what = props.get("waits_for") or ("its health check" if checked else "it to run")
    say(f"{name}: waits up to {seconds} s for {what}")
    started = time.monotonic()
    said = started
    gives_up = props["restart"]["policy"] == "no"
    while True:
        container.reload()
        status, last = health_of(container)
        if status == "healthy" or (not checked and status == "running"):
            say(f"{name} is {'healthy' if checked else 'running'} after {time.monotonic() - started:.0f} s")
            return
        over = time.monotonic() - started > seconds
        if over or (status in ("exited", "dead") and gives_up):
            raise ContainerUnhealthy(unhealthy_message(container, props, status, last, seconds))
        if time.monotonic() - said >= SAY_EVERY_SECONDS:
            said = time.monotonic()
            say(f"{name}: {status} after {said - started:.0f} s of {seconds} s")
        time.sleep(POLL_SECONDS)


def unhealthy_message(container: EngineContainer, props: dict[str, Any], status: str, last: str, seconds: int) -> str:
    lines = container.logs(tail=LOG_LINES).decode(errors="replace").splitlines()
    logs = " | ".join(line.strip() for line in lines if line.strip()) or "(none)"
    detail = f"; its last check said: {last}" if last else ""
    exit_code = container.attrs["State"].get("ExitCode")
    ended = f" (exit code {exit_code})" if status in ("exited", "dead") else ""
    message = (
        f"container {props['name']} did not become healthy within {seconds} s: it is {status}{ended}{detail}; "
        f"its last log lines: {logs}. It was removed; fix the cause, then run up again"
    )
    return redact(message, props)


class ContainerProvider(DockerProvider):
    inputs = (*ENGINE_SETTINGS, RUNNING, *STATE_ONLY)
    replace_on = ENGINE_SETTINGS
    delete_before_replace = True  # its name and host ports can be held by one container at a time

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        if result.replaces and news.get("ports") != UNKNOWN:
            check_ports(news, lambda: self._published_by(id_, news))
        return result

    def _published_by(self, id_: str, props: dict[str, Any]) -> set[int]:
        """The ports the replace frees: the old container's, and those of a container of the same
        name and stack that an interrupted run left (the create removes it first)."""
        held: set[int] = set()
        with self.engine() as client:
            for key in (id_, props["name"]):
                try:
                    found = client.containers.get(key)
                except NotFound:
                    continue
                if found.id == id_ or ours(found.labels, props.get("labels") or {}):
                    held |= ports_published_by(found.attrs)
        return held

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.engine() as client:
            self._clear_leftover(client, props)
            check_ports(props)
            container = self._make(client, props)
            return CreateResult(container.id, {**props, RUNNING: True})

    def _clear_leftover(self, client, props: dict[str, Any]) -> None:
        """A container of this name that an interrupted run made (same stack labels) is removed
        first; one that is not this stack's stops the create with its name."""
        try:
            found = client.containers.get(props["name"])
        except NotFound:
            return
        if not ours(found.labels, props.get("labels") or {}):
            raise DockerRefused(
                f"a container named {props['name']} exists and is not this stack's (its labels differ); nothing was "
                "changed: remove or rename it, then run up again"
            )
        say(f"{props['name']}: removing the container an interrupted run left, to make it anew")
        found.remove(force=True)

    def _make(self, client, props: dict[str, Any]) -> EngineContainer:
        network = props["network"]
        container = client.containers.create(
            props["image"],
            command=props.get("command"),
            name=props["name"],
            environment=list(props.get("env") or []),
            healthcheck=engine_healthcheck(props["healthcheck"]) if props.get("healthcheck") else None,
            restart_policy=engine_restart(props["restart"]),
            network=network,
            networking_config={network: client.api.create_endpoint_config(aliases=list(props.get("aliases") or []))},
            ports={f"{int(p['internal'])}/tcp": (p["ip"], int(p["external"])) for p in props.get("ports") or []},
            labels=dict(props.get("labels") or {}),
            volumes={v["volume"]: {"bind": v["path"], "mode": "rw"} for v in props.get("volumes") or []},
        )
        try:
            if props.get("uploads") and not container.put_archive("/", upload_archive(props["uploads"])):
                raise DockerRefused(f"the engine refused the files for {props['name']}; run up again")
            container.start()
            wait_healthy(container, props)
        except BaseException:
            container.remove(force=True)  # nothing half made is left behind, and the name is free again
            raise
        return container

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.engine() as client:
            try:
                container = client.containers.get(id_)
            except NotFound:
                name = props.get("name", id_)
                say(f"container {name} is gone from the engine (removed outside this stack): up makes it again")
                return ReadResult(None, {})
            seen = observed(container.attrs, props)
        if not seen[RUNNING]:
            state = container.attrs.get("State") or {}
            was = f"{state.get('Status')} (exit code {state.get('ExitCode')})"
            say(f"container {seen['name']} is {was}: up starts it again")
        drifted = changed_keys(props, {**props, **seen}, ENGINE_SETTINGS)
        if drifted:
            say(f"container {seen['name']} differs from its declaration in {', '.join(drifted)}: up replaces it")
        return ReadResult(id_, {**props, **seen})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Only a stopped container and the settings kept in the state get here (the rest replaces)."""
        if not olds.get(RUNNING, True):
            with self.engine() as client:
                container = client.containers.get(id_)
                container.start()
                wait_healthy(container, news)
        return UpdateResult({**news, RUNNING: True})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.engine() as client:
            try:
                container = client.containers.get(id_)
            except NotFound:
                return
            container.stop(timeout=STOP_SECONDS)
            container.remove(force=True)


class Container(Resource, module="docker", name="Container"):
    """One container. `secret_names`: which of `env` hold a secret (then the variables are a secret
    output: encrypted in the state, never shown in a preview); `secret_files`: the same for `uploads`."""

    name: pulumi.Output[str]
    image: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        image: pulumi.Input[str],
        network: pulumi.Input[str],
        aliases: list[str],
        labels: dict[str, str],
        healthcheck: dict[str, Any],
        restart: dict[str, Any],
        wait_seconds: int,
        waits_for: str,
        command: list[str] | None = None,
        env: pulumi.Input[list[str]] | None = None,
        ports: list[dict[str, Any]] | None = None,
        volumes: list[dict[str, pulumi.Input[str]]] | None = None,
        uploads: pulumi.Input[list[dict[str, Any]]] | None = None,
        declared_as: dict[str, Any] | None = None,
        secret_names: list[str] | None = None,
        secret_files: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "name": name,
            "image": image,
            "command": command,
            "env": env or [],
            "healthcheck": healthcheck,
            "restart": restart,
            "network": network,
            "aliases": aliases,
            "ports": sorted(ports or [], key=lambda p: (p["internal"], p["external"])),
            "labels": labels,
            "volumes": volumes or [],
            "uploads": uploads or [],
            RUNNING: True,
            "wait_seconds": wait_seconds,
            "waits_for": waits_for,
            "declared_as": declared_as,
            "secret_names": sorted(secret_names or []),
        }
        secret_outputs = [*(["env"] if secret_names else []), *(["uploads"] if secret_files else [])]
        secret = pulumi.ResourceOptions(additional_secret_outputs=secret_outputs)
        super().__init__(ContainerProvider(), resource_name, props, pulumi.ResourceOptions.merge(secret, opts))
