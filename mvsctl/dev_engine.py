"""What `./mvs` asks the local Docker engine about a dev stack, around `pulumi up` and `destroy`.

The providers (components/local/providers/) repair what they find on the engine; two things a
developer runs into are handled here as well, with the Docker SDK, before or after Pulumi runs:
- a port the stack publishes on 127.0.0.1 that another program holds: found before anything is
  created or previewed, and named with the declaration key that sets it;
- the data and backup volumes a destroy keeps: named after the destroy, or removed on request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from components.errors import DockerUnavailable, PortInUse
from components.local.client import engine as engine_client
from components.local.client import port_is_free, ports_published_by
from components.local.volumes import kept_volumes
from components.spec import EnvironmentSpec, published_ports

from .docker_engine import docker_host, unreachable_message, unreachable_reason

STACK_LABEL = "com.mvs.stack"
LOOPBACK = "127.0.0.1"


def engine_answers() -> bool:
    return unreachable_reason(docker_host()) is None


@contextmanager
def connected() -> Iterator[docker.DockerClient]:
    """A client for the block; no engine, or a refusal, is one line (DockerUnavailable, DockerRefused)."""
    host = docker_host()
    reason = unreachable_reason(host)
    if reason:
        raise DockerUnavailable(unreachable_message(host, reason).replace("\n", " "))
    with engine_client(host) as client:
        yield client


def stack_containers(client: docker.DockerClient, stack: str) -> list[Container]:
    """Every container of the stack, running or not, by its labels."""
    return client.containers.list(all=True, filters={"label": f"{STACK_LABEL}={stack}"})


def service_of(container: Container, stack: str) -> str:
    """`mvs-dev-backend` -> `backend` (the database, backup and monitoring containers too)."""
    prefix = f"mvs-{stack}-"
    return container.name[len(prefix) :] if container.name.startswith(prefix) else container.name


def ports_held_by(containers: list[Container]) -> set[int]:
    held: set[int] = set()
    for container in containers:
        held |= ports_published_by(container.attrs)
    return held


def check_ports(stack: str, spec: EnvironmentSpec, file: str, containers: list[Container]) -> None:
    """Every port the declaration publishes is free, or already published by this stack."""
    ours = ports_held_by(containers)
    for key, port in published_ports(spec):
        if port in ours or port_is_free(port):
            continue
        raise PortInUse(
            f"port {port} on {LOOPBACK} is in use by another program; {file} publishes it at "
            f"mvs:environment.{key}. Nothing was changed: stop what uses it (`ss -ltnp 'sport = :{port}'` "
            f"shows it), or set {key} to a free port, then run ./mvs up {stack} again"
        )


def prepare_up(stack: str, spec: EnvironmentSpec, file: str) -> None:
    """Before `pulumi up` of a local stack: the engine answers and the published ports are free."""
    with connected() as client:
        check_ports(stack, spec, file, stack_containers(client, stack))


def kept_data(client: docker.DockerClient, stack: str) -> dict[str, str]:
    """The stack's data volumes that exist on the engine, with what each holds."""
    present = {}
    for name, holds in kept_volumes(stack).items():
        try:
            client.volumes.get(name)
        except NotFound:
            continue
        present[name] = holds
    return present


def after_destroy(stack: str, delete_data: bool, say: Callable[[str], None]) -> bool:
    """Name the volumes a destroy kept, or remove them when asked to. False when one that was to
    be removed could not be (it is then kept, and said so)."""
    removed_all = True
    with connected() as client:
        kept = kept_data(client, stack)
        for name, holds in kept.items():
            if delete_data:
                try:
                    client.volumes.get(name).remove()
                except APIError as error:
                    removed_all = False
                    say(
                        f"kept docker volume {name} ({holds}): the engine refused to delete it "
                        f"({error.explanation or error}); `docker ps -a --filter volume={name}` shows what uses it; "
                        f"remove that, then run ./mvs destroy {stack} --delete-data again"
                    )
                    continue
                say(f"deleted docker volume {name} ({holds}), as --delete-data asked")
            else:
                say(
                    f"kept docker volume {name} ({holds}): the next ./mvs up {stack} uses it again; "
                    f"./mvs destroy {stack} --delete-data removes it"
                )
    return removed_all
