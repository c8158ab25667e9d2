"""A volume mounted into one service in one environment (Postgres keeps its data here).

Railway sizes volumes through an environment patch and never shrinks them, so a smaller size is
refused before anything is sent.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from ...errors import MvsError, RailwayError, RailwayNotFound
from .base import RailwayProvider, pick


class VolumeCannotShrink(MvsError):
    """Railway volumes only grow."""


class VolumeProvider(RailwayProvider):
    inputs = ("project_id", "environment_id", "service_id", "mount_path", "size_mb")
    replace_on = ("project_id", "environment_id", "service_id")

    def _instance(self, client, environment_id: str, match) -> dict[str, Any] | None:
        edges = client.execute("environmentVolumes", {"id": environment_id})["environment"]["volumeInstances"]["edges"]
        return next((e["node"] for e in edges if match(e["node"])), None)

    def _resize(self, client, props: dict[str, Any], volume_id: str, current_mb: int) -> int:
        wanted = int(props["size_mb"])
        if wanted < current_mb:
            raise VolumeCannotShrink(
                f"volume {volume_id} is {current_mb} MB and Railway volumes cannot shrink; "
                f"declare at least {current_mb} MB (database.volume_size_gb)"
            )
        if wanted > current_mb:
            client.execute(
                "environmentPatchCommit",
                {
                    "environmentId": props["environment_id"],
                    "patch": {"volumes": {volume_id: {"sizeMB": wanted}}},
                    "commitMessage": "mvs: resize volume",
                },
            )
        return wanted

    def _outputs(self, props: dict[str, Any], instance: dict[str, Any], size_mb: int) -> dict[str, Any]:
        return {
            **pick(props, self.inputs),
            "size_mb": size_mb,
            "volume_id": instance["volumeId"],
            "volume_instance_id": instance["id"],
            "mount_path": instance["mountPath"],
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        def ours(node: dict[str, Any]) -> bool:
            return node["serviceId"] == props["service_id"] and node["mountPath"] == props["mount_path"]

        create_input = {
            "projectId": props["project_id"],
            "environmentId": props["environment_id"],
            "serviceId": props["service_id"],
            "mountPath": props["mount_path"],
        }
        with self.client() as client:
            try:
                created = client.execute("volumeCreate", {"input": create_input})["volumeCreate"]
                edges = created["volumeInstances"]["edges"]
                instance = next(
                    (e["node"] for e in edges if e["node"]["environmentId"] == props["environment_id"]), None
                )
            except RailwayError:
                # The answer was lost, or the service already has its volume (an earlier run that
                # never got recorded): adopt the volume that is there rather than fail or make another.
                instance = self._instance(client, props["environment_id"], ours)
                if instance is None:
                    raise
            if instance is None:
                raise MvsError(f"Railway made no volume for service {props['service_id']}; run up again")
            size = self._resize(client, props, instance["volumeId"], instance["sizeMB"])
        return CreateResult(instance["volumeId"], self._outputs(props, instance, size))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client() as client:
            instance = self._instance(client, news["environment_id"], lambda node: node["volumeId"] == id_)
            if instance is None:
                raise RailwayNotFound("Volume not found", "environmentVolumes")
            if instance["mountPath"] != news["mount_path"]:
                client.execute(
                    "volumeInstanceUpdate",
                    {
                        "volumeId": id_,
                        "environmentId": news["environment_id"],
                        "input": {"mountPath": news["mount_path"]},
                    },
                )
                instance = {**instance, "mountPath": news["mount_path"]}
            size = self._resize(client, news, id_, instance["sizeMB"])
        return UpdateResult(self._outputs(news, instance, size))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            with self.client() as client:
                instance = self._instance(client, props["environment_id"], lambda node: node["volumeId"] == id_)
        except RailwayNotFound:
            instance = None
        if instance is None:
            return ReadResult(None, {})
        outs = self._outputs({**props, "service_id": instance["serviceId"]}, instance, instance["sizeMB"])
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        self.delete_quietly("volumeDelete", {"volumeId": id_})


class Volume(Resource, module="railway", name="Volume"):
    volume_id: pulumi.Output[str]
    volume_instance_id: pulumi.Output[str]
    size_mb: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        project_id: pulumi.Input[str],
        environment_id: pulumi.Input[str],
        service_id: pulumi.Input[str],
        mount_path: str,
        size_mb: int,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "mount_path": mount_path,
            "size_mb": size_mb,
            "volume_id": None,
            "volume_instance_id": None,
        }
        super().__init__(VolumeProvider(), name, props, opts)
