"""The runner's five commands as functions: run, list, prune, restore, verify.

A backup is good only when its dump was streamed completely, read back from the destination with
the same size and sha256, and its manifest written last. Restore and verify check the dump
against its manifest before using it, so a truncated or altered backup is refused with a clear
error, and nothing is ever deleted because a backup was found to be bad.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from components.errors import BackupCorrupt, BackupError, RestoreRefused

from . import postgres
from .destinations import Destination, read_chunks
from .drills import record_drill
from .manifest import DUMP_SUFFIX, MANIFEST_SUFFIX, Manifest, dump_key, manifest_key, new_id, parse_id
from .retention import Retention, backups_to_keep

Progress = Callable[[str], None]
PROGRESS_EVERY = 64 << 20  # report every 64 MiB
INCOMPLETE_GRACE_SECONDS = 24 * 3600
RESTORE_JOBS = max(1, min(4, os.cpu_count() or 1))  # pg_restore's parallel jobs
# The restore's own sessions: more memory to build indexes, and no waiting on WAL flushes for a
# database that is being created from a dump anyway (a crash mid-restore means restoring again).
RESTORE_SESSION = "-c maintenance_work_mem=256MB -c synchronous_commit=off"


def stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class HashingReader:
    """Wraps a stream: counts and hashes what passes through, and reports progress."""

    def __init__(self, source: BinaryIO, what: str, progress: Progress):
        self.source = source
        self.sha256 = hashlib.sha256()
        self.size = 0
        self._what = what
        self._progress = progress
        self._next_report = PROGRESS_EVERY

    def read(self, n: int = -1) -> bytes:
        chunk = self.source.read(n)
        self.sha256.update(chunk)
        self.size += len(chunk)
        if self.size >= self._next_report:
            self._progress(f"{self._what}: {self.size >> 20} MiB")
            self._next_report += PROGRESS_EVERY
        return chunk


def _digest(destination: Destination, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with destination.open(key) as stream:
        for chunk in read_chunks(stream):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def run_backup(url: str, destination: Destination, progress: Progress = stderr_progress) -> Manifest:
    """Stream `pg_dump -Fc` to the destination and prove it arrived whole before calling it good."""
    started = datetime.now(UTC)
    backup_id = new_id(started)
    with postgres.exported_snapshot(url) as (snapshot, conn), ThreadPoolExecutor(1) as counter:
        version = postgres.server_version(conn)
        counting = counter.submit(postgres.row_counts_in_snapshot, url, snapshot)  # alongside the dump
        command = ["pg_dump", "-Fc", "--verbose", f"--snapshot={snapshot}", "--no-password", "-d", url]
        dump = postgres.ToolRun(command, progress, stdout=subprocess.PIPE)
        reader = HashingReader(dump.process.stdout, f"backup {backup_id}", progress)
        try:
            destination.put(dump_key(backup_id), reader)
        finally:
            dump.process.stdout.close()
        dump.finish()
        counts = counting.result()
    stored_size, stored_sha = _digest(destination, dump_key(backup_id))
    if (stored_size, stored_sha) != (reader.size, reader.sha256.hexdigest()):
        raise BackupError(
            f"backup {backup_id} did not arrive whole at {destination.url} "
            f"({stored_size} of {reader.size} bytes); it is not marked good"
        )
    manifest = Manifest(
        backup_id=backup_id,
        database=postgres.database_of(url),
        server_version=version,
        size_bytes=reader.size,
        sha256=stored_sha,
        row_counts=counts,
        started_at=started,
        finished_at=datetime.now(UTC),
    )
    destination.put(manifest_key(backup_id), io.BytesIO(manifest.model_dump_json(indent=1).encode()))
    progress(f"backup {backup_id}: good, {reader.size} bytes, sha256 {stored_sha[:12]}")
    return manifest


@dataclass
class Listing:
    good: list[Manifest] = field(default_factory=list)  # newest first
    incomplete: list[str] = field(default_factory=list)  # dumps without a manifest


def list_backups(destination: Destination) -> Listing:
    keys = set(destination.keys())
    listing = Listing()
    for key in sorted(keys, reverse=True):
        if key.endswith(MANIFEST_SUFFIX):
            with destination.open(key) as stream:
                manifest = Manifest.model_validate(json.loads(stream.read()))
            if manifest.status == "good":
                listing.good.append(manifest)
        elif key.endswith(DUMP_SUFFIX) and manifest_key(key.removesuffix(DUMP_SUFFIX)) not in keys:
            listing.incomplete.append(key.removesuffix(DUMP_SUFFIX))
    return listing


def prune(destination: Destination, policy: Retention, dry_run: bool = False, now: datetime | None = None) -> list[str]:
    """Delete good backups the retention does not keep (never the newest good one), and dumps
    left incomplete more than a day ago. Returns the ids deleted (or that would be)."""
    listing = list_backups(destination)
    keep = backups_to_keep([(m.taken_at, m.backup_id) for m in listing.good], policy)
    doomed = [m.backup_id for m in listing.good if m.backup_id not in keep]
    now = now or datetime.now(UTC)
    doomed += [i for i in listing.incomplete if (now - parse_id(i)).total_seconds() > INCOMPLETE_GRACE_SECONDS]
    if not dry_run:
        for backup_id in doomed:
            destination.delete(manifest_key(backup_id))  # first: a half-deleted backup is never "good"
            destination.delete(dump_key(backup_id))
    return sorted(doomed)


def choose(destination: Destination, backup_id: str | None) -> Manifest:
    good = list_backups(destination).good
    if not good:
        raise BackupError(f"no good backup at {destination.url}")
    if backup_id is None:
        return good[0]
    for manifest in good:
        if manifest.backup_id == backup_id:
            return manifest
    raise BackupError(f"no good backup {backup_id} at {destination.url}; `list` shows the good ones")


def fetch_checked(destination: Destination, manifest: Manifest, into: Path, progress: Progress) -> Path:
    """Copy the dump to a local file, refusing it unless it matches its manifest."""
    path = into / dump_key(manifest.backup_id)
    with destination.open(dump_key(manifest.backup_id)) as stream, path.open("wb") as local:
        reader = HashingReader(stream, f"fetch {manifest.backup_id}", progress)
        for chunk in read_chunks(reader):
            local.write(chunk)
    if reader.size != manifest.size_bytes or reader.sha256.hexdigest() != manifest.sha256:
        raise BackupCorrupt(
            f"backup {manifest.backup_id} is corrupt: {reader.size} bytes with sha256 "
            f"{reader.sha256.hexdigest()[:12]}, but its manifest says {manifest.size_bytes} bytes with "
            f"{manifest.sha256[:12]}. Nothing was restored or deleted; restore an older backup with --backup."
        )
    return path


def restore(
    url: str,
    destination: Destination,
    target: str | None = None,
    backup_id: str | None = None,
    force: bool = False,
    progress: Progress = stderr_progress,
    for_drill: bool = False,
) -> tuple[Manifest, str]:
    """Restore into `target` (default: a new database named after the backup). `for_drill`: the
    target is a scratch database that autovacuum leaves alone."""
    manifest = choose(destination, backup_id)
    target = target or f"{manifest.database}_restored_{manifest.backup_id.lower()}"
    exists = postgres.database_exists(url, target)
    if exists and not force and not postgres.database_is_empty(url, target):
        raise RestoreRefused(
            f"database {target} is not empty; restore into a new database (the default) or add --force to "
            "replace what is in it"
        )
    with tempfile.TemporaryDirectory(prefix="mvs-restore-") as tmp:
        dump = fetch_checked(destination, manifest, Path(tmp), progress)
        if exists and force:
            postgres.drop_database(url, target)
            exists = False
        if not exists:
            postgres.create_database(url, target)
        started = time.monotonic()
        session = {**os.environ, "PGOPTIONS": RESTORE_SESSION}
        command = ["pg_restore", "--verbose", "--no-owner", "--no-acl", "--exit-on-error"]
        command += ["-d", postgres.with_database(url, target)]

        def pg_restore(*options: str) -> None:
            postgres.ToolRun([*command, *options, str(dump)], progress, stdout=subprocess.DEVNULL, env=session).finish()

        if for_drill:
            # Tables first, then autovacuum off on each, then the data and indexes: the server
            # should not spend itself vacuuming a database the drill is about to drop.
            pg_restore("--section=pre-data")
            postgres.disable_autovacuum(url, target)
            pg_restore(f"--jobs={RESTORE_JOBS}", "--section=data", "--section=post-data")
        else:
            pg_restore(f"--jobs={RESTORE_JOBS}")
    progress(f"restore {manifest.backup_id} into {target}: done in {time.monotonic() - started:.1f}s")
    return manifest, target


@dataclass
class Verification:
    backup_id: str
    problems: list[str]
    amcheck: str

    @property
    def passed(self) -> bool:
        return not self.problems


def verify(
    url: str,
    destination: Destination,
    backup_id: str | None = None,
    progress: Progress = stderr_progress,
    thorough: bool = False,
) -> Verification:
    """Restore a backup into a scratch database and compare it with its manifest. `thorough` adds
    amcheck's heap-all-indexed pass, which reads every table once more."""
    manifest = choose(destination, backup_id)
    scratch = f"mvs_verify_{manifest.backup_id.lower()}"
    postgres.drop_database(url, scratch)
    try:
        try:
            restore(url, destination, scratch, manifest.backup_id, progress=progress, for_drill=True)
        except BackupCorrupt as error:
            record_drill(destination, manifest.backup_id, [str(error)], "not run")
            raise
        scratch_url = postgres.with_database(url, scratch)
        with ThreadPoolExecutor(2) as checks:  # counting rows and checking indexes, side by side
            counting = checks.submit(postgres.row_counts_in_new_connection, scratch_url)
            index_check = checks.submit(postgres.amcheck, url, scratch, thorough)
            restored, index_problems = counting.result(), index_check.result()
        problems = [
            f"{table}: {restored.get(table)} rows restored, manifest says {count}"
            for table, count in sorted(manifest.row_counts.items())
            if restored.get(table) != count
        ]
        problems += [f"{table}: not in the manifest" for table in sorted(set(restored) - set(manifest.row_counts))]
        if index_problems is None:
            amcheck_result = "not available"
        else:
            amcheck_result = "passed" if not index_problems else "failed"
            problems += [f"amcheck {p}" for p in index_problems]
    finally:
        postgres.drop_database(url, scratch)
    result = Verification(manifest.backup_id, problems, amcheck_result)
    record_drill(destination, result.backup_id, result.problems, result.amcheck)
    return result
