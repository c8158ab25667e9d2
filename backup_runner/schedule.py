"""`schedule`: the runner as a long-running process, for the dev stack (Docker has no cron).

It sleeps until the next time a job's cron schedule fires, runs the job, and keeps a heartbeat
file fresh so the container's health check (`health`) can tell a live scheduler from a stuck one.
A failed job is reported and the schedule goes on: the next run may succeed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from components.spec.cron import next_run

HEARTBEAT_ENV = "BACKUP_HEARTBEAT"
DEFAULT_HEARTBEAT = "/tmp/backup-runner.heartbeat"
MAX_NAP_SECONDS = 60.0
STALE_AFTER_SECONDS = 180.0


def heartbeat_path() -> Path:
    return Path(os.environ.get(HEARTBEAT_ENV) or DEFAULT_HEARTBEAT)


@dataclass
class Job:
    name: str
    cron: str
    action: Callable[[], object]
    last_result: str = "never ran"


def beat(jobs: list[Job], now: datetime, path: Path) -> None:
    record = {"at": now.isoformat(), "jobs": {job.name: job.last_result for job in jobs}}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


def _print_failure(job: str, error: Exception) -> None:
    print(f"backup-runner: {job} failed: {error}", flush=True)


def run_schedule(
    jobs: list[Job],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    heartbeat: Path | None = None,
    rounds: int | None = None,
    on_failure: Callable[[str, Exception], object] = _print_failure,
) -> None:
    """Run each job whenever its schedule fires. `rounds` bounds the loop (for tests). A failed job
    is reported through `on_failure` (one line, no traceback) and the schedule goes on."""
    heartbeat = heartbeat or heartbeat_path()
    due = {job.name: next_run(job.cron, clock()) for job in jobs}
    done = 0
    while rounds is None or done < rounds:
        now = clock()
        beat(jobs, now, heartbeat)
        for job in jobs:
            if now >= due[job.name]:
                try:
                    job.action()
                    job.last_result = f"ok at {now.isoformat()}"
                except Exception as error:  # keep the schedule alive; the next run may work
                    job.last_result = f"failed at {now.isoformat()}: {error}"
                    on_failure(job.name, error)
                due[job.name] = next_run(job.cron, clock())
                beat(jobs, clock(), heartbeat)
        wait = min(d for d in due.values()) - clock()
        sleep(max(0.0, min(wait.total_seconds(), MAX_NAP_SECONDS)))
        done += 1


def healthy(path: Path | None = None, now: float | None = None) -> bool:
    """True when the scheduler wrote its heartbeat recently."""
    path = path or heartbeat_path()
    if not path.exists():
        return False
    return (now or time.time()) - path.stat().st_mtime < STALE_AFTER_SECONDS
