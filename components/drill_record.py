"""The restore drill's record, `last-drill.json`, as both its writer and its readers know it.

The backup runner writes it beside the backups (backup_runner/drills.py); the stacks' `last_drill`
output reads it from the bucket or the dev backup container (components/last_drill.py). Both sides
take its name, its statuses and how a damaged one reads from here, so the components need nothing
of the runner and the runner nothing of the stacks.
"""

from __future__ import annotations

import json
from typing import Any

LAST_DRILL_KEY = "last-drill.json"
RUNNING, PASSED, FAILED, STOPPED, UNREADABLE = "running", "passed", "failed", "stopped", "unreadable"


def parse_record(data: bytes | None) -> dict[str, Any] | None:
    """The record, None when no drill has run, or an UNREADABLE record saying why when it cannot be
    read (damaged by hand or by a disk): never an exception, so a bad record never stops `list` or
    a stack's outputs, and the next drill writes a good one."""
    if data is None:
        return None
    try:
        record = json.loads(data)
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
    except (ValueError, UnicodeDecodeError) as error:
        reason = f"{LAST_DRILL_KEY} cannot be read ({str(error).splitlines()[0][:80]}); the next drill rewrites it"
        return {"status": UNREADABLE, "passed": False, "problems": [reason], "backup_id": None, "finished_at": None}
    return record
