"""Which samples a poll asks for, and the numbers the exporter shows from them.

Railway answers in samples of STEP_SECONDS (ts = the sample's start). A poll at `now` asks for the
samples from `start` to `now`:
- the window the gauges show is the newest `window / STEP` samples, the newest one still filling
  (`window` = max(5 minutes, one poll interval), so no minute falls between two polls);
- after polls that failed, `start` reaches back to the sample the last good poll ended in (at most
  CATCH_UP_SECONDS), so the request counter misses no request Railway still reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from .query import PERCENTILES, ServiceSamples

STEP_SECONDS = 60
MIN_WINDOW_SECONDS = 300  # as long as the 5m windows of the rules on services' own metrics
CATCH_UP_SECONDS = 3600
QUANTILES = {"p50": "0.5", "p90": "0.9", "p95": "0.95", "p99": "0.99"}


def window_seconds(interval: float) -> int:
    """The gauges' window: at least MIN_WINDOW_SECONDS and one poll interval, whole samples."""
    return max(MIN_WINDOW_SECONDS, math.ceil(interval / STEP_SECONDS) * STEP_SECONDS)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Span:
    """What one poll asks for: samples from `start` (a sample's start) to `end` (now)."""

    start: int
    end: float
    window_start: int  # the first sample the gauges show

    @classmethod
    def at(cls, now: float, window: int, last_end: float | None) -> Span:
        newest = int(now // STEP_SECONDS) * STEP_SECONDS
        window_start = newest - window + STEP_SECONDS
        start = window_start
        if last_end is not None:
            caught_up = int(max(last_end, now - CATCH_UP_SECONDS) // STEP_SECONDS) * STEP_SECONDS
            start = min(start, caught_up)
        return cls(start, now, window_start)


def window_requests(samples: ServiceSamples, span: Span) -> dict[int, float]:
    """Requests per status code within the window."""
    return {
        status: sum(value for ts, value in by_ts.items() if ts >= span.window_start)
        for status, by_ts in samples.requests.items()
    }


def window_percentiles(samples: ServiceSamples, span: Span) -> dict[str, float] | None:
    """Each percentile over the window in seconds: the samples' percentiles averaged, each sample
    weighted by its requests (exact when the window's requests fall in one sample, an
    approximation otherwise: Railway gives percentiles per sample, not the requests). None
    without requests in the window."""
    weights: dict[int, float] = {}
    for by_ts in samples.requests.values():
        for ts, value in by_ts.items():
            weights[ts] = weights.get(ts, 0.0) + value
    chosen = {ts: p for ts, p in samples.durations.items() if ts >= span.window_start}
    if not chosen:
        return None
    total = sum(weights.get(ts, 1.0) for ts in chosen)
    return {
        name: sum(p[name] * weights.get(ts, 1.0) for ts, p in chosen.items()) / total / 1000 for name in PERCENTILES
    }
