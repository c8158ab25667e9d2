"""What the exporter shows Prometheus (job `edge-metrics`), one registry per exporter.

Per declared service (label `service`, the name in EDGE_SERVICES), from Railway's edge:
- `railway_edge_window_requests{service,status}` (gauge): requests answered with each status code
  within the last window (`railway_edge_window_seconds`, by Railway's sample times), as of the
  last good poll; a status seen before and absent now is 0. The alerts read this: a ratio of two
  counts of the same window is exact however seldom the exporter polls, where `rate()` over a
  counter that moves once a poll (every 2 minutes at 30 requests an hour, 6 at 10) sees one step
  or none in a 5-minute range.
- `railway_edge_requests_total{service,status}` (counter): every request Railway reported, counted
  once as its samples arrive (a sample still filling adds what is new). For dashboards'
  `increase()` over ranges of several poll intervals.
- `railway_edge_request_duration_seconds{service,quantile}` (gauge, quantile 0.5 0.9 0.95 0.99):
  the window's request duration percentiles (window.window_percentiles); NaN without requests.
The exporter's own health:
- `railway_edge_last_success_timestamp_seconds`: when the last good poll was (0 before one);
- `railway_edge_data_age_seconds`: how old the values shown are: seconds since the last good poll,
  or since the exporter started when none succeeded yet (the staleness alert reads this);
- `railway_edge_api_requests_total{outcome}`: requests sent to Railway, by how they ended (api.OUTCOMES);
- `railway_edge_api_requests_last_hour`, `railway_edge_api_budget_requests_per_hour`,
  `railway_edge_poll_interval_seconds`: the budget and what is spent of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector

from .api import OUTCOMES
from .budget import Budget
from .query import PERCENTILES, ServiceSamples
from .window import QUANTILES, Span, window_percentiles, window_requests


class ExporterMetrics:
    def __init__(self, services: list[str], budget: Budget, window: int, clock: Callable[[], float]):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.services = services
        self._clock = clock
        self._started = clock()
        self._last_success: float | None = None
        self._counted: dict[tuple[str, int, int], float] = {}  # (service, status, sample ts) -> counted
        self._statuses: dict[str, set[int]] = {name: set() for name in services}
        r = self.registry
        self.window_requests = Gauge(
            "railway_edge_window_requests",
            "Requests Railway's edge answered with each status code within the last window",
            ["service", "status"],
            registry=r,
        )
        self.requests = Counter(
            "railway_edge_requests",
            "Requests Railway's edge answered, by status code",
            ["service", "status"],
            registry=r,
        )
        self.duration = Gauge(
            "railway_edge_request_duration_seconds",
            "Request duration percentiles at Railway's edge within the last window",
            ["service", "quantile"],
            registry=r,
        )
        Gauge("railway_edge_window_seconds", "The window of the window gauges", registry=r).set(window)
        self.last_success = Gauge(
            "railway_edge_last_success_timestamp_seconds", "When the last good poll of Railway was", registry=r
        )
        Gauge(
            "railway_edge_data_age_seconds",
            "Seconds since the last good poll (since the start before one)",
            registry=r,
        ).set_function(self.data_age)
        self.api_requests = Counter(
            "railway_edge_api_requests", "Requests sent to Railway's API, by outcome", ["outcome"], registry=r
        )
        for outcome in OUTCOMES:
            self.api_requests.labels(outcome)
        Gauge(
            "railway_edge_api_requests_last_hour", "Requests sent to Railway's API within the past hour", registry=r
        ).set_function(lambda: budget.used(self._clock()))
        Gauge(
            "railway_edge_api_budget_requests_per_hour", "The most requests an hour the exporter sends", registry=r
        ).set(budget.requests_per_hour)
        Gauge("railway_edge_poll_interval_seconds", "Seconds between two polls", registry=r).set(budget.interval)
        for name in services:
            for quantile in QUANTILES.values():
                self.duration.labels(name, quantile).set(math.nan)

    def data_age(self) -> float:
        since = self._started if self._last_success is None else self._last_success
        return max(self._clock() - since, 0.0)

    def show(self, answer: dict[str, ServiceSamples], span: Span, now: float) -> None:
        """A good poll's answer: window gauges replaced, counter advanced by what is new."""
        for name, samples in answer.items():
            counts = window_requests(samples, span)
            for status in self._statuses[name] | set(counts):
                self.window_requests.labels(name, str(status)).set(counts.get(status, 0.0))
            self._statuses[name] |= set(counts)
            for status, by_ts in samples.requests.items():
                for ts, value in by_ts.items():
                    key = (name, status, ts)
                    new = value - self._counted.get(key, 0.0)
                    if new > 0:
                        self.requests.labels(name, str(status)).inc(new)
                        self._counted[key] = value
            percentiles = window_percentiles(samples, span)
            for p in PERCENTILES:
                self.duration.labels(name, QUANTILES[p]).set(math.nan if percentiles is None else percentiles[p])
        # Samples before this poll's start are never asked for again.
        self._counted = {key: value for key, value in self._counted.items() if key[2] >= span.start}
        self._last_success = now
        self.last_success.set(now)
