"""Deployment logs: the lines each deployment wrote, and `deploymentLogs` / `buildLogs` over them.

Every deployment keeps two streams, as Railway shows them: `build` (the image pulled, the health
check) and `deploy` (the container starting and stopping, then what the app prints). The
lifecycle writes the first lines; the admin API appends app output (POST /_emulator/logs).

Timestamps are RFC 3339 with nanoseconds, as Railway sends them, and strictly increase within a
deployment, so a follower that asks for the lines since the last one it saw gets no gaps.

How the query arguments are read (the schema gives their names and "limit defaults 100, max 5000"):
- `startDate` / `endDate` bound the lines by timestamp, both inclusive;
- `filter` is Railway's search syntax, in the part the project uses: words and "quoted phrases"
  the message must contain (case-insensitive, all of them), `-word` it must not contain, and
  `@level:error` (or `@severity:`) for the severity; an empty filter matches every line;
- `limit` (default 100, at most 5000) keeps the newest lines of the range, except when only a
  `startDate` is given: then it keeps the oldest ones after it, so paging forward loses nothing.
Lines come back oldest first.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from typing import Any

from .store import clock_ns

DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
STREAMS = ("build", "deploy")
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


class LogQueryRefused(ValueError):
    """Arguments Railway would refuse (BAD_USER_INPUT)."""


def format_ns(ns: int) -> str:
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction:09d}Z"


def parse_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 date (`2026-09-01T12:00:00.123456789Z`)."""
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise LogQueryRefused(f"{text!r} is not an RFC 3339 date-time")
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


def append(
    state: dict[str, Any],
    deployment: dict[str, Any],
    stream: str,
    message: str,
    severity: str = "info",
    attributes: dict[str, str] | None = None,
    at_ns: int | None = None,
) -> dict[str, Any]:
    """Record one line of `deployment`, timestamped now or `at_ns` (the emulator's clock), and
    always after its previous line."""
    lines = state.setdefault("logs", {}).setdefault(deployment["id"], [])
    ns = max(clock_ns(state) if at_ns is None else at_ns, lines[-1]["_ns"] + 1 if lines else 0)
    line = {
        "_ns": ns,
        "_stream": stream,
        "timestamp": format_ns(ns),
        "message": message,
        "severity": severity,
        "attributes": [{"key": k, "value": str(v)} for k, v in (attributes or {}).items()],
        "tags": {
            "deploymentId": deployment["id"],
            "deploymentInstanceId": None,
            "environmentId": deployment["environmentId"],
            "projectId": deployment["projectId"],
            "serviceId": deployment["serviceId"],
            "snapshotId": deployment.get("snapshotId"),
        },
    }
    lines.append(line)
    return line


def _matches(line: dict[str, Any], terms: list[str]) -> bool:
    message = line["message"].lower()
    for term in terms:
        negated = term.startswith("-") and len(term) > 1
        word = term[1:] if negated else term
        if word.startswith(("@level:", "@severity:")):
            found = (line.get("severity") or "").lower() == word.split(":", 1)[1].lower()
        else:
            found = word.lower() in message
        if found == negated:
            return False
    return True


def query(
    state: dict[str, Any],
    deployment_id: str,
    stream: str,
    limit: int | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    filter: str | None = None,
) -> list[dict[str, Any]]:
    """The lines of one stream of a deployment that the arguments select (see the module docstring)."""
    limit = DEFAULT_LIMIT if limit is None else limit
    if limit < 0:
        raise LogQueryRefused("limit must not be negative")
    limit = min(limit, MAX_LIMIT)
    start = parse_ns(start_date) if start_date is not None else None
    end = parse_ns(end_date) if end_date is not None else None
    try:
        terms = shlex.split(filter or "")
    except ValueError:
        raise LogQueryRefused(f"cannot read the filter {filter!r}") from None
    selected = [
        line
        for line in state.get("logs", {}).get(deployment_id, [])
        if line["_stream"] == stream
        and (start is None or line["_ns"] >= start)
        and (end is None or line["_ns"] <= end)
        and _matches(line, terms)
    ]
    if limit == 0:
        selected = []
    elif start is not None and end is None:
        selected = selected[:limit]
    else:
        selected = selected[-limit:]
    return [{k: v for k, v in line.items() if not k.startswith("_")} for line in selected]
