"""The dev scheduler: cron arithmetic, the loop with a fake clock, and the heartbeat check."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from backup_runner.schedule import Job, healthy, run_schedule
from components.spec.cron import next_run

FRIDAY = datetime(2026, 11, 27, 18, 26, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("15 3 * * *", datetime(2026, 11, 28, 3, 15, tzinfo=UTC)),
        ("0 */6 * * *", datetime(2026, 11, 28, 0, 0, tzinfo=UTC)),
        ("*/5 * * * *", datetime(2026, 11, 27, 18, 30, tzinfo=UTC)),
        ("45 4 * * 0", datetime(2026, 11, 29, 4, 45, tzinfo=UTC)),  # Sunday
        ("45 4 * * 7", datetime(2026, 11, 29, 4, 45, tzinfo=UTC)),  # 7 is Sunday too
        ("0 0 1 * *", datetime(2026, 12, 1, 0, 0, tzinfo=UTC)),
        ("0 12 13 * 5", datetime(2026, 12, 4, 12, 0, tzinfo=UTC)),  # day 13 OR a Friday
        ("30 2 29 2 *", datetime(2028, 2, 29, 2, 30, tzinfo=UTC)),  # the next leap day
    ],
)
def test_next_run(schedule, expected):
    assert next_run(schedule, FRIDAY) == expected


class FakeClock:
    def __init__(self, start: datetime):
        self.now = start
        self.naps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_jobs_run_when_due_and_a_failure_does_not_stop_the_schedule(tmp_path):
    clock = FakeClock(datetime(2026, 11, 28, 3, 14, 30, tzinfo=UTC))
    ran: list[tuple[str, datetime]] = []

    def failing_verify():
        ran.append(("verify", clock.now))
        raise RuntimeError("row counts differ")

    jobs = [
        Job("backup", "15 3 * * *", lambda: ran.append(("backup", clock.now))),
        Job("verify", "*/5 * * * *", failing_verify),
    ]
    heartbeat = tmp_path / "heartbeat"
    run_schedule(jobs, clock=clock, sleep=clock.sleep, heartbeat=heartbeat, rounds=7)

    assert ("backup", datetime(2026, 11, 28, 3, 15, tzinfo=UTC)) in ran
    assert [when for name, when in ran if name == "verify"] == [
        datetime(2026, 11, 28, 3, 15, tzinfo=UTC),
        datetime(2026, 11, 28, 3, 20, tzinfo=UTC),
    ]
    assert all(nap <= 60 for nap in clock.naps), "it wakes at least every minute to beat"
    record = json.loads(heartbeat.read_text())
    assert record["jobs"]["backup"].startswith("ok at 2026-11-28T03:15")
    assert "failed at" in record["jobs"]["verify"] and "row counts differ" in record["jobs"]["verify"]


def test_health_follows_the_heartbeat(tmp_path):
    heartbeat = tmp_path / "heartbeat"
    assert not healthy(heartbeat)
    heartbeat.write_text("{}")
    assert healthy(heartbeat)
    old = heartbeat.stat().st_mtime - 600
    os.utime(heartbeat, (old, old))
    assert not healthy(heartbeat)
