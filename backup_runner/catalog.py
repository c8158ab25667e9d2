"""What is in a destination, backup by backup: verified, unverified, bad (with the reason) or
incomplete, and what it holds that is not the runner's.

- `verified`: its last drill restored it and found the source's content and schema (drills.py),
  and the dump is still the one that drill restored. Only this is proven restorable.
- `unverified`: complete (manifest written after the dump was read back whole, the dump there with
  the manifest's size) but no drill has passed on it yet. Never called good.
- `bad`: the manifest cannot be read or names another backup, the dump is missing or has another
  size, or a drill found it wanting. `incomplete`: no manifest, the run did not finish.

When a backup was made comes from the destination's clock, not from its name: a backup is as old as
its id only when the destination stored its manifest no earlier than that; one whose id is dated
after that (or after now), beyond FUTURE_SKEW, is flagged and dated by the destination instead. A
flagged backup is listed and can be chosen by id, but is never chosen by default for restore or
drill, and never counted or deleted by retention. Every backup says which server and database it
came from, and retention counts per source.

A bad backup never stops the others from being listed, restored, verified or pruned. Objects the
runner did not write are never read, counted or deleted; those that look like a backup but are
not (an impossible date) are listed as foreign.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from .destinations import Destination, Leftover, Stored
from .manifest import (
    DUMP_SUFFIX,
    MANIFEST_SUFFIX,
    Manifest,
    dump_key,
    looks_like_a_backup,
    manifest_key,
    parse_id,
    split_key,
    verdict_key,
)

VERIFIED, UNVERIFIED, BAD, INCOMPLETE = "verified", "unverified", "bad", "incomplete"
RESTORABLE = (VERIFIED, UNVERIFIED)
FUTURE_SKEW = timedelta(minutes=5)  # clocks disagree by this much without anyone being wrong


@dataclass
class Backup:
    backup_id: str
    state: str
    reason: str = ""
    manifest: Manifest | None = None
    dump: Stored | None = None
    stored_at: datetime | None = None  # when the destination stored its manifest (else its dump)
    flag: str = ""  # why its date is not to be believed

    @property
    def named_at(self) -> datetime:
        """The time its id gives, to the microsecond when its manifest's start agrees with the id."""
        named = parse_id(self.backup_id)
        started = self.manifest.started_at if self.manifest else None
        return started if started and timedelta(0) <= started - named < timedelta(seconds=1) else named

    @property
    def taken_at(self) -> datetime:
        """When it was really made: its id's time (the run's start) when the destination stored it no
        earlier than that; otherwise, and for a flagged backup, the destination's time."""
        if self.stored_at is None or (not self.flag and self.named_at <= self.stored_at + FUTURE_SKEW):
            return self.named_at
        return self.stored_at

    @property
    def keys(self) -> list[str]:
        """What deleting it removes, manifest first: a half-deleted backup is never restorable."""
        return [manifest_key(self.backup_id), dump_key(self.backup_id), verdict_key(self.backup_id)]

    @property
    def source(self) -> tuple[str, str]:
        return self.manifest.source if self.manifest else ("", "")

    @property
    def restorable(self) -> bool:
        return self.state in RESTORABLE

    @property
    def drillable(self) -> bool:
        """Complete, whatever a drill said of it: `verify --backup ID` may drill it again."""
        m = self.manifest
        return m is not None and m.status == "good" and self.dump is not None and self.dump.size == m.size_bytes

    @property
    def choosable(self) -> bool:
        """May be picked by default (restore, drill): restorable and dated believably."""
        return self.restorable and not self.flag


@dataclass
class Catalog:
    backups: list[Backup] = field(default_factory=list)  # newest first (by taken_at)
    leftovers: list[Leftover] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # keys that look like backups and are not

    def in_state(self, *states: str) -> list[Backup]:
        return [backup for backup in self.backups if backup.state in states]

    @property
    def restorable(self) -> list[Backup]:
        return [backup for backup in self.backups if backup.restorable]

    def by_id(self, backup_id: str) -> Backup | None:
        return next((backup for backup in self.backups if backup.backup_id == backup_id), None)


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


def _verdict(destination: Destination, manifest: Manifest) -> tuple[str, str]:
    """(state, reason) from the last finished drill of this backup."""
    data = destination.read_if_present(verdict_key(manifest.backup_id))
    if data is None:
        return UNVERIFIED, "no drill has finished on it yet"
    try:
        verdict = json.loads(data)
        passed = bool(verdict["passed"])
        problems = verdict.get("problems") or ["no reason recorded"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return UNVERIFIED, "its drill verdict cannot be read; the next drill writes a new one"
    if verdict.get("sha256") not in (None, manifest.sha256):
        return UNVERIFIED, "its drill restored another dump than the manifest now names"
    if not passed:
        return BAD, f"failed its drill at {verdict.get('at', '?')}: {problems[0]}"
    return VERIFIED, f"passed its drill at {verdict.get('at', '?')}"


def _future_flag(named: datetime, stored: datetime | None, now: datetime) -> str:
    if stored is not None and named > stored + FUTURE_SKEW:
        return f"its id is dated {named:%Y-%m-%d %H:%M}Z, after the destination stored it ({stored:%Y-%m-%d %H:%M}Z)"
    if named > now + FUTURE_SKEW:
        return f"its id is dated {named:%Y-%m-%d %H:%M}Z, in the future"
    return ""


def _classify(destination: Destination, backup_id: str, entries: dict[str, Stored], now: datetime) -> Backup:
    dump = entries.get(dump_key(backup_id))
    stored = entries.get(manifest_key(backup_id)) or dump
    stored_at = stored.modified if stored else None
    flag = _future_flag(parse_id(backup_id), stored_at, now)
    if manifest_key(backup_id) not in entries:
        return Backup(backup_id, INCOMPLETE, "no manifest: the run did not finish", dump=dump, stored_at=stored_at)
    manifest, reason = _manifest(destination, backup_id)
    if manifest is None:
        return Backup(backup_id, BAD, reason, dump=dump, stored_at=stored_at, flag=flag)
    state = BAD
    if manifest.status != "good":
        reason = f"its manifest says {manifest.status!r}"
    elif dump is None:
        reason = "its dump is missing"
    elif dump.size != manifest.size_bytes:
        reason = f"its dump is {dump.size} bytes, the manifest says {manifest.size_bytes}"
    else:
        state, reason = _verdict(destination, manifest)
    return Backup(backup_id, state, reason, manifest, dump, stored_at, flag)


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


def read_catalog(destination: Destination, now: datetime | None = None) -> Catalog:
    entries = destination.entries()
    now = now or datetime.now(UTC)
    ids = {parts[0] for key in entries if (parts := split_key(key)) and parts[1] in (DUMP_SUFFIX, MANIFEST_SUFFIX)}
    backups = [_classify(destination, backup_id, entries, now) for backup_id in ids]
    backups.sort(key=lambda backup: (backup.taken_at, backup.backup_id), reverse=True)
    foreign = sorted(key for key in entries if looks_like_a_backup(key))
    return Catalog(backups, destination.leftovers(), foreign)
