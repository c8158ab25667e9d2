"""The exporter's share of Railway's hourly request limit, kept by construction.

Railway counts every request against the account's hourly limit (Free 100 in all, Hobby 1,000,
Pro 10,000), whatever it asked for and however it ended; the deploys of `./mvs up` spend the
same account's limit. So the exporter gets a declared budget of requests per hour and:
- polls at most every `interval` = 3600 / budget seconds: one request per poll, every service in
  it, so the budget does not depend on how many services there are;
- counts every request it sends (also those that time out or are refused) in a ledger of the
  last hour, and never sends one while `budget` already went out within the past 3600 s, so
  even a bug in the scheduling above cannot exceed it;
- after a failure waits longer, never shorter: a 429 its Retry-After (at least one interval),
  other failures one interval, then twice, four times as long... up to BACKOFF_CAP_SECONDS (or
  one interval when that is longer).
"""

from __future__ import annotations

from collections import deque

HOUR = 3600.0
BACKOFF_CAP_SECONDS = 900.0


class Budget:
    def __init__(self, requests_per_hour: int):
        if requests_per_hour < 1:
            raise ValueError("the budget is at least one request per hour")
        self.requests_per_hour = requests_per_hour
        self.interval = HOUR / requests_per_hour
        self._sent: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - HOUR:
            self._sent.popleft()

    def used(self, now: float) -> int:
        """Requests sent within the past hour."""
        self._forget(now)
        return len(self._sent)

    def allowed_at(self, now: float) -> float:
        """The earliest moment the next request may go: one interval after the last, and not
        while a full budget went out within the past hour."""
        self._forget(now)
        if not self._sent:
            return now
        earliest = self._sent[-1] + self.interval
        if len(self._sent) >= self.requests_per_hour:
            earliest = max(earliest, self._sent[-self.requests_per_hour] + HOUR)
        return earliest

    def spend(self, now: float) -> None:
        """Record a request sent at `now` (call it before sending: a lost request still counts)."""
        if now < self.allowed_at(now):
            raise RuntimeError("a request before the budget allows one")
        self._sent.append(now)

    def backoff(self, failures: int) -> float:
        """How long to wait after the `failures`-th failure in a row (not a 429)."""
        return min(self.interval * 2 ** max(failures - 1, 0), max(BACKOFF_CAP_SECONDS, self.interval))
