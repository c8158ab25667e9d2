"""ps, logs and restart for a stack on the local Docker engine (the dev stack).

The containers are found by the labels the stack gives them (`com.mvs.stack`), so these commands
need no Pulumi state and work while an `up` runs. A declared service (or monitoring part, when
monitoring is enabled) without a container is shown as missing, with the command that brings it back.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime

from docker.models.containers import Container

from components.errors import RestartFailed, UnknownService
from components.local.healthchecks import healthy_within_seconds
from components.local.monitoring import monitoring_parts
from components.spec import EnvironmentSpec

from ..dev_engine import connected, service_of, stack_containers
from . import log_lines
from .table import table

RELEASE_LABEL = "com.mvs.release"
RESTART_TIMEOUT_SECONDS = 10


def _by_service(containers: list[Container], stack: str) -> dict[str, Container]:
    return {service_of(c, stack): c for c in containers}


def _health(container: Container) -> str:
    health = container.attrs.get("State", {}).get("Health")
    return health.get("Status", "-") if health else "-"


def _state(container: Container) -> str:
    state = container.attrs.get("State", {})
    if state.get("Running"):
        restarts = container.attrs.get("RestartCount", 0)
        return f"running (restarted {restarts}x)" if restarts else "running"
    return f"{state.get('Status', 'stopped')} (exit code {state.get('ExitCode', '?')})"


def _image(container: Container, stack: str, declared: str | None) -> str:
    """The image's name as the stack gave it: an image built here carries `mvs-<stack>-<service>:…`
    and may carry other tags too (one given to push it, say); a pulled one, its declared name."""
    tags = sorted(container.image.tags) if container.image else []
    own = [tag for tag in tags if tag == declared or tag.startswith(f"mvs-{stack}-")]
    return (own or tags or [container.attrs.get("Image", "?")[:19]])[0]


def _urls(container: Container, service: str) -> str:
    scheme = "postgresql" if service == "database" else "http"
    urls = []
    for bindings in (container.attrs.get("HostConfig", {}).get("PortBindings") or {}).values():
        for binding in bindings or []:
            host = binding.get("HostIp") or "localhost"
            urls.append(f"{scheme}://{'localhost' if host == '127.0.0.1' else host}:{binding.get('HostPort')}")
    return " ".join(urls) or "-"


def _pick(containers: dict[str, Container], service: str, stack: str) -> Container:
    if service not in containers:
        known = ", ".join(sorted(containers)) or "none: the stack is not up"
        raise UnknownService(f"{stack} has no container for {service!r}; it has: {known}")
    return containers[service]


def ps(stack: str, spec: EnvironmentSpec) -> int:
    with connected() as client:
        containers = _by_service(stack_containers(client, stack), stack)
        rows = []
        for service, container in sorted(containers.items()):
            release = container.labels.get(RELEASE_LABEL, "-")
            rows.append(
                [
                    service,
                    _state(container),
                    _health(container),
                    _image(container, stack, spec.image_for(service)),
                    release,
                    _urls(container, service),
                ]
            )
        for service in sorted(set(spec.services).union(monitoring_parts(spec)) - set(containers)):
            rows.append([service, "missing", "-", "-", "-", f"./mvs up {stack} creates it"])
    print(table([["SERVICE", "STATE", "HEALTH", "IMAGE", "RELEASE", "URL"], *rows]))
    return 0


def logs(
    stack: str, spec: EnvironmentSpec, service: str | None, follow: bool, tail: int, since: datetime | None = None
) -> int:
    """Each container's lines with Docker's timestamps and a severity read from the line, merged as
    they come; `since` and `tail` go to the engine."""
    colour = log_lines.use_colour(sys.stdout)
    with connected() as client:
        containers = _by_service(stack_containers(client, stack), stack)
        chosen = [_pick(containers, service, stack)] if service else [containers[s] for s in sorted(containers)]
        if not chosen:
            raise UnknownService(f"{stack} has no containers: run ./mvs up {stack}")
        prefix = len(chosen) > 1
        width = max(len(service_of(c, stack)) for c in chosen)
        lines: queue.Queue[tuple[str, str] | None] = queue.Queue()
        readers = [
            threading.Thread(target=_read, args=(c, service_of(c, stack), follow, tail, since, lines.put), daemon=True)
            for c in chosen
        ]
        for reader in readers:
            reader.start()
        finished = 0
        try:
            while finished < len(readers):
                item = lines.get()
                if item is None:
                    finished += 1
                    continue
                name, line = item
                timestamp, _, message = line.partition(" ")  # Docker puts its RFC 3339 timestamp first
                level = log_lines.severity(None, message)
                print(log_lines.render(timestamp, level, message, name if prefix else None, width, colour), flush=True)
        except KeyboardInterrupt:
            return 130
    return 0


def _read(container: Container, name: str, follow: bool, tail: int, since: datetime | None, put: Callable) -> None:
    """One container's log lines (each starting with its timestamp) onto the shared queue, then
    None when its stream ends."""
    try:
        options = {"since": since} if since is not None else {}
        stream = container.logs(stream=True, follow=follow, tail=tail, timestamps=True, **options)
        pending = b""
        for chunk in stream:
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                put((name, line.decode(errors="replace")))
        if pending:
            put((name, pending.decode(errors="replace")))
    finally:
        put(None)


def restart(stack: str, spec: EnvironmentSpec, service: str) -> int:
    with connected() as client:
        container = _pick(_by_service(stack_containers(client, stack), stack), service, stack)
        deadline = _healthy_within(spec, service)
        print(f"restarting {service} ({container.name})")
        container.restart(timeout=RESTART_TIMEOUT_SECONDS)
        if not _has_healthcheck(container):
            print(f"{service} restarted (it has no health check to wait for)")
            return 0
        print(f"waiting up to {deadline} s for {service} to report healthy")
        status = _wait_healthy(container, deadline)
        if status != "healthy":
            raise RestartFailed(
                f"{service} was restarted but is {status} after {deadline} s; see ./mvs logs {stack} {service}"
            )
        print(f"{service} is healthy")
    return 0


def _has_healthcheck(container: Container) -> bool:
    return bool(container.attrs.get("Config", {}).get("Healthcheck"))


def _healthy_within(spec: EnvironmentSpec, service: str) -> int:
    """The declared service's own deadline (as `up` waits for it); the stack's own parts get 120 s."""
    declared = spec.services.get(service)
    return healthy_within_seconds(declared.health_check) if declared else 120


def _wait_healthy(container: Container, seconds: int) -> str:
    """The container's health once it is healthy, or what it was when `seconds` ran out."""
    end = time.monotonic() + seconds
    while True:
        container.reload()
        status = _health(container) if container.attrs.get("State", {}).get("Running") else _state(container)
        if status == "healthy" or time.monotonic() >= end:
            return status
        time.sleep(0.5)
