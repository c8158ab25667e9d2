"""`python -m backup_runner COMMAND`: the backup container's entry point.

Configuration comes from the environment, as the stacks set it:
    DATABASE_URL            the database to back up (restore uses its server; verify only its name,
                            to drill that database's backups: drills never touch the live server)
    DRILL_DIR               where verify runs its own throwaway PostgreSQL (default: the temporary
                            directory); it needs room for the dump, the database as large as it
                            was when backed up, and 256 MiB (it checks before it starts)
    DRILL_PG_BIN            optional: the PostgreSQL server binaries for the drill (default: the
                            newest /usr/lib/postgresql/*/bin, which the runner image carries)
    BACKUP_DESTINATION      a directory, or s3://bucket/prefix (with AWS_ENDPOINT_URL,
                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for S3-compatible stores)
    RETAIN_DAILY, RETAIN_WEEKLY, RETAIN_MONTHLY   how many of each to keep per database (prune):
                            0-366, 0-520, 0-1200
    BACKUP_HEARTBEAT        the scheduler's heartbeat file (schedule, health)
    PUSHGATEWAY_URL         optional: a Prometheus Pushgateway (http://host:9091; user:password@
                            for basic auth) that run, verify and schedule report to (job="backup"):
                            mvs_backup_last_success_timestamp_seconds, mvs_backup_last_duration_seconds
                            and mvs_backup_last_size_bytes after a good run only;
                            mvs_backup_last_failure_timestamp_seconds after a failed one;
                            mvs_drill_last_run_timestamp_seconds and mvs_drill_last_passed (1/0) after
                            every drill, mvs_drill_last_success_timestamp_seconds after one that passed.
                            Unset: nothing is pushed. Unreachable: one warning line, same exit code.
    BACKUP_STACK            optional: the stack name, added to the pushed group as stack=<name>

Exit codes: 0 done (verify: passed), 1 verify failed (the backup is bad), 2 bad usage or
configuration, 3 a backup is corrupt, 4 restore refused, 5 any other failure (a drill that stopped
for a reason that is not the backup's: it stays unverified), 130 interrupted.
Every failure ends with one line saying what failed and what to do; no password or key from
the settings is ever printed, and none is passed to pg_dump or pg_restore on their command line.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator

from components.errors import BackupError

from . import metrics, operations, postgres
from .catalog import read_catalog
from .destinations import Destination, open_destination
from .drills import describe, last_drill
from .failures import EXIT_VERIFY_FAILED, Redacting, explain
from .manifest import Manifest
from .schedule import Job, healthy, run_schedule
from .settings import Settings, known_secrets, read_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backup-runner", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="take a backup now")
    commands.add_parser("list", help="list verified, unverified, bad and incomplete backups, and the last drill")
    prune = commands.add_parser("prune", help="delete what the retention does not keep, and abandoned leftovers")
    prune.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    restore = commands.add_parser(
        "restore", help="restore a backup (default: the newest verified one of DATABASE_URL's database)"
    )
    restore.add_argument("--backup", help="backup id (see list)")
    restore.add_argument("--source-db", help="restore a backup of this database (another than DATABASE_URL's)")
    restore.add_argument("--target-db", help="default: a new database named after the backup")
    restore.add_argument(
        "--force", action="store_true", help="replace a non-empty target (its data is kept as <target>_before_<id>)"
    )
    verify = commands.add_parser(
        "verify", help="the drill: restore into a PostgreSQL of its own and compare with the source's snapshot"
    )
    verify.add_argument("--backup", help="backup id (default: the newest restorable one); drills a bad one again too")
    verify.add_argument("--thorough", action="store_true", help="also check that every row is in its indexes")
    schedule = commands.add_parser("schedule", help="stay running; back up (and prune, and verify) on cron schedules")
    schedule.add_argument("--backup-cron", required=True, help="when to back up and prune (UTC cron)")
    schedule.add_argument("--verify-cron", help="when to run the restore drill (UTC cron)")
    commands.add_parser("health", help="exit 0 when the scheduler's heartbeat is fresh")
    return parser


@contextlib.contextmanager
def _operator_output(secrets: list[str]) -> Iterator[None]:
    """Secrets kept out of stdout and stderr, and SIGTERM (docker stop) handled like Ctrl-C so
    that a stopped run removes what it wrote."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Redacting(sys.stdout, secrets), Redacting(sys.stderr, secrets)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.stdout, sys.stderr = streams


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


def _print_list(destination: Destination) -> None:
    catalog = read_catalog(destination)
    for backup in catalog.backups:
        line = f"{backup.backup_id}  {backup.state:<10}"
        if backup.restorable:
            line += f"  {backup.manifest.size_bytes:>12} bytes  {backup.manifest.database}  ({backup.reason})"
        else:
            line += f"  {backup.reason}"
        print(line + (f"  FLAGGED: {backup.flag}; never chosen by default" if backup.flag else ""))
    for leftover in catalog.leftovers:
        print(f"left by an interrupted run: {leftover.what} (last written {leftover.last_activity:%Y-%m-%d %H:%M}Z)")
    for key in catalog.foreign:
        print(f"foreign: {key} is not a backup of this runner (its name is not a backup id); left alone")
    print(describe(last_drill(destination)))


