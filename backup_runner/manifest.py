"""What a backup is: a dump object and a manifest written after it, which makes it good.

A dump without a manifest is incomplete and never restored or counted by retention. The manifest
records what `verify` later checks: the dump's size and sha256, and the row count of every table,
taken in the same snapshot as the dump.

Backup ids are the time the run started plus a random part, so two runs in the same second (on
one machine or two writing the same bucket) never share an id. Keys that do not have the shape of
a backup id are not the runner's: it never reads, counts or deletes them.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

TIME_FORMAT = "%Y%m%dT%H%M%SZ"
# `20261128T031500Z-3f9a1c7e`; ids without the random part come from older runners.
ID_PATTERN = re.compile(r"\d{8}T\d{6}Z(?:-[0-9a-f]{8})?")
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
VERDICT_SUFFIX = ".verdict.json"  # the last drill's verdict on this one backup
LAST_DRILL_KEY = "last-drill.json"  # the last verify's outcome, beside the backups
SUFFIXES = (DUMP_SUFFIX, MANIFEST_SUFFIX, VERDICT_SUFFIX)


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
    return f"{(now or datetime.now(UTC)).strftime(TIME_FORMAT)}-{secrets.token_hex(4)}"


def parse_id(backup_id: str) -> datetime:
    return datetime.strptime(backup_id[:16], TIME_FORMAT).replace(tzinfo=UTC)


def split_key(key: str) -> tuple[str, str] | None:
    """(backup id, suffix) for a key the runner writes; None for anything else."""
    for suffix in SUFFIXES:
        if key.endswith(suffix) and ID_PATTERN.fullmatch(key.removesuffix(suffix)):
            return key.removesuffix(suffix), suffix
    return None


def database_safe(backup_id: str) -> str:
    """The id as it appears in database names: lower case, no dashes."""
    return backup_id.lower().replace("-", "_")


def dump_key(backup_id: str) -> str:
    return backup_id + DUMP_SUFFIX


def manifest_key(backup_id: str) -> str:
    return backup_id + MANIFEST_SUFFIX


def verdict_key(backup_id: str) -> str:
    return backup_id + VERDICT_SUFFIX
