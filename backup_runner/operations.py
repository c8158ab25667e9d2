"""The runner's commands as functions: run, prune, restore, verify (list is catalog.py).

A backup is good only when its dump was streamed completely, read back from the destination with
the same size and sha256, and its manifest written last. Restore and verify check the dump
against its manifest before using it, so a truncated or altered backup is refused with a clear
error, and nothing is ever deleted because a backup was found to be bad. A run that fails
removes what it wrote; what a killed run left is removed by the next run or prune (cleanup.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from components.errors import BackupCorrupt, BackupError, RestoreRefused, ToolError

from . import postgres
from .catalog import GOOD, read_catalog, read_unfinished
from .cleanup import discard_abandoned, remove_orphaned_work_directories, work_directory
from .destinations import Destination, read_chunks
from .drills import record_drill, record_drill_started, record_verdict
from .manifest import Manifest, database_safe, dump_key, manifest_key, new_id
from .retention import Retention, backups_to_keep

Progress = Callable[[str], None]
PROGRESS_EVERY = 64 << 20  # report every 64 MiB
RESTORE_JOBS = max(1, min(4, os.cpu_count() or 1))  # pg_restore's parallel jobs
# The restore's own sessions: more memory to build indexes, and no waiting on WAL flushes for a
# database that is being created from a dump anyway (a crash mid-restore means restoring again).
RESTORE_SESSION = "-c maintenance_work_mem=256MB -c synchronous_commit=off"
STAGING_PREFIX = "mvs_restore_"  # restores are made here, then renamed into place
SCRATCH_PREFIX = "mvs_verify_"  # the drill's database, dropped when it is done


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
    """Stream `pg_dump -Fc` to the destination and prove it arrived whole before calling it good.
    Leftovers of killed runs go first; if this run fails, what it wrote goes with it."""
    for removed in discard_abandoned(destination, read_unfinished(destination)):
        progress(f"removed what an interrupted run left: {removed}")
    started = datetime.now(UTC)
    backup_id = new_id(started)
    written: list[str] = []
    try:
        size, sha256, version, counts = _dump(url, destination, backup_id, progress, written)
        stored_size, stored_sha = _digest(destination, dump_key(backup_id))
        if (stored_size, stored_sha) != (size, sha256):
            raise BackupError(
                f"backup {backup_id} did not arrive whole at {destination.url} "
                f"({stored_size} of {size} bytes); it is not marked good"
            )
        manifest = Manifest(
            backup_id=backup_id,
            database=postgres.database_of(url),
            server_version=version,
            size_bytes=size,
            sha256=stored_sha,
            row_counts=counts,
            started_at=started,
            finished_at=datetime.now(UTC),
        )
        destination.put(manifest_key(backup_id), io.BytesIO(manifest.model_dump_json(indent=1).encode()))
    except BaseException:
        for key in written:  # only what this run wrote: ids are unique and writes never replace
            with contextlib.suppress(Exception):
                destination.delete(key)
        raise
    progress(f"backup {backup_id}: good, {size} bytes, sha256 {stored_sha[:12]}")
    return manifest


def _dump(
    url: str, destination: Destination, backup_id: str, progress: Progress, written: list[str]
) -> tuple[int, str, str, dict]:
    """pg_dump into the destination, with the row counts of the same snapshot counted alongside.
    Returns size, sha256, server version and counts; `written` learns of the dump once stored."""
    conninfo, env = postgres.for_tools(url)
    with postgres.exported_snapshot(url) as (snapshot, conn), ThreadPoolExecutor(1) as counter:
        version = postgres.server_version(conn)
        counting = counter.submit(postgres.row_counts_in_snapshot, url, snapshot)
        command = ["pg_dump", "-Fc", "--verbose", f"--snapshot={snapshot}", "--no-password", "-d", conninfo]
        dump = postgres.ToolRun(command, progress, stdout=subprocess.PIPE, env=env)
        reader = HashingReader(dump.process.stdout, f"backup {backup_id}", progress)
        try:
            destination.put(dump_key(backup_id), reader)
            written.append(dump_key(backup_id))
        except BaseException:
            dump.process.kill()  # it would wait forever on a pipe nobody reads
            dump.process.wait()
            raise
        finally:
            dump.process.stdout.close()
        dump.finish()
        return reader.size, reader.sha256.hexdigest(), version, counting.result()


@dataclass
class Pruned:
    deleted: list[str]  # backup ids the retention let go
    discarded: list[str]  # leftovers of interrupted runs


def prune(destination: Destination, policy: Retention, dry_run: bool = False, now: datetime | None = None) -> Pruned:
    """Delete good backups the retention does not keep, and what interrupted runs left behind.

    The retention counts only good (restorable) backups and always keeps the newest of them, so a
    prune never leaves a destination that had a restorable backup without one. Bad backups are
    never deleted here: `list` shows why they are bad, and they stay for a person to look at."""
    catalog = read_catalog(destination)
    good = catalog.in_state(GOOD)
    keep = backups_to_keep([(backup.taken_at, backup.backup_id) for backup in good], policy)
    doomed = [backup for backup in good if backup.backup_id not in keep]
    if not dry_run:
        for backup in doomed:
            for key in backup.keys:
                destination.delete(key)
    discarded = discard_abandoned(destination, catalog, now, dry_run)
    return Pruned(sorted(backup.backup_id for backup in doomed), discarded)


def choose(destination: Destination, backup_id: str | None) -> Manifest:
    catalog = read_catalog(destination)
    good = catalog.good
    if backup_id is None:
        if not good:
            raise BackupError(f"no good backup at {destination.url}; `list` shows what is there and why")
        return good[0]
    for backup in catalog.backups:
        if backup.backup_id == backup_id:
            if backup.state == GOOD:
                return backup.manifest
            raise BackupError(f"backup {backup_id} is {backup.state}: {backup.reason}; choose another with --backup")
    raise BackupError(f"no backup {backup_id} at {destination.url}; `list` shows the good ones")


def fetch_checked(destination: Destination, manifest: Manifest, into: Path, progress: Progress) -> Path:
    """Copy the dump to a local file, refusing it unless it matches its manifest."""
    path = into / dump_key(manifest.backup_id)
    try:
        with destination.open(dump_key(manifest.backup_id)) as stream, path.open("wb") as local:
            reader = HashingReader(stream, f"fetch {manifest.backup_id}", progress)
            for chunk in read_chunks(reader):
                local.write(chunk)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise BackupError(
            f"no space left in {into.parent} to fetch backup {manifest.backup_id} ({manifest.size_bytes} bytes); "
            "free space there or point TMPDIR at a larger disk. Nothing was restored."
        ) from None
    if reader.size != manifest.size_bytes or reader.sha256.hexdigest() != manifest.sha256:
        raise BackupCorrupt(
            f"backup {manifest.backup_id} is corrupt: {reader.size} bytes with sha256 "
            f"{reader.sha256.hexdigest()[:12]}, but its manifest says {manifest.size_bytes} bytes with "
            f"{manifest.sha256[:12]}. Nothing was restored or deleted; restore an older backup with --backup."
        )
    return path


def _check_name(name: str) -> None:
    if len(name.encode()) > postgres.NAME_LIMIT:
        raise RestoreRefused(
            f"database name {name!r} is {len(name.encode())} bytes; PostgreSQL would cut it to "
            f"{postgres.NAME_LIMIT}. Choose a shorter --target-db. Nothing was changed."
        )


def clean_orphans(url: str, progress: Progress) -> None:
    """Scratch and staging databases and fetch directories of restores and drills that were killed."""
    for name in postgres.drop_orphans(url):
        progress(f"dropped database {name}, left by an interrupted restore or drill")
    for path in remove_orphaned_work_directories():
        progress(f"removed {path}, left by an interrupted restore or drill")


@dataclass
class Restored:
    manifest: Manifest
    target: str
    kept_as: str | None = None  # where the data that was replaced still is


def restore(
    url: str,
    destination: Destination,
    target: str | None = None,
    backup_id: str | Manifest | None = None,
    force: bool = False,
    progress: Progress = stderr_progress,
    for_drill: bool = False,
) -> Restored:
    """Restore into `target` (default: a new database named after the backup).

    The data goes into a staging database first. Only when it is complete does it take the
    target's name; a target that existed is renamed to `<target>_before_<backup>` in the same
    transaction and kept, never dropped. `for_drill`: a scratch target that autovacuum leaves alone
    (the drill has chosen the backup, passed as its manifest, and cleaned up already)."""
    manifest = backup_id if isinstance(backup_id, Manifest) else choose(destination, backup_id)
    safe_id = database_safe(manifest.backup_id)
    target = target or f"{manifest.database}_restored_{safe_id}"
    exists = postgres.database_exists(url, target)
    kept_as = f"{target}_before_{safe_id}" if exists else None
    staged = f"{STAGING_PREFIX}{safe_id}_{secrets.token_hex(3)}"
    for name in filter(None, (target, kept_as)):
        _check_name(name)
    if exists and not force and not postgres.database_is_empty(url, target):
        raise RestoreRefused(
            f"database {target} is not empty; restore into a new database (the default) or add --force to "
            f"replace it (its data is kept as {kept_as})"
        )
    if kept_as and postgres.database_exists(url, kept_as):
        raise RestoreRefused(f"database {kept_as} exists from an earlier restore; drop or rename it first")
    if not for_drill:
        clean_orphans(url, progress)
    started = time.monotonic()
    with work_directory() as tmp, postgres.claimed(url, staged):
        dump = fetch_checked(destination, manifest, tmp, progress)
        postgres.create_database(url, staged, owner=postgres.owner_of(url, target) if exists else None)
        try:
            _pg_restore(url, staged, dump, progress, for_drill)
            if exists:
                sessions = postgres.sessions_on(url, target)
                progress(
                    f"replacing database {target}: terminating {sessions} session(s) connected to it; "
                    f"its current data is kept as {kept_as}"
                )
                postgres.swap_in(url, target, staged, kept_as)
            else:
                postgres.rename_database(url, staged, target)
        except BaseException:
            with contextlib.suppress(Exception):
                postgres.drop_database(url, staged)
            raise
    progress(f"restore {manifest.backup_id} into {target}: done in {time.monotonic() - started:.1f}s")
    return Restored(manifest, target, kept_as)


def _pg_restore(url: str, database: str, dump: Path, progress: Progress, for_drill: bool) -> None:
    conninfo, env = postgres.for_tools(postgres.with_database(url, database))
    env["PGOPTIONS"] = RESTORE_SESSION
    command = ["pg_restore", "--verbose", "--no-owner", "--no-acl", "--exit-on-error", "--no-password"]
    command += ["-d", conninfo]

    def pg_restore(*options: str) -> None:
        postgres.ToolRun([*command, *options, str(dump)], progress, stdout=subprocess.DEVNULL, env=env).finish()

    if for_drill:
        # Tables first, then autovacuum off on each, then the data and indexes: the server
        # should not spend itself vacuuming a database the drill is about to drop.
        pg_restore("--section=pre-data")
        postgres.disable_autovacuum(url, database)
        pg_restore(f"--jobs={RESTORE_JOBS}", "--section=data", "--section=post-data")
    else:
        pg_restore(f"--jobs={RESTORE_JOBS}")


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
    amcheck's heap-all-indexed pass, which reads every table once more.

    The drill is recorded when it starts and when it ends, however it ends: a failure of any kind
    is a failed drill, never a stale "passed". What a killed drill left is cleaned up first."""
    started_at = record_drill_started(destination)
    manifest = None
    try:
        clean_orphans(url, progress)
        manifest = choose(destination, backup_id)
        result = _drill(url, destination, manifest, progress, thorough)
    except BaseException as error:
        reason = _reason(error)
        backup = manifest.backup_id if manifest else None
        with contextlib.suppress(Exception):
            record_drill(destination, backup, [reason], "not run", started_at)
            if manifest and isinstance(error, (BackupCorrupt, ToolError)):  # the backup itself failed
                record_verdict(destination, manifest.backup_id, [reason])
        raise
    record_verdict(destination, result.backup_id, result.problems)
    record_drill(destination, result.backup_id, result.problems, result.amcheck, started_at)
    return result


def _reason(error: BaseException) -> str:
    """One line for the drill's record."""
    if not isinstance(error, Exception):
        return f"the drill was interrupted ({error or type(error).__name__})"
    if isinstance(error, ToolError):
        last = error.stderr.strip().splitlines()[-1:] or ["no output"]
        return f"{error.command[0]} exited with code {error.exit_code}: {last[0]}"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _drill(url: str, destination: Destination, manifest: Manifest, progress: Progress, thorough: bool) -> Verification:
    scratch = f"{SCRATCH_PREFIX}{database_safe(manifest.backup_id)}_{secrets.token_hex(2)}"
    with postgres.claimed(url, scratch):
        try:
            restore(url, destination, scratch, manifest, progress=progress, for_drill=True)
            scratch_url = postgres.with_database(url, scratch)
            with ThreadPoolExecutor(2) as checks:  # counting rows and checking indexes, side by side
                counting = checks.submit(postgres.row_counts_in_new_connection, scratch_url)
                index_check = checks.submit(postgres.amcheck, url, scratch, thorough)
                restored, index_problems = counting.result(), index_check.result()
        finally:
            postgres.drop_database(url, scratch)
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
    return Verification(manifest.backup_id, problems, amcheck_result)
