"""The stack's private bridge network: containers find each other on it by name and alias.

A network is found by its id; one removed by hand reads as gone, and `up` makes it again. A create
that finds a network of the same name with the stack's labels (left by an interrupted run) adopts
it instead of failing on the name.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from docker.errors import NotFound
from pulumi.dynamic import CreateResult, ReadResult, Resource

from ...errors import DockerRefused
from .base import DockerProvider, ours


class NetworkProvider(DockerProvider):
    inputs = ("name", "driver", "labels")
    replace_on = inputs
    delete_before_replace = True  # the name is the network's identity on the engine

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.engine() as client:
            for found in client.networks.list(names=[props["name"]]):
                if found.name != props["name"]:
                    continue
                if not ours(found.attrs.get("Labels"), props["labels"]):
                    raise DockerRefused(
                        f"docker network {props['name']} exists and is not this stack's (its labels differ): "
                        "remove it (`docker network rm`) or rename the stack, then run up again"
                    )
                return CreateResult(found.id, dict(props))
            made = client.networks.create(props["name"], driver=props["driver"], labels=props["labels"])
            return CreateResult(made.id, dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.engine() as client:
            try:
                found = client.networks.get(id_)
            except NotFound:
                return ReadResult(None, {})
            seen = {"name": found.name, "driver": found.attrs.get("Driver"), "labels": found.attrs.get("Labels") or {}}
            return ReadResult(id_, {**props, **seen})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self.engine() as client, contextlib.suppress(NotFound):
            client.networks.get(id_).remove()


class Network(Resource, module="docker", name="Network"):
    name: pulumi.Output[str]

    def __init__(
        self, resource_name: str, name: str, labels: dict[str, str], opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(NetworkProvider(), resource_name, {"name": name, "driver": "bridge", "labels": labels}, opts)
