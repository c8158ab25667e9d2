"""A volume mounted into one service in one environment (Postgres keeps its data here).

Railway sizes volumes through an environment patch and never shrinks them. A resize is checked in
check(), so in preview and before anything is written: a size below the volume's size on Railway
(the last one written, or a larger one set in the dashboard) is refused with the declaration's key
and the least size allowed. check() also carries the volume's ids into the new inputs, which is
what the engine shows as a dynamic resource's outputs while it previews an update: so what hangs
off the volume (its backup schedules, protected on prod) stays known instead of looking replaced.
It carries the size it read there as well (`railway_size_mb`), for the policy that volumes never shrink.
"""

from __future__ import annotations

import math
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, Resource, UpdateResult

from ...errors import MvsError, RailwayError, RailwayNotFound, RailwayOutcomeUnknown
from . import made_here
from .base import UNKNOWN, RailwayProvider, changed_keys, create_or_adopt, pick, say
from .deployment import deploy_and_wait

MB_PER_GB = 1000  # Railway counts volume sizes in decimal megabytes


def lost_data(props: dict[str, Any], replaced_now: bool) -> str:
    """What an operator must hear when a volume vanished out of band: the data is gone, and how to
    get it back."""
    declared = props.get("declared_as") or {}
    where = f"the database volume of {declared['file']}" if declared.get("file") else "the volume"
    service = props.get("service_name") or props.get("service_id")
    where += f" (mounted at {props.get('mount_path')} of service {service})"
    remedy = (
        "a new, empty volume is now mounted and the service redeployed on it"
        if replaced_now
        else "`./mvs up <stack>` mounts a new, empty volume and redeploys the service on it"
    )
    return (
        f"railway: {where} is gone from Railway (deleted outside this stack): the data on it is lost. {remedy}; "
        "then restore the newest backup (README: Restoring in an incident)."
    )


class VolumeCannotShrink(MvsError):
    """Railway volumes only grow."""


def shrink_refused(declared_as: dict[str, Any] | None, wanted_mb: int, current_mb: int) -> str:
    """Why a size is refused, in the declaration's own terms: its file and key, what was found
    there and the least value allowed."""
    where = declared_as or {}
    key, unit_mb = where.get("key") or "size_mb", int(where.get("unit_mb") or 1)
    place = f"{where['file']}: {key}" if where.get("file") else key
    least = math.ceil(current_mb / unit_mb)
    return (
        f"{place}: found {wanted_mb / unit_mb:g}; allowed: {least} or more. The volume is {current_mb} MB on "
        f"Railway and Railway volumes never shrink; nothing was changed. Set {key} to at least {least}."
    )


