"""The last restore drill's record, kept beside the backups as `last-drill.json`.

`verify` writes it whatever the outcome; `list` prints it, and the stacks' `last_drill` output
reads it (components/last_drill.py), so this module needs nothing but a destination.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from .destinations import Destination
from .manifest import LAST_DRILL_KEY


def record_drill(destination: Destination, backup_id: str, problems: list[str], amcheck: str) -> None:
    """Keep the last drill's outcome beside the backups, where `list` (and people) can find it."""
    record = {
        "backup_id": backup_id,
        "passed": not problems,
        "problems": problems,
        "amcheck": amcheck,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    destination.put(LAST_DRILL_KEY, io.BytesIO(json.dumps(record, indent=1).encode()))


def last_drill(destination: Destination) -> dict | None:
    """The record, or None when no drill has run against this destination."""
    data = destination.read_if_present(LAST_DRILL_KEY)
    return None if data is None else json.loads(data)
