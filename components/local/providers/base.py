"""What every Docker dynamic provider shares: which engine, diffing, and telling the operator.

A provider object is pickled into the stack's state, so it holds nothing but the engine's
address, which `configure()` takes from stack config (`docker:host`) in each process; without it
DOCKER_HOST is used, as the docker CLI does. Each call opens its own client (client.py), so no
socket is ever pickled, and every error the engine answers with reaches the `pulumi` output as one
line (components/provider_process.py renders the project's errors).

Every resource these providers make carries the stack's labels (`com.mvs.stack`, ...), and a
create first looks for what an interrupted run made under the same name with the same labels:
it is adopted (networks, volumes) or replaced (containers), never made twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
from pulumi.dynamic import ConfigureRequest, DiffResult, ResourceProvider

from ...provider_process import prepare
from ..client import HOST_CONFIG, engine

prepare()  # this module is loaded into provider processes: see provider_process.py

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how a preview's unknown values reach diff()
STACK_LABEL = "com.mvs.stack"


class DockerProvider(ResourceProvider):
    """Base class: subclasses name their input keys and those that force a replacement."""

    inputs: tuple[str, ...] = ()
    replace_on: tuple[str, ...] = ()
    delete_before_replace = False

    def __init__(self) -> None:
        super().__init__()
        self._host: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._host = req.config.get(HOST_CONFIG) or None

    def __getstate__(self) -> dict[str, Any]:
        return {}  # nothing of this machine goes into the state: configure() sets it in each process

    def __setstate__(self, _state: dict[str, Any]) -> None:
        self._host = None

    @contextmanager
    def engine(self) -> Iterator[docker.DockerClient]:
        with engine(self._host) as client:
            yield client

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, self.inputs)
        replaces = [k for k in changed if k in self.replace_on]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=self.delete_before_replace)


def changed_keys(olds: dict[str, Any], news: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """Inputs whose new value differs from the old one (an unknown counts as a change)."""
    return [k for k in keys if news.get(k) == UNKNOWN or olds.get(k) != news.get(k)]


def ours(labels: dict[str, str] | None, wanted: dict[str, str]) -> bool:
    """Whether something found on the engine was made for the same stack (by its labels)."""
    found = labels or {}
    return bool(wanted.get(STACK_LABEL)) and found.get(STACK_LABEL) == wanted.get(STACK_LABEL)


def say(message: str) -> None:
    """Tell the operator: a provider's stderr reaches the `pulumi` output."""
    print(message, file=sys.stderr, flush=True)
