"""Railway's own backups of a volume: which of the DAILY, WEEKLY and MONTHLY schedules are on.

Railway takes the whole list at once, so create and update send the declared list, delete sends
an empty one, and read() reports the schedules Railway has, so a change in the dashboard shows
on refresh.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from .base import RailwayProvider, pick


class BackupSchedulesProvider(RailwayProvider):
    inputs = ("volume_instance_id", "kinds")
    replace_on = ("volume_instance_id",)

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        kinds = sorted(props.get("kinds") or [])
        self.call(
            "volumeInstanceBackupScheduleUpdate", {"volumeInstanceId": props["volume_instance_id"], "kinds": kinds}
        )
        return self._outputs(
            props, self.call("volumeInstanceBackupScheduleList", {"volumeInstanceId": props["volume_instance_id"]})
        )

    def _outputs(self, props: dict[str, Any], schedules: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            **pick(props, self.inputs),
            "kinds": sorted(s["kind"] for s in schedules),
            "schedules": [
                {"kind": s["kind"], "cron": s["cron"], "retention_seconds": s["retentionSeconds"]}
                for s in sorted(schedules, key=lambda s: s["kind"])
            ],
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['volume_instance_id']}:backups", self._apply(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        schedules = self.lookup("volumeInstanceBackupScheduleList", {"volumeInstanceId": props["volume_instance_id"]})
        if schedules is None:
            return ReadResult(None, {})
        outs = self._outputs(props, schedules)
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.delete_quietly(
            "volumeInstanceBackupScheduleUpdate", {"volumeInstanceId": props["volume_instance_id"], "kinds": []}
        )


class BackupSchedules(Resource, module="railway", name="BackupSchedules"):
    schedules: pulumi.Output[list]

    def __init__(self, name: str, volume_instance_id: pulumi.Input[str], kinds: list[str], opts=None):
        props = {"volume_instance_id": volume_instance_id, "kinds": sorted(kinds), "schedules": None}
        super().__init__(BackupSchedulesProvider(), name, props, opts)
