"""The frontend's GET /metrics: prom-client's default metrics and request count and latency with the
backend's names, labels and buckets (the alert rules and dashboards read both services with one
expression), under a fixed set of route labels: each static file, "/api/*" for everything proxied,
/health, /metrics, and "unmatched" for anything else."""

from __future__ import annotations

import uuid

import httpx
import pytest

from mvsctl.loopback_s3 import free_port

from .test_metrics import samples, scrape, settle, value

REQUESTS = "http_requests_total"
ROUTES = {"/", "/index.html", "/app.js", "/style.css", "/health", "/metrics", "/api/*", "unmatched"}


@pytest.fixture
def frontend(start_frontend, backend):
    return start_frontend(backend.url)


def families(text: str) -> dict[str, str]:
    """Metric family -> type, from the exposition's # TYPE lines."""
    found = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            found[name] = kind
    return found


def buckets(metrics, **series: str) -> list[tuple[float, float]]:
    return sorted(
        (float(labels["le"]), v)
        for name, labels, v in metrics
        if name == "http_request_duration_seconds_bucket" and all(labels.get(k) == w for k, w in series.items())
    )


def test_requests_are_counted_by_method_route_and_status(frontend):
    for path in ("/", "/", "/app.js", "/style.css", "/health"):
        assert httpx.get(f"{frontend.url}{path}").status_code == 200
    assert httpx.head(f"{frontend.url}/index.html").status_code == 200
    assert httpx.post(f"{frontend.url}/", content=b"x").status_code == 405
    settle(frontend, 7)
    metrics = scrape(frontend)
    assert value(metrics, REQUESTS, method="GET", route="/", status="200") == 2
    assert value(metrics, REQUESTS, method="GET", route="/app.js", status="200") == 1
    assert value(metrics, REQUESTS, method="GET", route="/style.css", status="200") == 1
    assert value(metrics, REQUESTS, method="GET", route="/health", status="200") == 1
    assert value(metrics, REQUESTS, method="HEAD", route="/index.html", status="200") == 1
    assert value(metrics, REQUESTS, method="POST", route="/", status="405") == 1
    series = {"method": "GET", "route": "/", "status": "200"}
    assert value(metrics, "http_request_duration_seconds_count", **series) == 2
    assert value(metrics, "http_request_duration_seconds_sum", **series) > 0
    assert buckets(metrics, **series)[-1] == (float("inf"), 2)


def test_everything_proxied_is_one_route_with_the_backends_status(frontend):
    created = httpx.post(f"{frontend.url}/api/notes", json={"text": "counted"})
    assert created.status_code == 201
    assert httpx.get(f"{frontend.url}/api/notes", params={"limit": 3}).status_code == 200
    assert httpx.get(f"{frontend.url}/api/{uuid.uuid4().hex}").status_code == 404
    assert httpx.get(f"{frontend.url}/api").status_code == 404
    settle(frontend, 4)
    response = httpx.get(f"{frontend.url}/metrics")
    metrics = samples(response.text)
    assert value(metrics, REQUESTS, method="POST", route="/api/*", status="201") == 1
    assert value(metrics, REQUESTS, method="GET", route="/api/*", status="200") == 1
    assert value(metrics, REQUESTS, method="GET", route="/api/*", status="404") == 2
    assert "limit=" not in response.text and "/api/notes" not in response.text


def test_a_backend_that_is_down_counts_as_502_on_the_proxy_route(start_frontend):
    orphan = start_frontend(f"http://127.0.0.1:{free_port()}")
    for _ in range(2):
        assert httpx.get(f"{orphan.url}/api/notes").status_code == 502
    settle(orphan, 2)
    assert value(scrape(orphan), REQUESTS, method="GET", route="/api/*", status="502") == 2


def test_unknown_paths_share_one_bounded_label(frontend):
    paths = [f"/probe-{uuid.uuid4().hex}" for _ in range(3)] + ["/wp-admin/setup.php", "/../src/server.js"]
    for path in paths:
        assert httpx.get(f"{frontend.url}{path}").status_code == 404
    settle(frontend, len(paths))
    response = httpx.get(f"{frontend.url}/metrics")
    metrics = samples(response.text)
    assert value(metrics, REQUESTS, method="GET", route="unmatched", status="404") == len(paths)
    for path in paths:
        assert path not in response.text
    assert {labels["route"] for name, labels, _ in metrics if name == REQUESTS} == {"unmatched"}


def test_metrics_itself_is_served_and_counted_like_any_route(frontend):
    first = httpx.get(f"{frontend.url}/metrics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert first.headers["cache-control"] == "no-store"
    head = httpx.head(f"{frontend.url}/metrics")
    assert head.status_code == 200 and head.content == b""
    refused = httpx.post(f"{frontend.url}/metrics", content=b"x")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    settle(frontend, 3)
    metrics = scrape(frontend)
    assert value(metrics, REQUESTS, method="GET", route="/metrics", status="200") == 1
    assert value(metrics, REQUESTS, method="HEAD", route="/metrics", status="200") == 1
    assert value(metrics, REQUESTS, method="POST", route="/metrics", status="405") == 1
    assert {labels["route"] for name, labels, _ in metrics if name == REQUESTS} <= ROUTES


def test_the_families_and_buckets_are_the_backends(frontend, backend):
    """The frontend's metrics module is a copy of the backend's (two build contexts): the same
    families of the same types, and the same histogram buckets."""
    for server in (frontend, backend):
        assert httpx.get(f"{server.url}/health").status_code == 200
        settle(server, 1)
    front, back = httpx.get(f"{frontend.url}/metrics").text, httpx.get(f"{backend.url}/metrics").text
    assert families(front) == families(back)
    assert families(front)["http_requests_total"] == "counter"
    assert families(front)["http_request_duration_seconds"] == "histogram"
    assert "process_start_time_seconds" in families(front)
    health = {"method": "GET", "route": "/health", "status": "200"}
    front_le = [le for le, _ in buckets(samples(front), **health)]
    assert front_le == [le for le, _ in buckets(samples(back), **health)]
    assert len(front_le) == 12
