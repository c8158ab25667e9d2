"""The runner's commands as functions: run, prune, restore, verify (list is catalog.py).

A backup is complete only when its dump was streamed completely, read back from the destination
with the same size and sha256, and its manifest written last; it is proven restorable (verified)
only once a drill restored it into a server of its own and found the source's content and schema.
Restore and verify check the dump against its manifest before using it, so a truncated or altered
backup is refused with a clear error, and nothing is ever deleted because a backup was found to be
bad. A run that fails removes what it wrote; what a killed run left is removed by the next run or
prune (cleanup.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import psycopg

from components.drill_record import STOPPED
from components.errors import BackupCorrupt, BackupError, DrillStopped, RestoreRefused, ToolError

from . import fingerprint, postgres
from .catalog import VERIFIED, Backup, Catalog, read_catalog, read_unfinished
from .cleanup import discard_abandoned, remove_orphaned_work_directories, work_directory
from .destinations import Destination, read_chunks
from .drill_server import DrillServer, check_room, find_binaries
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
        size, sha256, source, taken = _dump(url, destination, backup_id, progress, written)
        stored_size, stored_sha = _digest(destination, dump_key(backup_id))
        if (stored_size, stored_sha) != (size, sha256):
            raise BackupError(
                f"backup {backup_id} did not arrive whole at {destination.url} "
                f"({stored_size} of {size} bytes); it is not marked good"
            )
        manifest = Manifest(
            backup_id=backup_id,
            database=postgres.database_of(url),
            server_version=source.server_version,
            size_bytes=size,
            sha256=stored_sha,
            row_counts=taken.row_counts,
            started_at=started,
            finished_at=datetime.now(UTC),
            server=source.server,
            system_identifier=source.system_identifier,
            encoding=source.encoding,
            database_size_bytes=source.database_size_bytes,
            roles=source.roles,
            fingerprint=taken,
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
) -> tuple[int, str, postgres.Source, fingerprint.Fingerprint]:
    """pg_dump into the destination, with the fingerprint of the same snapshot taken alongside.
    Returns size, sha256, the source's description and the fingerprint; `written` learns of the
    dump once stored."""
    conninfo, env = postgres.for_tools(url)
    with postgres.exported_snapshot(url) as (snapshot, conn), ThreadPoolExecutor(1) as counter:
        source = postgres.describe_source(url, conn)
        counting = counter.submit(postgres.fingerprint_in_snapshot, url, snapshot)
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
        return reader.size, reader.sha256.hexdigest(), source, counting.result()


@dataclass
class Pruned:
    deleted: list[str]  # backup ids the retention let go
    discarded: list[str]  # leftovers of interrupted runs
    floor: list[str] = field(default_factory=list)  # per source, the proven backup kept whatever the counts say
    corrupt: list[str] = field(default_factory=list)  # verified backups whose dump no longer has its sha256


def _by_source(backups: list[Backup]) -> dict[tuple[str, str], list[Backup]]:
    groups: dict[tuple[str, str], list[Backup]] = {}
    for backup in backups:  # newest first, and so within each group
        groups.setdefault(backup.source, []).append(backup)
    return groups


def _proven_floor(destination: Destination, verified: list[Backup], dry_run: bool) -> tuple[str | None, list[str]]:
    """The newest verified backup whose dump, read whole now, still has its manifest's sha256. A
    newer verified one that does not is marked bad (and so kept for a person to look at), unless
    this is a dry run. A same-size change is invisible to the listing; only the digest shows it."""
    corrupt = []
    for backup in verified:
        size, sha256 = _digest(destination, dump_key(backup.backup_id))
        if (size, sha256) == (backup.manifest.size_bytes, backup.manifest.sha256):
            return backup.backup_id, corrupt
        corrupt.append(backup.backup_id)
        if not dry_run:
            problem = f"its dump no longer matches its manifest ({size} bytes, sha256 {sha256[:12]}), found by prune"
            record_verdict(destination, backup.backup_id, [problem], backup.manifest.sha256)
    return None, corrupt


def prune(destination: Destination, policy: Retention, dry_run: bool = False, now: datetime | None = None) -> Pruned:
    """Delete restorable backups the retention does not keep, and what interrupted runs left behind.

    Retention counts each source (server and database) apart, over restorable backups that are
    dated believably. Whatever it says, each source keeps its newest verified backup whose dump is
    checked, whole, against its sha256 at this moment: a prune never leaves a destination that had
    a backup proven restorable without one. Bad and flagged backups are never deleted here: `list`
    shows why, and they stay for a person to look at."""
    catalog = read_catalog(destination, now)
    countable = [backup for backup in catalog.backups if backup.choosable]
    keep: set[str] = set()
    floors, corrupt = [], []
    for group in _by_source(countable).values():
        keep |= backups_to_keep([(backup.taken_at, backup.backup_id) for backup in group], policy)
        floor, found = _proven_floor(destination, [b for b in group if b.state == VERIFIED], dry_run)
        corrupt += found
        if floor:
            floors.append(floor)
    keep |= set(floors) | set(corrupt)
    doomed = [backup for backup in countable if backup.backup_id not in keep]
    if not dry_run:
        for backup in doomed:
            for key in backup.keys:
                destination.delete(key)
    discarded = discard_abandoned(destination, catalog, now, dry_run)
    return Pruned(sorted(backup.backup_id for backup in doomed), discarded, sorted(floors), sorted(corrupt))


def _check_source(manifest: Manifest, database: str | None, source_db: str | None) -> None:
    if source_db is not None and manifest.database != source_db:
        raise RestoreRefused(
            f"backup {manifest.backup_id} is a dump of database {manifest.database}, not of {source_db} "
            "(--source-db); nothing was changed"
        )
    if source_db is None and database and manifest.database != database:
        raise RestoreRefused(
            f"backup {manifest.backup_id} is a dump of database {manifest.database}, not of {database} (the "
            f"database DATABASE_URL names); add --source-db {manifest.database} to restore it anyway. "
            "Nothing was changed"
        )


def _by_id(catalog: Catalog, destination: Destination, backup_id: str) -> Backup:
    backup = catalog.by_id(backup_id)
    if backup is None:
        raise BackupError(f"no backup {backup_id} at {destination.url}; `list` shows what is there")
    return backup


def choose_for_restore(
    catalog: Catalog,
    destination: Destination,
    backup_id: str | None,
    database: str | None,
    source_db: str | None = None,
    progress: Progress = stderr_progress,
) -> Manifest:
    """The backup to restore: the one named (restorable, and of this database unless `source_db`
    says otherwise), or the newest verified backup of this database, or when none has passed a
    drill yet the newest unverified one, said so. Flagged backups only when named."""
    if backup_id is not None:
        backup = _by_id(catalog, destination, backup_id)
        if not backup.restorable:
            raise BackupError(f"backup {backup_id} is {backup.state}: {backup.reason}; choose another with --backup")
        _check_source(backup.manifest, database, source_db)
        if backup.flag:
            progress(f"note: backup {backup_id} is flagged: {backup.flag}")
        return backup.manifest
    wanted = source_db or database
    mine = [b for b in catalog.backups if b.choosable and (wanted is None or b.manifest.database == wanted)]
    if not mine:
        others = sorted({b.manifest.database for b in catalog.backups if b.choosable} - {wanted})
        hint = f"; there are backups of {', '.join(others)} (--source-db NAME)" if others else ""
        raise BackupError(
            f"no restorable backup of database {wanted} at {destination.url}{hint}; `list` shows what is there and why"
        )
    verified = [backup for backup in mine if backup.state == VERIFIED]
    chosen = verified[0] if verified else mine[0]
    if not verified:
        progress(
            f"note: no backup of {chosen.manifest.database} has passed a drill yet; restoring the newest, "
            f"{chosen.backup_id}, unverified"
        )
    elif chosen is not mine[0]:
        progress(
            f"note: restoring {chosen.backup_id}, the newest verified backup; {mine[0].backup_id} is newer "
            "but unverified (--backup to choose it)"
        )
    return chosen.manifest


def choose_for_drill(
    catalog: Catalog, destination: Destination, backup_id: str | None, database: str | None
) -> Manifest:
    """The backup to drill: the one named (even one an earlier drill failed: a pass clears that), or
    the newest restorable one of `database` (any database when None) that is dated believably."""
    if backup_id is not None:
        backup = _by_id(catalog, destination, backup_id)
        if not backup.drillable:
            raise BackupError(f"backup {backup_id} cannot be drilled, it is {backup.state}: {backup.reason}")
        return backup.manifest
    mine = [b for b in catalog.backups if b.choosable and (database is None or b.manifest.database == database)]
    if not mine:
        of = f" of database {database}" if database else ""
        raise DrillStopped(f"nothing to drill: no restorable backup{of} at {destination.url}; see `list`")
    return mine[0].manifest


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


def fitted(name: str, suffix: str) -> str:
    """`name` + `suffix` within PostgreSQL's 63 bytes: `name` is cut (at a character boundary) when
    the whole would be longer, so a database near the limit can still be given a kept copy."""
    room = postgres.NAME_LIMIT - len(suffix.encode())
    return name.encode()[:room].decode(errors="ignore") + suffix


def clean_orphans(url: str, progress: Progress) -> None:
    """Scratch and staging databases and fetch directories of restores and drills that were killed."""
    for name in postgres.drop_orphans(url):
        progress(f"dropped database {name}, left by an interrupted restore or drill")
    for path in remove_orphaned_work_directories():
        progress(f"removed {path}, left by an interrupted restore or drill")


# The kinds of object pg_restore -l lists with an owner that ALTER ... OWNER TO would set.
OWNED_KINDS = (
    "MATERIALIZED VIEW",
    "TABLE",
    "SEQUENCE",
    "VIEW",
    "FUNCTION",
    "PROCEDURE",
    "AGGREGATE",
    "TYPE",
    "DOMAIN",
    "SCHEMA",
)
NOT_OWNED = ("TABLE DATA", "SEQUENCE SET", "SEQUENCE OWNED BY")


def dump_owners(dump: Path) -> set[str]:
    """The roles that own the dump's objects, from its table of contents (`pg_restore -l`: each
    entry ends with its owner)."""
    listing = subprocess.run(["pg_restore", "-l", str(dump)], capture_output=True, text=True, check=False)
    owners = set()
    for line in listing.stdout.splitlines():
        parts = line.split(" ", 3)
        if line.startswith(";") or len(parts) < 4:
            continue
        entry = parts[3]
        if entry.startswith(NOT_OWNED) or not entry.startswith(tuple(f"{kind} " for kind in OWNED_KINDS)):
            continue
        owners.add(entry.rsplit(" ", 1)[-1])
    return owners


def ownership_options(
    roles: postgres.Roles, owners: set[str], source_roles: list[str] | None, owner: str | None
) -> tuple[list[str], str]:
    """pg_restore's options for who owns what it makes, and one line saying it. The objects keep
    their owners (and grants) when those roles exist here and this user may give them objects; else
    the target database's owner gets them, so an application that connects as that owner is not
    locked out of its own tables; only when neither can be done, the restoring user."""
    if owners and owners <= roles.existing and (roles.superuser or owners <= roles.member_of):
        acl = [] if source_roles is not None and set(source_roles) <= roles.existing else ["--no-acl"]
        kept = "objects keep their owners" + (" and grants" if not acl else "")
        return acl, f"{kept} ({', '.join(sorted(owners))})"
    options = ["--no-owner", "--no-acl"]
    missing = sorted(owners - roles.existing) or sorted(owners)
    if owner and owner != roles.current and (roles.superuser or owner in roles.member_of):
        said = f"objects are owned by {owner}, the database's owner (the dump's owners {', '.join(missing)} "
        return [*options, f"--role={owner}"], said + f"do not exist here or cannot be given objects by {roles.current})"
    return options, f"objects are owned by {roles.current}, who restores them"


@dataclass
class Restored:
    manifest: Manifest
    target: str
    kept_as: str | None = None  # where the data that was replaced still is


def restore(
    url: str,
    destination: Destination,
    target: str | None = None,
    backup_id: str | None = None,
    force: bool = False,
    progress: Progress = stderr_progress,
    source_db: str | None = None,
) -> Restored:
    """Restore into `target` (default: a new database named after the backup).

    The backup must be of the database DATABASE_URL names, unless `source_db` names the one it is
    of. The data goes into a staging database first. Only when it is complete does it take the
    target's name; a target that existed is renamed to `<target>_before_<backup>` (shortened to fit
    PostgreSQL's names) in the same transaction and kept, never dropped."""
    database = postgres.database_of(url)
    manifest = choose_for_restore(read_catalog(destination), destination, backup_id, database, source_db, progress)
    safe_id = database_safe(manifest.backup_id)
    target = target or fitted(manifest.database, f"_restored_{safe_id}")
    _check_name(target)
    exists = postgres.database_exists(url, target)
    kept_as = fitted(target, f"_before_{safe_id}") if exists else None
    staged = f"{STAGING_PREFIX}{safe_id}_{secrets.token_hex(3)}"
    if exists and not force and not postgres.database_is_empty(url, target):
        raise RestoreRefused(
            f"database {target} is not empty; restore into a new database (the default) or add --force to "
            f"replace it (its data is kept as {kept_as})"
        )
    if kept_as and postgres.database_exists(url, kept_as):
        raise RestoreRefused(f"database {kept_as} exists from an earlier restore; drop or rename it first")
    if kept_as and not kept_as.startswith(target):
        progress(f"note: {target} is near PostgreSQL's 63-byte limit; its current data will be kept as {kept_as}")
    clean_orphans(url, progress)
    roles = postgres.roles(url)
    owner = postgres.owner_of(url, target if exists else manifest.database)
    owner = owner if owner and (roles.superuser or owner in roles.member_of) else None
    started = time.monotonic()
    with work_directory() as tmp, postgres.claimed(url, staged):
        dump = fetch_checked(destination, manifest, tmp, progress)
        options, said = ownership_options(roles, dump_owners(dump), manifest.roles, owner)
        postgres.create_database(url, staged, owner=owner)
        try:
            progress(f"restore {manifest.backup_id}: {said}")
            _pg_restore(url, staged, dump, progress, [*options, f"--jobs={RESTORE_JOBS}"])
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


