"""GET /metrics: the runtime's default metrics, and request count and latency labelled by route
template, with unknown paths under one bounded label."""

from __future__ import annotations

import re
import uuid

import httpx

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of a Prometheus text exposition: (name, labels, value)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        labels = dict(LABEL.findall(match["labels"] or ""))
        out.append((match["name"], labels, float(match["value"])))
    return out


def scrape(backend) -> list[tuple[str, dict[str, str], float]]:
    response = httpx.get(f"{backend.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def value(metrics, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist yet."""
    found = [v for n, tags, v in metrics if n == name and all(tags.get(k) == w for k, w in labels.items())]
    assert len(found) <= 1, f"{name} {labels} matches {len(found)} series"
    return found[0] if found else 0.0


def settle(backend, count: int) -> None:
    """Waits until `count` requests are recorded: a request is counted when its response closes."""
    backend.request_records(count)


def test_default_metrics_are_exported(backend):
    names = {name for name, _, _ in scrape(backend)}
    for expected in ("process_cpu_user_seconds_total", "nodejs_heap_size_total_bytes", "nodejs_eventloop_lag_seconds"):
        assert expected in names


def test_requests_are_counted_by_method_route_and_status(backend):
    posts, gets = 3, 7
    for i in range(posts):
        assert httpx.post(f"{backend.url}/api/notes", json={"text": f"n{i}"}).status_code == 201
    for _ in range(gets):
        assert httpx.get(f"{backend.url}/api/notes").status_code == 200
    assert httpx.post(f"{backend.url}/api/notes", json={"text": ""}).status_code == 400
    settle(backend, posts + gets + 1)
    metrics = scrape(backend)
    counted = "http_requests_total"
    assert value(metrics, counted, method="GET", route="/api/notes", status="200") == gets
    assert value(metrics, counted, method="POST", route="/api/notes", status="201") == posts
    assert value(metrics, counted, method="POST", route="/api/notes", status="400") == 1


def test_the_duration_histogram_has_buckets_sum_and_count(backend):
    requests = 4
    for _ in range(requests):
        httpx.get(f"{backend.url}/health")
    settle(backend, requests)
    metrics = scrape(backend)
    series = {"method": "GET", "route": "/health", "status": "200"}
    count = value(metrics, "http_request_duration_seconds_count", **series)
    assert count == requests
    assert value(metrics, "http_request_duration_seconds_sum", **series) > 0
    buckets = sorted(
        (float(labels["le"]), v)
        for name, labels, v in metrics
        if name == "http_request_duration_seconds_bucket" and all(labels.get(k) == w for k, w in series.items())
    )
    assert len(buckets) > 1
    assert buckets[-1] == (float("inf"), count)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative


def test_unknown_paths_share_one_bounded_label(backend):
    paths = [f"/probe-{uuid.uuid4().hex}" for _ in range(3)] + ["/wp-admin/setup.php"]
    for path in paths:
        assert httpx.get(f"{backend.url}{path}").status_code == 404
    settle(backend, len(paths))
    response = httpx.get(f"{backend.url}/metrics")
    metrics = samples(response.text)
    assert value(metrics, "http_requests_total", method="GET", route="unmatched", status="404") == len(paths)
    for path in paths:
        assert path not in response.text
    routes = {labels["route"] for name, labels, _ in metrics if name == "http_requests_total"}
    assert routes == {"unmatched"}
