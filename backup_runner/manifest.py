"""What a backup is: a dump object and a manifest written after it, which makes it good.

A dump without a manifest is incomplete and never restored or counted by retention. The manifest
records what `verify` later checks: the dump's size and sha256, and the row count of every table,
taken in the same snapshot as the dump.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

ID_FORMAT = "%Y%m%dT%H%M%SZ"
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
LAST_DRILL_KEY = "last-drill.json"  # the last verify's outcome, beside the backups


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backup_id: str
    database: str
    server_version: str
    format: str = "pg_dump -Fc"
    size_bytes: int
    sha256: str
    row_counts: dict[str, int]
    started_at: datetime
    finished_at: datetime
    status: str = "good"

    @property
    def taken_at(self) -> datetime:
        return parse_id(self.backup_id)


def new_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime(ID_FORMAT)


def parse_id(backup_id: str) -> datetime:
    return datetime.strptime(backup_id, ID_FORMAT).replace(tzinfo=UTC)


def dump_key(backup_id: str) -> str:
    return backup_id + DUMP_SUFFIX


def manifest_key(backup_id: str) -> str:
    return backup_id + MANIFEST_SUFFIX