def _pg_restore(url: str, database: str, dump: Path, progress: Progress, options: list[str]) -> None:
    conninfo, env = postgres.for_tools(postgres.with_database(url, database))
    env["PGOPTIONS"] = RESTORE_SESSION
    command = ["pg_restore", "--verbose", "--exit-on-error", "--no-password", *options, "-d", conninfo, str(dump)]
    postgres.ToolRun(command, progress, stdout=subprocess.DEVNULL, env=env).finish()


@dataclass
class Verification:
    backup_id: str
    problems: list[str]
    amcheck: str
    compared: str = "rows, content and schema"

    @property
    def passed(self) -> bool:
        return not self.problems


DRILL_DATABASE = "drill"
# What pg_restore says when the drill's surroundings failed, not the dump: the drill's own disk or
# server, a missing extension or locale. (A dump whose header this pg_restore cannot read is bad:
# the runner's own pg_dump, of the same package, wrote it.)
NOT_THE_BACKUP = re.compile(
    r"No space left on device|could not extend file|could not write|server closed the connection|terminating "
    r"connection|connection to server|could not connect|out of memory|could not fork|shutting down|could not open "
    r"extension control file|extension \S+ is not available|collation .* does not exist|invalid locale name",
    re.IGNORECASE,
)


def verify(
    destination: Destination,
    backup_id: str | None = None,
    progress: Progress = stderr_progress,
    thorough: bool = False,
    database: str | None = None,
    drill_dir: Path | None = None,
) -> Verification:
    """Restore a backup into a PostgreSQL of the drill's own (drill_server.py) and compare it with
    the source as of the dump's snapshot: tables, row counts, content digests, constraints and
    indexes, then amcheck (`thorough` adds its heap-all-indexed pass). The live server is never
    touched: the drill needs no DATABASE_URL at all. `database` limits the default choice to that
    database's backups.

    The drill is recorded when it starts and when it ends, however it ends. A dump that does not
    match its manifest, cannot be restored or restores something else marks the backup bad; a drill
    stopped by anything else (no room, killed, its server lost) says so and leaves the backup as it
    was, for the next drill to try again. What a killed drill left is cleaned up first."""
    started_at = record_drill_started(destination)
    manifest = None
    try:
        for path in remove_orphaned_work_directories(drill_dir):
            progress(f"removed {path}, left by an interrupted restore or drill")
        manifest = choose_for_drill(read_catalog(destination), destination, backup_id, database)
        result = _drill(destination, manifest, progress, thorough, drill_dir)
    except BaseException as error:
        reason = _reason(error)
        backups_fault = manifest is not None and isinstance(error, (BackupCorrupt, ToolError))
        with contextlib.suppress(Exception):
            status = None if backups_fault else STOPPED
            record_drill(destination, manifest.backup_id if manifest else None, [reason], "not run", started_at, status)
            if backups_fault:
                record_verdict(destination, manifest.backup_id, [reason], manifest.sha256)
        raise
    record_verdict(destination, result.backup_id, result.problems, manifest.sha256)
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


