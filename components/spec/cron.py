"""Cron schedules as Railway runs them: five fields, UTC, and runs at least 5 minutes apart."""

from __future__ import annotations

import itertools
import re

MIN_INTERVAL_MINUTES = 5
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _minutes(field: str) -> list[int] | None:
    """The minutes a minute field fires at, or None when it cannot be expanded."""
    result: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            return None
        if base == "*":
            low, high = 0, 59
        elif "-" in base:
            low, high = (int(x) for x in base.split("-"))
        else:
            low = high = int(base)
            if step_text:
                high = 59
        result.update(range(low, high + 1, step))
    return sorted(result)


def cron_problem(schedule: str) -> str | None:
    """Why `schedule` is not acceptable, or None."""
    fields = schedule.split()
    if len(fields) != 5:
        return f"it has {len(fields)} fields, not 5"
    for field, (low, high), name in zip(fields, _RANGES, ("minute", "hour", "day", "month", "weekday"), strict=True):
        if not _FIELD.match(field):
            return f"the {name} field {field!r} is not a cron field"
        numbers = [int(n) for n in re.findall(r"\d+", field.split("/")[0])]
        if any(n < low or n > high for n in numbers):
            return f"the {name} field {field!r} is outside {low}-{high}"
    minutes = _minutes(fields[0])
    if minutes is None:
        return "the minute field has a zero step"
    if fields[1] == "*" or "/" in fields[1] or "," in fields[1] or "-" in fields[1] or len(minutes) > 1:
        gaps = [b - a for a, b in itertools.pairwise(minutes)] + [60 - minutes[-1] + minutes[0]]
        if min(gaps) < MIN_INTERVAL_MINUTES:
            return f"it runs {min(gaps)} minute(s) apart"
    return None
