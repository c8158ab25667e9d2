"""Grandfather-father-son retention: the newest backup of each of the last N days, weeks and
months, and always the newest good backup, whatever the counts say."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from components.spec.models import Retention

__all__ = ["Retention", "backups_to_keep"]


def _newest_per_period(taken: list[tuple[datetime, str]], period, count: int) -> set[str]:
    kept: dict[object, str] = {}
    for when, backup_id in taken:  # newest first
        key = period(when)
        if key not in kept:
            if len(kept) == count:
                break
            kept[key] = backup_id
    return set(kept.values())


def backups_to_keep(backups: Iterable[tuple[datetime, str]], policy: Retention) -> set[str]:
    """The ids to keep among good backups given as (taken at, id)."""
    taken = sorted(backups, reverse=True)
    if not taken:
        return set()
    keep = {taken[0][1]}
    keep |= _newest_per_period(taken, lambda t: t.date(), policy.daily)
    keep |= _newest_per_period(taken, lambda t: tuple(t.isocalendar())[:2], policy.weekly)
    keep |= _newest_per_period(taken, lambda t: (t.year, t.month), policy.monthly)
    return keep