def _drill(
    destination: Destination, manifest: Manifest, progress: Progress, thorough: bool, drill_dir: Path | None
) -> Verification:
    with work_directory(drill_dir) as tmp:
        check_room(tmp, manifest.size_bytes, manifest.database_size_bytes)
        binaries = find_binaries(manifest.server_major)
        dump = fetch_checked(destination, manifest, tmp, progress)
        with DrillServer(tmp, binaries) as server:
            progress(f"drill {manifest.backup_id}: restoring into the drill's own PostgreSQL in {tmp}")
            restored, index_problems = _restore_and_inspect(server, manifest, dump, progress, thorough)
    if manifest.fingerprint is not None:
        problems, compared = fingerprint.compare(manifest.fingerprint, restored), "rows, content and schema"
    else:
        problems = fingerprint.compare_counts(manifest.row_counts, restored)
        compared = "row counts (its manifest predates content digests)"
    if index_problems is None:
        amcheck_result = "not available"
    else:
        amcheck_result = "passed" if not index_problems else "failed"
        problems += [f"amcheck {p}" for p in index_problems]
    return Verification(manifest.backup_id, problems, amcheck_result, compared)


def _restore_and_inspect(
    server: DrillServer, manifest: Manifest, dump: Path, progress: Progress, thorough: bool
) -> tuple[fingerprint.Fingerprint, list[str] | None]:
    """Restore into the drill's server and take the copy's fingerprint and amcheck side by side.
    A failure that is the surroundings' (NOT_THE_BACKUP, or the server gone) is a DrillStopped."""
    admin = server.conninfo()
    try:
        postgres.create_roles(admin, manifest.roles or [])
        # The source's encoding; a manifest from before it was recorded gets SQL_ASCII, which takes any bytes.
        postgres.create_database(admin, DRILL_DATABASE, encoding=manifest.encoding or "SQL_ASCII")
        options = ["--no-owner", "--no-acl", "--no-tablespaces", f"--jobs={RESTORE_JOBS}"]
        _pg_restore(admin, DRILL_DATABASE, dump, progress, options)
        with ThreadPoolExecutor(2) as checks:  # the copy's fingerprint and its index check, side by side
            methods = (
                {name: t.method for name, t in manifest.fingerprint.tables.items()} if manifest.fingerprint else {}
            )
            taking = checks.submit(postgres.fingerprint_of, server.conninfo(DRILL_DATABASE), methods)
            index_check = checks.submit(postgres.amcheck, admin, DRILL_DATABASE, thorough)
            return taking.result(), index_check.result()
    except ToolError as error:
        if server.running and not (error.exit_code < 0 or NOT_THE_BACKUP.search(error.stderr)):
            raise
        gone = "" if server.running else f" (the drill's own server stopped: {server.log_tail()})"
        raise DrillStopped(f"the drill's restore stopped, not for the backup's sake: {_reason(error)}{gone}") from error
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise DrillStopped(f"the drill lost its own PostgreSQL: {first} ({server.log_tail()})") from error
