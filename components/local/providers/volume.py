"""A named volume: where the database, the backups and the monitoring history live on dev.

The components register volumes with `retain_on_delete`, so `./mvs destroy dev` forgets them and
the engine keeps them (components/local/volumes.py); this provider's delete runs only when a
volume is removed on purpose. A create that finds a volume of the same name adopts it: that is how
the next `up` finds the data a destroy kept. A volume removed by hand reads as gone, with the
warning that its data went with it, and `up` makes a new, empty one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pulumi
from docker.errors import NotFound
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import DockerRefused
from .base import DockerProvider, ours, say


class VolumeProvider(DockerProvider):
    inputs = ("name", "labels", "holds")
    replace_on = ("name",)
    delete_before_replace = True

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.engine() as client:
            try:
                found = client.volumes.get(props["name"])
            except NotFound:
                found = None
            if found is not None:
                if not ours(found.attrs.get("Labels"), props["labels"]):
                    raise DockerRefused(
                        f"docker volume {props['name']} exists and is not this stack's (its labels differ); "
                        "nothing was changed: rename or remove it, then run up again"
                    )
                say(f"docker volume {props['name']} ({props['holds']}) is there already: using it again")
                return CreateResult(found.name, dict(props))
            made = client.volumes.create(props["name"], labels=props["labels"])
            return CreateResult(made.name, dict(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.engine() as client:
            try:
                found = client.volumes.get(id_)
            except NotFound:
                say(
                    f"docker volume {id_} ({props.get('holds', 'data')}) is gone from the engine (removed outside "
                    "this stack): what it held is lost; up makes a new, empty one"
                )
                return ReadResult(None, {})
            return ReadResult(id_, {**props, "name": found.name})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(dict(news))  # labels and the description live in the state only

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self.engine() as client, contextlib.suppress(NotFound):
            client.volumes.get(id_).remove()


class Volume(Resource, module="docker", name="Volume"):
    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: str,
        labels: dict[str, str],
        holds: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(VolumeProvider(), resource_name, {"name": name, "labels": labels, "holds": holds}, opts)
