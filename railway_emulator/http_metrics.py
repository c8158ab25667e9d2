"""Railway's edge HTTP metrics: what its proxy saw of a service's requests, by status and duration.

Railway answers `httpMetricsGroupedByStatus` (request counts per status code) and
`httpDurationMetrics` (p50/p90/p95/p99 in milliseconds) for one service in one environment between
`startDate` and `endDate`, in samples of `stepSeconds`. Nothing in the emulator serves HTTP, so
the traffic is recorded through the admin API (POST /_emulator/http-traffic) as records
{serviceId, environmentId, status, count, durationMs, method, path, ts}, `ts` on the emulator's
clock (store.clock_ns), so a test that advances the clock sees its traffic age like real traffic.

How the emulator buckets (Railway documents none of it, so the plainest reading of the schema):
- a sample covers [ts, ts + stepSeconds), `ts` a multiple of stepSeconds since the epoch (as
  ClickHouse's toStartOfInterval aligns), default step DEFAULT_STEP_SECONDS;
- only requests with startDate <= time < endDate count; only samples with requests are returned,
  oldest first; status codes in ascending order;
- a percentile is the nearest-rank percentile of the sample's requests (each record's count of
  requests all took its durationMs).
`method` and `path` filter exactly; `httpDurationMetrics` can also filter on `statusCode`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

DEFAULT_STEP_SECONDS = 60
MAX_SAMPLES = 10_000  # a query asking for more buckets than this is refused, not answered slowly
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))


class TrafficError(ValueError):
    """A record or a query the emulator cannot use; the message says which field and why."""


def _int(data: dict[str, Any], key: str, low: int, high: int, default: int | None = None) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TrafficError(f"{key} must be a whole number from {low} to {high}, not {value!r}")
    return value


def traffic_record(data: dict[str, Any], at_seconds: float) -> dict[str, Any]:
    """A stored record from the admin payload {service_id, environment_id, status, count,
    duration_ms, method?, path?}; `at_seconds` is when (emulator clock, epoch seconds)."""
    for key in ("service_id", "environment_id"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise TrafficError(f"{key} must be a Railway id (a non-empty string)")
    duration = data.get("duration_ms", 0)
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
        raise TrafficError(f"duration_ms must be a number of milliseconds (not negative), not {duration!r}")
    return {
        "serviceId": data["service_id"],
        "environmentId": data["environment_id"],
        "status": _int(data, "status", 100, 599),
        "count": _int(data, "count", 1, 10**9, default=1),
        "durationMs": float(duration),
        "method": str(data.get("method", "GET")),
        "path": str(data.get("path", "/")),
        "ts": float(at_seconds),
    }


def _step(step_seconds: int | None, start: float, end: float) -> int:
    step = DEFAULT_STEP_SECONDS if step_seconds is None else step_seconds
    if step <= 0:
        raise TrafficError("stepSeconds must be positive")
    if end < start:
        raise TrafficError("endDate is before startDate")
    if (end - start) / step > MAX_SAMPLES:
        raise TrafficError(f"too many samples: at most {MAX_SAMPLES} steps between startDate and endDate")
    return step


def _matching(records: Iterable[dict[str, Any]], query: dict[str, Any], start: float, end: float):
    for record in records:
        if record["serviceId"] != query["serviceId"] or record["environmentId"] != query["environmentId"]:
            continue
        if not start <= record["ts"] < end:
            continue
        if any(query.get(key) is not None and record[key] != query[key] for key in ("method", "path")):
            continue
        if query.get("statusCode") is not None and record["status"] != query["statusCode"]:
            continue
        yield record


def by_status(records: list[dict[str, Any]], query: dict[str, Any], start: float, end: float) -> list[dict[str, Any]]:
    """`[HttpMetricsByStatusResult!]!`: per status code, the count of requests per sample."""
    step = _step(query.get("stepSeconds"), start, end)
    counts: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for record in _matching(records, query, start, end):
        counts[record["status"]][int(record["ts"] // step) * step] += record["count"]
    return [
        {"statusCode": status, "samples": [{"ts": ts, "value": value} for ts, value in sorted(samples.items())]}
        for status, samples in sorted(counts.items())
    ]


def _nearest_rank(durations: list[tuple[float, int]], share: float) -> float:
    """The nearest-rank percentile of requests given as (duration, count), sorted by duration."""
    total = sum(count for _, count in durations)
    rank, seen = max(1, math.ceil(share * total)), 0
    for duration, count in durations:
        seen += count
        if seen >= rank:
            return duration
    return durations[-1][0]


def durations(records: list[dict[str, Any]], query: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    """`HttpDurationMetricsResult!`: per sample, the request duration percentiles in milliseconds."""
    step = _step(query.get("stepSeconds"), start, end)
    buckets: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for record in _matching(records, query, start, end):
        buckets[int(record["ts"] // step) * step].append((record["durationMs"], record["count"]))
    samples = []
    for ts, requests in sorted(buckets.items()):
        requests.sort()
        samples.append({"ts": ts, **{name: _nearest_rank(requests, share) for name, share in PERCENTILES}})
    return {"samples": samples}
