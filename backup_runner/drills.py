"""The restore drill's records, kept beside the backups.

- `last-drill.json`: the last drill's outcome. `verify` writes it when it starts (status
  `running`) and again when it ends, whatever went wrong, so a drill that was interrupted or
  failed never leaves an older "passed" standing. `list` prints it, and the stacks'
  `last_drill` output reads it (components/last_drill.py), so this module needs nothing but a
  destination.
- `<backup id>.verdict.json`: what the last drill of that one backup found. A backup that failed
  its drill is not counted as restorable (catalog.py) until a later drill passes.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from .destinations import Destination
from .manifest import LAST_DRILL_KEY, verdict_key

RUNNING, PASSED, FAILED = "running", "passed", "failed"


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
    destination: Destination, backup_id: str | None, problems: list[str], amcheck: str, started_at: str | None = None
) -> None:
    """Keep the last drill's outcome beside the backups, where `list` (and people) can find it."""
    record = {
        "status": FAILED if problems else PASSED,
        "backup_id": backup_id,
        "passed": not problems,
        "problems": problems,
        "amcheck": amcheck,
        "started_at": started_at,
        "finished_at": _now(),
    }
    _write(destination, LAST_DRILL_KEY, record)


def record_verdict(destination: Destination, backup_id: str, problems: list[str]) -> None:
    verdict = {"backup_id": backup_id, "passed": not problems, "problems": problems, "at": _now()}
    _write(destination, verdict_key(backup_id), verdict)


def last_drill(destination: Destination) -> dict | None:
    """The record, or None when no drill has run against this destination."""
    data = destination.read_if_present(LAST_DRILL_KEY)
    return None if data is None else json.loads(data)


def describe(record: dict | None) -> str:
    """One line for `list`."""
    if record is None:
        return "last drill: never ran"
    status = record.get("status") or (PASSED if record.get("passed") else FAILED)
    if status == RUNNING:
        return f"last drill: started {record.get('started_at')} and has not finished (running, or interrupted)"
    outcome = "passed" if status == PASSED else "FAILED: " + "; ".join(record.get("problems") or [])
    backup = f"on {record['backup_id']}" if record.get("backup_id") else "before any backup was restored"
    return f"last drill: {record.get('finished_at')} {backup}, {outcome}"
