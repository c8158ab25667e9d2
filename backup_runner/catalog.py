"""What is in a destination, backup by backup: good, bad (with the reason) or incomplete.

"Good" means restorable as far as can be told without restoring: the manifest parses, the dump is
there with the manifest's size, and no drill has found it wanting. Everything else the runner
wrote is listed with what is wrong, and never stops the others from being listed, restored,
verified or pruned. Objects the runner did not write are not looked at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from .destinations import Destination, Leftover, Stored
from .manifest import (
    DUMP_SUFFIX,
    MANIFEST_SUFFIX,
    Manifest,
    dump_key,
    manifest_key,
    parse_id,
    split_key,
    verdict_key,
)

GOOD, BAD, INCOMPLETE = "good", "bad", "incomplete"


@dataclass
class Backup:
    backup_id: str
    state: str
    reason: str = ""
    manifest: Manifest | None = None
    dump: Stored | None = None

    @property
    def taken_at(self) -> datetime:
        """When it was started: the manifest's exact time, else the id's (to the second)."""
        return self.manifest.started_at if self.manifest else parse_id(self.backup_id)

    @property
    def keys(self) -> list[str]:
        """What deleting it removes, manifest first: a half-deleted backup is never good."""
        return [manifest_key(self.backup_id), dump_key(self.backup_id), verdict_key(self.backup_id)]


@dataclass
class Catalog:
    backups: list[Backup] = field(default_factory=list)  # newest first
    leftovers: list[Leftover] = field(default_factory=list)

    def in_state(self, state: str) -> list[Backup]:
        return [backup for backup in self.backups if backup.state == state]

    @property
    def good(self) -> list[Manifest]:
        return [backup.manifest for backup in self.in_state(GOOD)]


def _manifest(destination: Destination, backup_id: str) -> tuple[Manifest | None, str]:
    data = destination.read_if_present(manifest_key(backup_id))
    if data is None:
        return None, "its manifest vanished while listing"
    try:
        manifest = Manifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as error:
        first = str(error).splitlines()[0][:120]
        return None, f"its manifest cannot be read ({first})"
    if manifest.backup_id != backup_id:
        return None, f"its manifest names another backup ({manifest.backup_id})"
    return manifest, ""


def _failed_verdict(destination: Destination, backup_id: str) -> str:
    """Why a drill found this backup wanting, or "" (none did, or the last one passed)."""
    data = destination.read_if_present(verdict_key(backup_id))
    try:
        verdict = json.loads(data) if data else {}
        problems = [] if verdict.get("passed", True) else verdict.get("problems") or ["no reason recorded"]
    except (ValueError, AttributeError):
        return "its drill verdict cannot be read"
    return f"failed its drill at {verdict.get('at', '?')}: {problems[0]}" if problems else ""


def _classify(destination: Destination, backup_id: str, entries: dict[str, Stored]) -> Backup:
    dump = entries.get(dump_key(backup_id))
    if manifest_key(backup_id) not in entries:
        return Backup(backup_id, INCOMPLETE, "no manifest: the run did not finish", dump=dump)
    manifest, reason = _manifest(destination, backup_id)
    if manifest is None:
        return Backup(backup_id, BAD, reason, dump=dump)
    if manifest.status != GOOD:
        reason = f"its manifest says {manifest.status!r}"
    elif dump is None:
        reason = "its dump is missing"
    elif dump.size != manifest.size_bytes:
        reason = f"its dump is {dump.size} bytes, the manifest says {manifest.size_bytes}"
    elif verdict_key(backup_id) in entries:
        reason = _failed_verdict(destination, backup_id)
    return Backup(backup_id, BAD if reason else GOOD, reason, manifest, dump)


def read_unfinished(destination: Destination) -> Catalog:
    """Only what interrupted runs may have left (dumps without a manifest, leftovers): two
    listings and no manifest read, for the start of every run."""
    entries = destination.entries()
    ids = {parts[0] for key in entries if (parts := split_key(key)) and parts[1] == DUMP_SUFFIX}
    unfinished = [
        Backup(backup_id, INCOMPLETE, "no manifest: the run did not finish", dump=entries[dump_key(backup_id)])
        for backup_id in sorted(ids)
        if manifest_key(backup_id) not in entries
    ]
    return Catalog(unfinished, destination.leftovers())


def read_catalog(destination: Destination) -> Catalog:
    entries = destination.entries()
    ids = {parts[0] for key in entries if (parts := split_key(key)) and parts[1] in (DUMP_SUFFIX, MANIFEST_SUFFIX)}
    backups = [_classify(destination, backup_id, entries) for backup_id in ids]
    backups.sort(key=lambda backup: (backup.taken_at, backup.backup_id), reverse=True)
    return Catalog(backups, destination.leftovers())
