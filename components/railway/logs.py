"""Deployment logs through the API: the last lines, then new ones only, paced by the rate limit.

Railway's `deploymentLogs(deploymentId, limit, startDate, endDate, filter)` returns a
deployment's lines oldest first. A reader keeps, per deployment, the timestamp of the last line
it gave out: the next poll asks only for lines from that moment on (`startDate`), and drops the
ones it already gave out at that very timestamp (`startDate` may include them). Nothing is read
twice and nothing is fetched that was already shown.

Following costs one request per followed deployment per poll, and Railway counts every request
against the token's hourly limit (Free 100, Hobby 1000, Pro 10000), so the Pacer decides how
long to wait between polls; see its docstring for the rule.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from .client import RailwayClient, RateLimitStatus

PAGE = 500  # lines asked for per poll: far more than arrive between two polls
MAX_LIMIT = 5000  # the schema's "max 5000"
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$")


def timestamp_ns(text: str) -> int:
    """Nanoseconds since the epoch of Railway's RFC 3339 timestamps (nanosecond precision), so
    lines of several deployments merge in the order they were written."""
    match = _RFC3339.match(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone in (None, "Z") else zone
    seconds = int(datetime.fromisoformat(whole + zone).timestamp())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0"))


@dataclass(frozen=True, order=True)
class LogLine:
    ns: int
    source: str  # the label of the deployment it came from (the service's name)
    timestamp: str
    message: str
    severity: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # Railway's structured fields of the line (`level`, ...)


def deployment_logs(
    client: RailwayClient,
    deployment_id: str,
    *,
    limit: int | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    filter: str | None = None,
) -> list[dict[str, Any]]:
    """One `deploymentLogs` request; only the arguments given are sent."""
    variables: dict[str, Any] = {"deploymentId": deployment_id}
    for name, value in (("limit", limit), ("startDate", start_date), ("endDate", end_date), ("filter", filter)):
        if value is not None:
            variables[name] = value
    return client.execute("deploymentLogs", variables)["deploymentLogs"]


@dataclass
class LogSource:
    """One followed deployment and where the reader has got to in it."""

    label: str
    deployment_id: str
    last_ns: int | None = None
    last_timestamp: str | None = None
    seen_at_last: set[str] = field(default_factory=set)  # messages already given out at last_timestamp

    def take(self, raw: list[dict[str, Any]]) -> list[LogLine]:
        """The lines not given out yet; moves the cursor past them."""
        fresh = []
        for entry in raw:
            line = LogLine(
                timestamp_ns(entry["timestamp"]),
                self.label,
                entry["timestamp"],
                entry["message"],
                entry.get("severity"),
                tuple((a["key"], a["value"]) for a in entry.get("attributes") or ()),
            )
            if self.last_ns is not None and (
                line.ns < self.last_ns or (line.ns == self.last_ns and line.message in self.seen_at_last)
            ):
                continue
            if line.ns != self.last_ns:
                self.last_ns, self.last_timestamp, self.seen_at_last = line.ns, line.timestamp, set()
            self.seen_at_last.add(line.message)
            fresh.append(line)
        return fresh


class LogReader:
    """The logs of one or more deployments, merged in time order."""

    def __init__(self, client: RailwayClient, sources: Sequence[LogSource], filter: str | None = None):
        self.client = client
        self.sources = list(sources)
        self.filter = filter

    @property
    def cost(self) -> int:
        """Requests per poll."""
        return len(self.sources)

    @property
    def rate_limit(self) -> RateLimitStatus:
        return self.client.rate_limit

    def tail(self, count: int, since: str | None = None, now: str | None = None) -> list[LogLine]:
        """The last `count` lines of each deployment (one request each), only those written from
        `since` on when it is given (RFC 3339; `now` closes the range, so Railway keeps its newest
        lines). With 0 nothing is shown, but the newest line is still read, so following starts
        after it."""
        lines = []
        for source in self.sources:
            limit = min(max(count, 1), MAX_LIMIT)
            end = now if since is not None else None
            raw = deployment_logs(
                self.client, source.deployment_id, limit=limit, start_date=since, end_date=end, filter=self.filter
            )
            taken = source.take(raw)
            lines += taken if count > 0 else []
        return sorted(lines)

    def poll(self) -> list[LogLine]:
        """The lines written since the last ones given out (one request per deployment)."""
        lines = []
        for source in self.sources:
            raw = deployment_logs(
                self.client, source.deployment_id, limit=PAGE, start_date=source.last_timestamp, filter=self.filter
            )
            lines += source.take(raw)
        return sorted(lines)


FREE_PLAN = (100, 3600)  # requests, window seconds: what to assume until Railway's headers say


@dataclass
class Pacer:
    """How long to wait before the next poll.

    The rule: following may spend at most `share` (half) of the token's rate limit, spread evenly
    over its window, and never the last `reserve` (a tenth of the limit, at least 5) requests of a
    window. So between two polls of `cost` requests it waits at least
        cost x window / (share x limit)
    from X-RateLimit-Limit and RateLimit-Policy: 72 s per followed service on Railway's Free plan
    (100 an hour), 7.2 s on Hobby (1000), and `base` (2 s) on Pro. When a poll would leave fewer
    than `reserve` requests (X-RateLimit-Remaining), it waits until the window resets
    (X-RateLimit-Reset) instead. Within that budget it backs off when nothing new arrives: the
    wait starts at `base`, doubles after every poll that brought no line, up to `max_idle`, and
    drops back to `base` as soon as one arrives. Until Railway's headers say otherwise it assumes
    the Free plan.
    """

    base: float = 2.0
    max_idle: float = 60.0
    share: float = 0.5
    reserve_fraction: float = 0.1
    min_reserve: int = 5
    _idle: float = field(default=0.0, init=False)

    def reserve(self, limit: int) -> int:
        return max(self.min_reserve, math.ceil(limit * self.reserve_fraction))

    def next_wait(self, status: RateLimitStatus, cost: int, got_lines: bool, now: float) -> tuple[float, str | None]:
        """(seconds to wait, why when it is waiting for the window to reset)."""
        self._idle = self.base if got_lines or not self._idle else min(self._idle * 2, self.max_idle)
        limit = status.limit or FREE_PLAN[0]
        window = status.window_seconds or FREE_PLAN[1]
        wait = max(self._idle, cost * window / (self.share * limit))
        reserve = self.reserve(limit)
        if status.remaining is not None and status.remaining - cost < reserve and status.reset_epoch:
            until_reset = status.reset_epoch - now + 1
            if until_reset > wait:
                at = datetime.fromtimestamp(status.reset_epoch, UTC)
                return until_reset, (
                    f"logs: {status.remaining} of the token's {limit} requests left in this window; pausing "
                    f"until it resets at {at:%H:%M:%S} UTC, to leave {reserve} for everything else"
                )
        return wait, None


def follow(
    reader: LogReader,
    emit: Callable[[LogLine], None],
    *,
    pacer: Pacer | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    notice: Callable[[str], None] = print,
) -> NoReturn:
    """Poll for new lines until interrupted (KeyboardInterrupt reaches the caller), after a tail."""
    pacer = pacer or Pacer()
    got_lines = True
    while True:
        wait, why = pacer.next_wait(reader.rate_limit, reader.cost, got_lines, clock())
        if why:
            notice(why)
        sleep(wait)
        lines = reader.poll()
        for line in lines:
            emit(line)
        got_lines = bool(lines)
