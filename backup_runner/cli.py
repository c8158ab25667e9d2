"""`python -m backup_runner COMMAND`: the backup container's entry point.

Configuration comes from the environment, as the stacks set it:
    DATABASE_URL            the database to back up (restore and verify use its server)
    BACKUP_DESTINATION      a directory, or s3://bucket/prefix (with AWS_ENDPOINT_URL,
                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for S3-compatible stores)
    RETAIN_DAILY, RETAIN_WEEKLY, RETAIN_MONTHLY   how many of each to keep (prune)
    BACKUP_HEARTBEAT        the scheduler's heartbeat file (schedule, health)

Exit codes: 0 done (verify: passed), 1 verify failed, 2 bad usage or configuration,
3 a backup is corrupt, 4 restore refused, 5 any other failure.
"""

from __future__ import annotations

import argparse
import os
import sys

from components.errors import BackupCorrupt, MvsError, RestoreRefused

from . import operations
from .destinations import open_destination
from .drills import last_drill
from .retention import Retention
from .schedule import Job, healthy, run_schedule

EXIT_VERIFY_FAILED, EXIT_USAGE, EXIT_CORRUPT, EXIT_REFUSED, EXIT_FAILED = 1, 2, 3, 4, 5


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"backup-runner: set {name} (see `python -m backup_runner --help`)")
    return value


def _retention() -> Retention:
    return Retention(
        **{
            k: int(os.environ[f"RETAIN_{k.upper()}"])
            for k in ("daily", "weekly", "monthly")
            if os.environ.get(f"RETAIN_{k.upper()}")
        }
    )


def _backup_and_prune(url: str, destination) -> None:
    operations.run_backup(url, destination)
    operations.prune(destination, _retention())


def _verify_or_raise(url: str, destination) -> None:
    result = operations.verify(url, destination)
    if not result.passed:
        raise MvsError(f"verify {result.backup_id} failed: {'; '.join(result.problems)}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="backup-runner", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="take a backup now")
    commands.add_parser("list", help="list good and incomplete backups")
    prune = commands.add_parser("prune", help="delete what the retention does not keep")
    prune.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    restore = commands.add_parser("restore", help="restore a backup (the newest good one by default)")
    restore.add_argument("--backup", help="backup id (see list)")
    restore.add_argument("--target-db", help="default: a new database named after the backup")
    restore.add_argument("--force", action="store_true", help="replace the contents of a non-empty target")
    verify = commands.add_parser("verify", help="restore into a scratch database and check it")
    verify.add_argument("--backup", help="backup id (default: the newest good one)")
    verify.add_argument("--thorough", action="store_true", help="also check that every row is in its indexes")
    schedule = commands.add_parser("schedule", help="stay running; back up (and prune, and verify) on cron schedules")
    schedule.add_argument("--backup-cron", required=True, help="when to back up and prune (UTC cron)")
    schedule.add_argument("--verify-cron", help="when to run the restore drill (UTC cron)")
    commands.add_parser("health", help="exit 0 when the scheduler's heartbeat is fresh")
    args = parser.parse_args(argv)

    if args.command == "health":
        return 0 if healthy() else EXIT_VERIFY_FAILED

    destination = open_destination(_require("BACKUP_DESTINATION"))
    try:
        if args.command == "list":
            listing = operations.list_backups(destination)
            for manifest in listing.good:
                print(f"{manifest.backup_id}  good  {manifest.size_bytes:>12} bytes  {manifest.database}")
            for backup_id in listing.incomplete:
                print(f"{backup_id}  incomplete")
            drill = last_drill(destination)
            if drill is None:
                print("last drill: never ran")
            else:
                outcome = "passed" if drill["passed"] else "FAILED: " + "; ".join(drill["problems"])
                print(f"last drill: {drill['finished_at']} on {drill['backup_id']}, {outcome}")
            return 0
        if args.command == "prune":
            deleted = operations.prune(destination, _retention(), dry_run=args.dry_run)
            verb = "would delete" if args.dry_run else "deleted"
            print(f"{verb} {len(deleted)}: {', '.join(deleted) or '-'}")
            return 0
        url = _require("DATABASE_URL")
        if args.command == "schedule":
            jobs = [Job("backup", args.backup_cron, lambda: _backup_and_prune(url, destination))]
            if args.verify_cron:
                jobs.append(Job("verify", args.verify_cron, lambda: _verify_or_raise(url, destination)))
            run_schedule(jobs)
            return 0
        if args.command == "run":
            manifest = operations.run_backup(url, destination)
            print(manifest.backup_id)
            return 0
        if args.command == "restore":
            manifest, target = operations.restore(url, destination, args.target_db, args.backup, args.force)
            print(f"restored {manifest.backup_id} into {target}")
            return 0
        result = operations.verify(url, destination, args.backup, thorough=args.thorough)
        if result.passed:
            print(f"verify {result.backup_id}: passed (row counts match; amcheck {result.amcheck})")
            return 0
        print(f"verify {result.backup_id}: FAILED", file=sys.stderr)
        for problem in result.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_VERIFY_FAILED
    except BackupCorrupt as error:
        print(f"backup-runner: {error}", file=sys.stderr)
        return EXIT_CORRUPT
    except RestoreRefused as error:
        print(f"backup-runner: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except MvsError as error:
        print(f"backup-runner: {error}", file=sys.stderr)
        return EXIT_FAILED
