"""The Docker engine the dev target runs on, through the Docker SDK for Python.

One place decides which engine is meant (`docker:host` in the stack's config, else DOCKER_HOST,
else the default socket, as the docker CLI does) and turns what the SDK raises into this
project's one-line errors: no engine answering is DockerUnavailable (start one, run again), a
request the engine refuses is DockerRefused with the engine's own explanation. Nothing here knows
Pulumi: the providers and `./mvs` both use it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException

from ..errors import DockerRefused, DockerUnavailable

DEFAULT_HOST = "unix:///var/run/docker.sock"
HOST_CONFIG = "docker:host"  # the stack config key that names another engine
REQUEST_TIMEOUT_SECONDS = 300  # a build step or an image import may take minutes


def cache_root() -> Path:
    """Where this project keeps what it makes once per machine (as tools/setup and
    tools/docker-engine do): MVS_CACHE_DIR, default ~/.cache/mvs-infra."""
    root = os.environ.get("MVS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mvs-infra"
    )
    return Path(root)


def docker_host(configured: str | None = None) -> str:
    return configured or os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def why(error: BaseException) -> str:
    """The operating system's words under what the SDK raised (a missing socket, a refused
    connection), else the SDK's own."""
    seen: list[BaseException] = []
    found: BaseException | None = error
    while found is not None and found not in seen:
        seen.append(found)
        if isinstance(found, OSError) and found.strerror:
            return found.strerror
        found = (
            found.__cause__ or found.__context__ or next((a for a in found.args if isinstance(a, BaseException)), None)
        )
    return str(error)


def refused(error: APIError) -> str:
    """The engine's own words for a refusal, without the SDK's request URL."""
    return str(error.explanation or error).strip()


def port_is_free(port: int, ip: str = "127.0.0.1") -> bool:
    """Whether a program could listen on `ip`:`port` now (what the engine's port proxy will do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def ports_published_by(attrs: dict[str, Any]) -> set[int]:
    """The host ports a container publishes, from its inspection."""
    ports = set()
    for bindings in ((attrs.get("HostConfig") or {}).get("PortBindings") or {}).values():
        for binding in bindings or []:
            if str(binding.get("HostPort", "")).isdigit():
                ports.add(int(binding["HostPort"]))
    return ports


@contextmanager
def engine(host: str | None = None) -> Iterator[docker.DockerClient]:
    """A client for the block. An engine that does not answer, or refuses, is one line."""
    where = docker_host(host)
    try:
        client = docker.DockerClient(base_url=where, timeout=REQUEST_TIMEOUT_SECONDS)
        client.ping()
    except DockerException as error:
        raise DockerUnavailable(
            f"no Docker engine answers at {where} ({why(error)}); nothing was changed: start Docker "
            "(or point DOCKER_HOST at a running engine) and run again"
        ) from None
    try:
        yield client
    except APIError as error:
        raise DockerRefused(f"the Docker engine at {where} refused: {refused(error)}") from None
    finally:
        client.close()