def _print_pruned(pruned: operations.Pruned, dry_run: bool = False) -> None:
    verb = "would delete" if dry_run else "deleted"
    print(f"prune: {verb} {len(pruned.deleted)}: {', '.join(pruned.deleted) or '-'}")
    for leftover in pruned.discarded:
        print(f"prune: {'would remove' if dry_run else 'removed'} {leftover}")
    for backup_id in pruned.corrupt:
        marked = "would mark" if dry_run else "marked"
        print(f"prune: {backup_id} no longer matches its sha256; {marked} it bad and kept it")
    if pruned.floor:
        print(f"prune: kept as proven restorable (dump checked whole just now): {', '.join(pruned.floor)}")


def take_backup(url: str, destination: Destination) -> Manifest:
    """A backup, and the Pushgateway told of it when it is good (a failure: see _reported)."""
    started = time.monotonic()
    manifest = operations.run_backup(url, destination)
    metrics.backup_succeeded(manifest.size_bytes, time.monotonic() - started)
    return manifest


def _reported(command: str, body: Callable[[], int]) -> int:
    """`body`, with the Pushgateway told how a backup run or a drill ended (metrics.py): a run that
    raised is a failed run, a drill that raised or returned non-zero a failed drill."""
    if command not in ("run", "verify"):
        return body()
    try:
        code = body()
    except BaseException:
        if command == "run":
            metrics.backup_failed()
        else:
            metrics.drill_finished(passed=False)
        raise
    if command == "verify":
        metrics.drill_finished(passed=code == 0)
    return code


def backup_and_prune(settings: Settings, destination: Destination) -> None:
    """The scheduler's backup job; it logs what the prune deleted, so the container log says."""

    def backup() -> int:
        print(f"backup {take_backup(settings.database_url, destination).backup_id}: good")
        return 0

    _reported("run", backup)
    _print_pruned(operations.prune(destination, settings.retention))


def _drill(settings: Settings, destination: Destination, backup_id: str | None = None, thorough: bool = False):
    database = postgres.database_of(settings.database_url) if settings.database_url else None
    return operations.verify(destination, backup_id, thorough=thorough, database=database, drill_dir=settings.drill_dir)


def _verify_or_raise(settings: Settings, destination: Destination) -> None:
    def drill() -> int:
        result = _drill(settings, destination)
        if not result.passed:
            raise BackupError(f"verify {result.backup_id} failed: {'; '.join(result.problems)}")
        return 0

    _reported("verify", drill)


def _run(args: argparse.Namespace) -> int:
    settings = read_settings(needs_database=args.command in ("run", "restore", "schedule"))
    destination = open_destination(settings.destination_url)
    url = settings.database_url
    if args.command == "list":
        _print_list(destination)
    elif args.command == "prune":
        _print_pruned(operations.prune(destination, settings.retention, dry_run=args.dry_run), args.dry_run)
    elif args.command == "schedule":
        jobs = [Job("backup", args.backup_cron, lambda: backup_and_prune(settings, destination))]
        if args.verify_cron:
            jobs.append(Job("verify", args.verify_cron, lambda: _verify_or_raise(settings, destination)))
        run_schedule(jobs, on_failure=lambda job, error: _print_failure(error, job))
    elif args.command == "run":
        print(take_backup(url, destination).backup_id)
    elif args.command == "restore":
        restored = operations.restore(
            url, destination, args.target_db, args.backup, args.force, source_db=args.source_db
        )
        kept = f"; the data it replaced is in {restored.kept_as}" if restored.kept_as else ""
        print(f"restored {restored.manifest.backup_id} into {restored.target}{kept}")
    else:
        result = _drill(settings, destination, args.backup, args.thorough)
        if not result.passed:
            print(f"verify {result.backup_id}: FAILED", file=sys.stderr)
            for problem in result.problems:
                print(f"  - {problem}", file=sys.stderr)
            return EXIT_VERIFY_FAILED
        print(f"verify {result.backup_id}: passed ({result.compared} match the source; amcheck {result.amcheck})")
    return 0


def _print_failure(error: BaseException, command: str) -> int:
    explained = explain(error, command)
    if explained.details:
        print(explained.details, file=sys.stderr)
    print(f"backup-runner: {explained.line}", file=sys.stderr, flush=True)
    return explained.exit_code


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "health":
        return 0 if healthy() else EXIT_VERIFY_FAILED
    with _operator_output(known_secrets()):
        try:
            return _reported(args.command, lambda: _run(args))
        except BaseException as error:  # the one place a failure becomes a message and an exit code
            if isinstance(error, SystemExit):
                raise
            return _print_failure(error, args.command)
