"""What a backup is: a dump object and a manifest written after it, which makes it good.

A dump without a manifest is incomplete and never restored or counted by retention. The manifest
records what `verify` later checks: the dump's size and sha256, and the row count of every table,
taken in the same snapshot as the dump.

Backup ids are the time the run started plus a random part, so two runs in the same second (on
one machine or two writing the same bucket) never share an id. Keys that are not a backup id (an
impossible date included) are not the runner's: it never reads, counts or deletes them. An id
says when a run started by its own clock; when a backup was really made comes from the
destination's clock (catalog.py).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from .fingerprint import Fingerprint

TIME_FORMAT = "%Y%m%dT%H%M%SZ"
# `20261128T031500Z-3f9a1c7e`; ids without the random part come from older runners.
ID_PATTERN = re.compile(r"\d{8}T\d{6}Z(?:-[0-9a-f]{8})?")
DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
VERDICT_SUFFIX = ".verdict.json"  # the last drill's verdict on this one backup
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
    # Since round two of trust (older manifests lack them; their drills compare row counts only):
    server: str | None = None  # host:port of the source, no credentials
    system_identifier: str | None = None  # the source cluster's, when its user may read it
    encoding: str | None = None  # the source database's, which the drill's copy takes
    database_size_bytes: int | None = None  # pg_database_size at the dump: the drill's room check
    roles: list[str] | None = None  # the source's roles, which the drill makes before restoring
    fingerprint: Fingerprint | None = None  # content and schema in the dump's snapshot

    @property
    def source(self) -> tuple[str, str]:
        """Which cluster and database it came from: retention counts per source."""
        return (self.system_identifier or self.server or "", self.database)

    @property
    def server_major(self) -> int:
        digits = self.server_version.split(".")[0].split()[0]
        return int(digits) if digits.isdigit() else 0


def new_id(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)).strftime(TIME_FORMAT)}-{secrets.token_hex(4)}"


def parse_id(backup_id: str) -> datetime:
    return datetime.strptime(backup_id[:16], TIME_FORMAT).replace(tzinfo=UTC)


def is_id(name: str) -> bool:
    """The shape of a backup id and a date that exists (`20261399T...` has the shape only)."""
    if not ID_PATTERN.fullmatch(name):
        return False
    try:
        parse_id(name)
    except ValueError:
        return False
    return True


def split_key(key: str) -> tuple[str, str] | None:
    """(backup id, suffix) for a key the runner writes; None for anything else."""
    for suffix in SUFFIXES:
        if key.endswith(suffix) and is_id(key.removesuffix(suffix)):
            return key.removesuffix(suffix), suffix
    return None


def looks_like_a_backup(key: str) -> bool:
    """A key with a backup's suffix that is not one of the runner's: `list` names it as foreign."""
    return split_key(key) is None and key.endswith(SUFFIXES) and not key.startswith(".") and "/" not in key


def database_safe(backup_id: str) -> str:
    """The id as it appears in database names: lower case, no dashes."""
    return backup_id.lower().replace("-", "_")


def dump_key(backup_id: str) -> str:
    return backup_id + DUMP_SUFFIX


def manifest_key(backup_id: str) -> str:
    return backup_id + MANIFEST_SUFFIX


def verdict_key(backup_id: str) -> str:
    return backup_id + VERDICT_SUFFIX