class VolumeProvider(RailwayProvider):
    inputs = ("project_id", "environment_id", "service_id", "mount_path", "size_mb")
    replace_on = ("project_id", "environment_id", "service_id")

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Before an update of this volume (one read, no write): a size below the volume's size on
        Railway is refused, and the volume's ids go into the new inputs, so the preview keeps them."""
        # An unknown id here means a parent is being replaced (parents pass ids, which updates keep
        # known), so this volume is replaced too: a new one, nothing to check against.
        replaced = any(news.get(k) != olds.get(k) for k in self.replace_on)
        if not olds or replaced or not changed_keys(olds, news, self.inputs):
            return CheckResult(news, [])

        def ours(node: dict[str, Any]) -> bool:
            if olds.get("volume_id"):
                return node["volumeId"] == olds["volume_id"]
            return node["serviceId"] == olds["service_id"] and node["mountPath"] == olds["mount_path"]

        try:
            with self.client() as client:
                instance = self._instance(client, olds["environment_id"], ours)
        except RailwayError as error:
            reason = f"could not read the volume's size from Railway, so the change was not checked: {error}"
            return CheckResult(news, [CheckFailure("size_mb", reason)])
        if instance is None:
            return CheckResult(news, [])  # gone: update() says so
        # The size on Railway goes into the new inputs too: the one place a policy can see it.
        news = {**news, "railway_size_mb": instance["sizeMB"]}
        wanted = news.get("size_mb")
        if wanted != UNKNOWN and int(wanted) < instance["sizeMB"]:
            reason = shrink_refused(news.get("declared_as"), int(wanted), instance["sizeMB"])
            return CheckResult(news, [CheckFailure("size_mb", reason)])
        return CheckResult({**news, "volume_id": instance["volumeId"], "volume_instance_id": instance["id"]}, [])

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]):
        """A replacement makes a new, empty volume and deletes the old one with its data: the
        preview says so in words (and on prod, where the volume is protected, it cannot happen)."""
        result = super().diff(id_, olds, news)
        if result.replaces:
            declared = news.get("declared_as") or olds.get("declared_as") or {}
            where = f"the database volume of {declared['file']}" if declared.get("file") else f"volume {id_}"
            say(
                f"railway: WARNING: {where} would be REPLACED ({', '.join(result.replaces)} changes): a new, empty "
                "volume is made and the old one is deleted with all its data. Take a backup first "
                "(python -m backup_runner run), or keep the railway project and environment as they are."
            )
        return result

    def _instance(self, client, environment_id: str, match) -> dict[str, Any] | None:
        edges = client.execute("environmentVolumes", {"id": environment_id})["environment"]["volumeInstances"]["edges"]
        return next((e["node"] for e in edges if match(e["node"])), None)

    def _resize(self, client, props: dict[str, Any], volume_id: str, current_mb: int) -> int:
        wanted = int(props["size_mb"])
        if wanted < current_mb:
            raise VolumeCannotShrink(shrink_refused(props.get("declared_as"), wanted, current_mb))
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

            def adopt() -> tuple[dict[str, Any], bool] | None:
                found = self._instance(client, props["environment_id"], ours)
                return (found, False) if found is not None else None  # adopted: whatever is on it is still there

            def make() -> tuple[dict[str, Any] | None, bool]:
                try:
                    created = client.execute("volumeCreate", {"input": create_input})["volumeCreate"]
                except RailwayOutcomeUnknown:
                    raise  # the answer was lost: create_or_adopt adopts what it made, or asks again
                except RailwayError:
                    # Refused: the service has its volume already (an earlier run that never got
                    # recorded). It is adopted rather than the run failing.
                    adopted = adopt()
                    if adopted is None:
                        raise
                    return adopted
                edges = created["volumeInstances"]["edges"]
                environment = props["environment_id"]
                return next((e["node"] for e in edges if e["node"]["environmentId"] == environment), None), True

            instance, made_now = create_or_adopt(make, adopt)
            if instance is None:
                raise MvsError(f"Railway made no volume for service {props['service_id']}; run up again")
            size = self._resize(client, props, instance["volumeId"], instance["sizeMB"])
            if made_now and self._ran_before(client, props):
                # The service ran on a volume that is gone: it must be deployed again to mount this
                # one (its own Deployment resource sees no change of settings to deploy for).
                say(lost_data(props, replaced_now=True))
                scope = {"serviceId": props["service_id"], "environmentId": props["environment_id"]}
                name = props.get("service_name") or props["service_id"]
                deploy_and_wait(client, scope, name, self.watch(props["environment_id"]), self.poll_seconds)
        return CreateResult(instance["volumeId"], self._outputs(props, instance, size))

    @staticmethod
    def _ran_before(client, props: dict[str, Any]) -> bool:
        """The service has been deployed before: it ran on a volume that is gone now. A service this
        run made has not (made_here.py): its own Deployment, which waits for this volume, is its
        first, so nothing is read. Even a dashboard deploy in the seconds between would be followed
        by that one, on this volume."""
        if made_here.has_none_yet(props["service_id"], "deployment"):
            return False
        scope = {"serviceId": props["service_id"], "environmentId": props["environment_id"]}
        edges = client.execute("deployments", {"input": scope, "first": 1})["deployments"]["edges"]
        return bool(edges)

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
        snapshot = self.snapshot(props["environment_id"])
        found = snapshot.volume_instances if snapshot is not None else []
        instance = next((node for node in found if node["volumeId"] == id_), None)
        if instance is None:
            say(lost_data(props, replaced_now=False))
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
        declared_as: dict[str, Any] | None = None,
        service_name: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`declared_as` says where the size is declared, for messages: {"file", "key", "unit_mb"}
        (how many MB one unit of that key is). It is not diffed: moving a key changes nothing."""
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "mount_path": mount_path,
            "size_mb": size_mb,
            "declared_as": declared_as,
            "service_name": service_name,  # for messages only: not compared
            "volume_id": None,
            "volume_instance_id": None,
        }
        super().__init__(VolumeProvider(), name, props, opts)
