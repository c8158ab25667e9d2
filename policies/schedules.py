"""How often a cron schedule runs, at its worst: the longest wait between two of its runs.

"At least daily" is a promise about the longest gap, not the number of runs: `0 3 * * 1-5` runs
five times a week and still leaves three days without a dump. Runs are found with the same cron
reading the backup runner and the declaration use (components/spec/cron.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from components.spec.cron import next_run

START = datetime(2026, 1, 1, tzinfo=UTC)
NEVER = timedelta.max


def longest_gap(schedule: str) -> timedelta:
    """The longest time between two consecutive runs over a whole cycle of `schedule` (a week
    when only the weekday is restricted, else two years, which covers months and leap days)."""
    fields = schedule.split()
    weekly = len(fields) == 5 and fields[2] == "*" and fields[3] == "*"
    end = START + (timedelta(days=8) if weekly else timedelta(days=2 * 366))
    try:
        run = next_run(schedule, START)
        longest = timedelta(0)
        while True:
            following = next_run(schedule, run)
            longest = max(longest, following - run)
            if following > end:
                break
            run = following
    except ValueError:  # it never fires, or not again within years
        return NEVER
    return longest


def describe(gap: timedelta) -> str:
    """A gap as people say it: `5 min`, `48 h`, `14 days`, `never`."""
    if gap == NEVER:
        return "never"
    hours = gap.total_seconds() / 3600
    if hours < 1:
        return f"{hours * 60:g} min"
    return f"{hours:g} h" if hours < 72 else f"{hours / 24:g} days"
