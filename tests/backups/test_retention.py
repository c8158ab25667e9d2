"""Grandfather-father-son retention over a simulated 120 days."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

from backup_runner import operations
from backup_runner.catalog import read_catalog
from backup_runner.destinations import DirectoryDestination
from backup_runner.manifest import Manifest, dump_key, manifest_key, new_id
from backup_runner.retention import Retention, backups_to_keep

START = datetime(2026, 8, 1, 3, 0, tzinfo=UTC)  # a Saturday
DAYS = 120


IDS = {START + timedelta(days=d): new_id(START + timedelta(days=d)) for d in range(DAYS)}  # one run a day


def daily_backups() -> list[tuple[datetime, str]]:
    return list(IDS.items())


def expected_ids(policy: Retention) -> set[str]:
    """The rule written out longhand, independently of retention.py's loop."""
    last = START + timedelta(days=DAYS - 1)  # 2026-11-28
    days = [last - timedelta(days=d) for d in range(policy.daily)]
    keep = {IDS[day] for day in days}
    # weekly: the newest backup of each of the last `weekly` ISO weeks = that week's Sunday, or `last`
    week_ends = [last] + [last - timedelta(days=last.isoweekday() + 7 * w) for w in range(policy.weekly - 1)]
    keep |= {IDS[day] for day in week_ends}
    # monthly: the last day of each month (the newest backup in it), or `last` for the current month
    month_ends = [last, datetime(2026, 10, 31, 3, tzinfo=UTC), datetime(2026, 9, 30, 3, tzinfo=UTC)]
    month_ends += [datetime(2026, 8, 31, 3, tzinfo=UTC)]
    keep |= {IDS[day] for day in month_ends[: policy.monthly]}
    return keep


def test_120_days_of_daily_backups_keep_exactly_the_expected_set():
    policy = Retention(daily=7, weekly=4, monthly=3)
    kept = backups_to_keep(daily_backups(), policy)
    assert kept == expected_ids(policy)
    assert len(kept) == 7 + 2 + 2  # one week and one month end fall inside the 7 days


def test_all_counts_zero_still_keeps_the_newest_good_backup():
    kept = backups_to_keep(daily_backups(), Retention(daily=0, weekly=0, monthly=0))
    assert kept == {IDS[START + timedelta(days=DAYS - 1)]}


def fake_backup(destination: DirectoryDestination, taken: datetime, manifest: bool = True) -> str:
    """A backup as a run at `taken` leaves it, its files last written then."""
    backup_id = IDS.get(taken) or new_id(taken)
    destination.put(dump_key(backup_id), io.BytesIO(b"dump"))
    if manifest:
        record = Manifest(
            backup_id=backup_id,
            database="mvs",
            server_version="15.18",
            size_bytes=4,
            sha256="0" * 64,
            row_counts={},
            started_at=taken,
            finished_at=taken,
        )
        destination.put(manifest_key(backup_id), io.BytesIO(record.model_dump_json().encode()))
    for key in (dump_key(backup_id), manifest_key(backup_id)):
        if (destination.path / key).exists():
            os.utime(destination.path / key, (taken.timestamp(), taken.timestamp()))
    return backup_id


def test_prune_deletes_exactly_what_retention_drops_and_dry_run_nothing(tmp_path):
    destination = DirectoryDestination(tmp_path / "backups")
    ids = [fake_backup(destination, when) for when, _ in daily_backups()]
    now = START + timedelta(days=DAYS)
    stale = fake_backup(destination, START + timedelta(days=10, hours=1), manifest=False)
    fresh = fake_backup(destination, now - timedelta(minutes=20), manifest=False)  # its run may still be going
    policy = Retention(daily=7, weekly=4, monthly=3)

    planned = operations.prune(destination, policy, dry_run=True, now=now)
    assert len(destination.entries()) == 2 * DAYS + 2, "a dry run deletes nothing"
    pruned = operations.prune(destination, policy, now=now)
    assert pruned == planned
    assert set(pruned.deleted) == set(ids) - expected_ids(policy)
    assert pruned.discarded == [f"incomplete backup {stale}"]
    remaining = read_catalog(destination)
    assert {m.backup_id for m in remaining.restorable} == expected_ids(policy)
    assert [b.backup_id for b in remaining.in_state("incomplete")] == [fresh], "a live run's dump is left alone"
