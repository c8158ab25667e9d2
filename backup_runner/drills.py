"""The restore drill's records, kept beside the backups.

- `last-drill.json`: the last drill's outcome. `verify` writes it when it starts (status
  `running`) and again when it ends, however it ends, so a drill that was interrupted or failed
  never leaves an older "passed" standing. Its status says whose fault a failure was: `failed`
  when the backup is bad (its dump cannot be restored, or what it restores differs from the
  source), `stopped` when the drill could not finish for a reason that says nothing about the
  backup (no room, killed, its own server lost). `list` prints it, and the stacks' `last_drill`
  output reads it (components/last_drill.py), so this module needs nothing but a destination.
- `<backup id>.verdict.json`: what the last drill that finished found about that one backup,
  with the sha256 of the dump it restored. A pass makes the backup `verified`, a failure `bad`
  (catalog.py); a stopped drill writes none, so the backup keeps what it had and the next drill
  tries again; `verify --backup ID` re-drills, and its pass replaces an earlier failure.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from components.drill_record import (
    FAILED,
    LAST_DRILL_KEY,
    PASSED,
    RUNNING,
    STOPPED,
    UNREADABLE,
    parse_record,
)

from .destinations import Destination
from .manifest import verdict_key


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write(destination: Destination, key: str, record: dict) -> None:
    destination.put(key, io.BytesIO(json.dumps(record, indent=1).encode()), overwrite=True)


def record_drill_started(destination: Destination) -> str:
    started_at = _now()
    record = {"status": RUNNING, "passed": False, "problems": [], "started_at": started_at, "finished_at": None}
    _write(destination, LAST_DRILL_KEY, {**record, "backup_id": None, "amcheck": "not run"})
    return started_at


def record_drill(
    destination: Destination,
    backup_id: str | None,
    problems: list[str],
    amcheck: str,
    started_at: str | None = None,
    status: str | None = None,
) -> None:
    """Keep the last drill's outcome beside the backups, where `list` (and people) can find it.
    `status` defaults to passed or failed by the problems; a drill that could not finish is STOPPED."""
    record = {
        "status": status or (FAILED if problems else PASSED),
        "backup_id": backup_id,
        "passed": not problems,
        "problems": problems,
        "amcheck": amcheck,
        "started_at": started_at,
        "finished_at": _now(),
    }
    _write(destination, LAST_DRILL_KEY, record)


def record_verdict(destination: Destination, backup_id: str, problems: list[str], sha256: str | None) -> None:
    verdict = {"backup_id": backup_id, "passed": not problems, "problems": problems, "at": _now(), "sha256": sha256}
    _write(destination, verdict_key(backup_id), verdict)


def last_drill(destination: Destination) -> dict | None:
    """The record (components/drill_record.py: None before any drill, UNREADABLE when damaged)."""
    return parse_record(destination.read_if_present(LAST_DRILL_KEY))


def describe(record: dict | None) -> str:
    """One line for `list`."""
    if record is None:
        return "last drill: never ran"
    status = record.get("status") or (PASSED if record.get("passed") else FAILED)
    problems = "; ".join(str(problem) for problem in record.get("problems") or [])
    if status == UNREADABLE:
        return f"last drill: unknown, {problems}"
    if status == RUNNING:
        return f"last drill: started {record.get('started_at')} and has not finished (running, or interrupted)"
    if status == PASSED:
        outcome = "passed"
    elif status == STOPPED:
        outcome = f"STOPPED (the backup stays unverified; the next drill tries again): {problems}"
    else:
        outcome = f"FAILED: {problems}"
    backup = f"on {record['backup_id']}" if record.get("backup_id") else "before any backup was restored"
    return f"last drill: {record.get('finished_at')} {backup}, {outcome}"
