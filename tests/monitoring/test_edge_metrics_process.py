"""The exporter as it runs on Railway: `python -m edge_metrics` with its service's variables,
against the Railway emulator on loopback. EDGE_REQUESTS_PER_HOUR is 3600 here (a poll a second)
so the test sees several polls; the budget over simulated hours is test_edge_metrics.py's."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from . import edge_fixtures
from .edge_fixtures import EXPORTER_TOKEN, REPO_ROOT, EdgeWorld, value

edge_world = edge_fixtures.edge_world  # the fixtures, for this module's tests
exporters = edge_fixtures.exporters
FAST = {"EDGE_REQUESTS_PER_HOUR": "3600"}


def test_recorded_traffic_shows_per_service_and_status(edge_world: EdgeWorld, exporters):
    exporter = exporters(edge_world.env(**FAST))
    at = time.time() - 1  # one moment: one of Railway's samples, so the percentiles are exact
    edge_world.traffic("frontend", 200, 40, duration_ms=50, at=at)
    edge_world.traffic("frontend", 503, 60, duration_ms=2000, at=at)
    edge_world.traffic("backend", 200, 10, duration_ms=120, at=at)
    edge_world.traffic("backend", 404, 2, duration_ms=5, at=at)

    recorded = {("frontend", "200"): 40, ("frontend", "503"): 60, ("backend", "200"): 10, ("backend", "404"): 2}

    def window(values: dict) -> dict:
        return {
            (service, status): value(values, "railway_edge_window_requests", service=service, status=status)
            for service, status in recorded
        }

    # A poll may fall between two of the four recordings above (on a busy machine it does): wait
    # for a poll that saw all of them, then check what that poll shows.
    values = exporter.wait_for("all the traffic in /metrics", lambda v: v if window(v) == recorded else None)

    assert window(values) == recorded
    assert value(values, "railway_edge_requests_total", service="frontend", status="503") == 60
    assert value(values, "railway_edge_requests_total", service="backend", status="404") == 2
    # frontend: 40 requests at 50 ms, 60 at 2 s; backend: 10 at 120 ms, 2 at 5 ms.
    assert value(values, "railway_edge_request_duration_seconds", service="frontend", quantile="0.5") == 2.0
    assert value(values, "railway_edge_request_duration_seconds", service="backend", quantile="0.5") == 0.12
    assert value(values, "railway_edge_request_duration_seconds", service="backend", quantile="0.95") == 0.12
    assert value(values, "railway_edge_window_seconds") == 300
    assert value(values, "railway_edge_api_budget_requests_per_hour") == 3600
    assert value(values, "railway_edge_poll_interval_seconds") == 1
    assert value(values, "railway_edge_last_success_timestamp_seconds") > 0
    assert value(values, "railway_edge_api_requests_total", outcome="ok") >= 1
    assert value(values, "railway_edge_api_requests_total", outcome="rate_limited") == 0
    # Later polls count nothing twice.
    exporter.wait_for("two more polls", lambda v: value(v, "railway_edge_api_requests_total", outcome="ok") >= 3)
    assert value(exporter.values(), "railway_edge_requests_total", service="frontend", status="503") == 60
    every_request = edge_world.requests()
    assert all(entry["status"] == 200 and entry["variables"]["environmentId"] for entry in every_request)

    assert exporter.stop() == 0
    log = exporter.log()
    assert "budget 3600 requests an hour, one per poll" in log and "stopped" in log
    assert EXPORTER_TOKEN not in log and "Traceback" not in log


def test_a_429_waits_retry_after_and_keeps_the_last_values(edge_world: EdgeWorld, exporters):
    exporter = exporters(edge_world.env(**FAST))
    edge_world.traffic("backend", 500, 9, at=time.time() - 1)
    exporter.wait_for(
        "the 500s in /metrics", lambda v: value(v, "railway_edge_window_requests", service="backend", status="500") == 9
    )

    edge_world.faults({"kind": "rate_limit", "retry_after": 3, "count": 1, "operations": ["edgeMetrics"]})
    edge_world.traffic("backend", 500, 5, at=time.time() - 1)
    limited = exporter.wait_for(
        "a 429", lambda v: v if value(v, "railway_edge_api_requests_total", outcome="rate_limited") == 1 else None
    )

    assert value(limited, "railway_edge_window_requests", service="backend", status="500") == 9, "the last values"
    exporter.wait_for(
        "the new 500s after Retry-After",
        lambda v: value(v, "railway_edge_window_requests", service="backend", status="500") == 14,
    )
    requests = edge_world.requests()
    refused = next(i for i, entry in enumerate(requests) if entry["status"] == 429)
    assert requests[refused + 1]["ts"] - requests[refused]["ts"] >= 2.9  # it waited Retry-After, 3 s
    assert "(rate_limited: HTTP 429 Rate limit exceeded); next in 3 s (Retry-After 3 s)" in exporter.log()
    assert EXPORTER_TOKEN not in exporter.log()


def test_a_project_token_is_sent_as_project_access_token(edge_world: EdgeWorld, exporters):
    token = "edge-project-Secret-Token-51c0"
    edge_world.admin(
        "tokens",
        {
            "token": token,
            "kind": "project",
            "projectId": edge_world.project_id,
            "environmentId": edge_world.environment_id,
        },
    )
    env = {k: v for k, v in edge_world.env(**FAST).items() if k != "RAILWAY_API_TOKEN"} | {"RAILWAY_TOKEN": token}
    exporter = exporters(env)
    edge_world.traffic("frontend", 502, 4, at=time.time() - 1)

    exporter.wait_for(
        "the 502s read with the project token",
        lambda v: value(v, "railway_edge_window_requests", service="frontend", status="502") == 4,
    )
    assert "project token" in exporter.log() and token not in exporter.log()


def test_a_wrong_token_is_a_failure_it_reports_and_survives(edge_world: EdgeWorld, exporters):
    exporter = exporters(edge_world.env(RAILWAY_API_TOKEN="not-a-token-Secret-99", **FAST))

    exporter.wait_for(
        "a refused poll", lambda v: value(v, "railway_edge_api_requests_total", outcome="graphql_error") >= 1
    )
    values = exporter.values()
    assert value(values, "railway_edge_last_success_timestamp_seconds") == 0
    assert value(values, "railway_edge_data_age_seconds") >= 0
    assert "Not Authorized" in exporter.log()
    assert "not-a-token-Secret-99" not in exporter.log()


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"RAILWAY_API_TOKEN": ""}, "RAILWAY_API_TOKEN"),
        ({"EDGE_SERVICES": "{not json"}, "EDGE_SERVICES"),
        ({"EDGE_SERVICES": '["frontend"]'}, "EDGE_SERVICES"),
        ({"EDGE_REQUESTS_PER_HOUR": "zero"}, "EDGE_REQUESTS_PER_HOUR"),
        ({"EDGE_REQUESTS_PER_HOUR": "0"}, "EDGE_REQUESTS_PER_HOUR"),
        ({"RAILWAY_ENVIRONMENT_ID": ""}, "RAILWAY_ENVIRONMENT_ID"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_variable_and_exit_2(change: dict, variable: str):
    env = {
        "PATH": "/usr/bin:/bin",
        "RAILWAY_API_TOKEN": EXPORTER_TOKEN,
        "RAILWAY_ENVIRONMENT_ID": "env-1",
        "EDGE_SERVICES": '{"frontend": "svc-1"}',
        "EDGE_REQUESTS_PER_HOUR": "30",
        "PORT": "9121",
        **change,
    }

    done = subprocess.run(
        [sys.executable, "-m", "edge_metrics"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"edge-metrics: {variable}")
    assert EXPORTER_TOKEN not in done.stderr
