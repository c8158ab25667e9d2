"""Cron schedules as Railway runs them: five fields, UTC, and runs at least 5 minutes apart."""

from __future__ import annotations

import functools
import itertools
import re
from datetime import UTC, datetime, timedelta

MIN_INTERVAL_MINUTES = 5
_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def expand(field: str, low: int = 0, high: int = 59) -> list[int] | None:
    """The values a cron field stands for within [low, high], or None when it cannot be expanded."""
    result: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            return None
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first, last = (int(x) for x in base.split("-"))
        else:
            first = last = int(base)
            if step_text:
                last = high
        result.update(range(first, last + 1, step))
    return sorted(result)


def _minutes(field: str) -> list[int] | None:
    return expand(field, 0, 59)


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time after `after` (UTC, whole minutes) that `schedule` fires, as cron reads it:
    when both day-of-month and day-of-week are restricted, either one matching is enough."""
    minute_f, hour_f, day_f, month_f, weekday_f = schedule.split()
    minutes, hours = set(expand(minute_f, 0, 59)), set(expand(hour_f, 0, 23))
    days, months = set(expand(day_f, 1, 31)), set(expand(month_f, 1, 12))
    weekdays = {d % 7 for d in expand(weekday_f, 0, 7)}
    day_any, weekday_any = day_f == "*", weekday_f == "*"

    def day_matches(t: datetime) -> bool:
        by_day, by_weekday = t.day in days, (t.weekday() + 1) % 7 in weekdays
        if day_any or weekday_any:
            return by_day and by_weekday
        return by_day or by_weekday

    t = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = t + timedelta(days=366 * 5)
    while t < limit:
        if t.month not in months:
            t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        elif not day_matches(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif t.hour not in hours:
            t = t.replace(minute=0) + timedelta(hours=1)
        elif t.minute not in minutes:
            t += timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"cron schedule {schedule!r} never fires")


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


# A fixed start, so the answer does not depend on the day it is asked.
_GAP_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@functools.cache
def longest_gap(schedule: str) -> timedelta:
    """The longest time between two consecutive runs of `schedule`: the honest interval of a
    schedule whose runs are not evenly spaced (`0 9 * * 1-5` waits 3 days over a weekend).

    Minute, hour and weekday fields repeat within a week; a restricted day or month repeats within
    four years (29 February), so every kind of gap starts within one such cycle from the first run.
    """
    _, _, day_f, month_f, _ = schedule.split()
    cycle = timedelta(days=7) if day_f == "*" and month_f == "*" else timedelta(days=4 * 366)
    first = t = next_run(schedule, _GAP_EPOCH)
    gap = timedelta(0)
    while t - first < cycle:
        following = next_run(schedule, t)
        gap = max(gap, following - t)
        t = following
    return gap
