"""The edge-metrics exporter's parts, and its polling loop against the Railway emulator with a
simulated clock: the hours pass in an instant (each sleep moves the emulator's clock by as much),
so what is asserted is the budget itself, never how long anything took."""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import pytest
from graphql import parse, validate
from prometheus_client import generate_latest

from components.railway.schema import load_schema
from edge_metrics.api import Answer, RailwayApi, retry_after_seconds
from edge_metrics.budget import HOUR, Budget
from edge_metrics.metrics import ExporterMetrics
from edge_metrics.poller import Poller
from edge_metrics.query import OPERATION_FILE, document, read_answer
from edge_metrics.settings import ConfigError, Settings, Token
from edge_metrics.window import Span, window_seconds

from . import edge_fixtures
from .edge_fixtures import EXPORTER_TOKEN, EdgeWorld

edge_world = edge_fixtures.edge_world  # the fixture, for this module's tests

GRAPHQL_FILES = sorted(OPERATION_FILE.parent.glob("*.graphql"))


# ---- the request ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", GRAPHQL_FILES, ids=[p.name for p in GRAPHQL_FILES])
def test_the_operation_files_validate_against_railways_schema(path: Path):
    assert validate(load_schema(), parse(path.read_text())) == []


@pytest.mark.parametrize("services", [1, 2, 7])
def test_one_request_for_any_number_of_services_validates_against_the_schema(services: int):
    text = document(services)

    assert validate(load_schema(), parse(text)) == []
    assert text.count("httpMetricsGroupedByStatus(") == services
    assert text.count("httpDurationMetrics(") == services
    assert f"s{services - 1}_durations: httpDurationMetrics(" in text
    assert f"serviceId: $serviceId{services - 1}" in text
    assert text.startswith("query edgeMetrics(")


def test_the_answer_is_read_back_per_declared_service():
    data = {
        "s0_byStatus": [{"statusCode": 503, "samples": [{"ts": 60, "value": 3.0}]}],
        "s0_durations": {"samples": [{"ts": 60, "p50": 1.0, "p90": 2.0, "p95": 3.0, "p99": 4.0}]},
        "s1_byStatus": [],
        "s1_durations": {"samples": []},
    }

    answer = read_answer(data, ["web", "api"])

    assert answer["web"].requests == {503: {60: 3.0}}
    assert answer["web"].durations == {60: {"p50": 1.0, "p90": 2.0, "p95": 3.0, "p99": 4.0}}
    assert answer["api"].requests == {} and answer["api"].durations == {}


# ---- the settings --------------------------------------------------------------------------

GOOD = {
    "RAILWAY_API_TOKEN": EXPORTER_TOKEN,
    "RAILWAY_ENVIRONMENT_ID": "env-1",
    "EDGE_SERVICES": '{"frontend": "svc-1", "backend": "svc-2"}',
    "EDGE_REQUESTS_PER_HOUR": "30",
    "PORT": "9121",
}


def test_settings_from_the_deployed_variables():
    settings = Settings.from_env(GOOD)

    assert settings.services == {"frontend": "svc-1", "backend": "svc-2"}
    assert settings.requests_per_hour == 30 and settings.port == 9121
    assert settings.endpoint == "https://backboard.railway.com/graphql/v2"
    assert settings.token.headers() == {"Authorization": f"Bearer {EXPORTER_TOKEN}"}
    assert EXPORTER_TOKEN not in repr(settings)


def test_a_project_token_goes_in_its_own_header():
    env = {k: v for k, v in GOOD.items() if k != "RAILWAY_API_TOKEN"} | {"RAILWAY_TOKEN": "project-tok"}

    assert Settings.from_env(env).token.headers() == {"Project-Access-Token": "project-tok"}


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"RAILWAY_API_TOKEN": ""}, "RAILWAY_API_TOKEN"),
        ({"RAILWAY_ENVIRONMENT_ID": " "}, "RAILWAY_ENVIRONMENT_ID"),
        ({"EDGE_SERVICES": "{frontend: svc-1}"}, "EDGE_SERVICES"),
        ({"EDGE_SERVICES": '["svc-1"]'}, "EDGE_SERVICES"),
        ({"EDGE_SERVICES": "{}"}, "EDGE_SERVICES"),
        ({"EDGE_SERVICES": '{"frontend": 7}'}, "EDGE_SERVICES"),
        ({"EDGE_SERVICES": ""}, "EDGE_SERVICES"),
        ({"EDGE_REQUESTS_PER_HOUR": "0"}, "EDGE_REQUESTS_PER_HOUR"),
        ({"EDGE_REQUESTS_PER_HOUR": "-5"}, "EDGE_REQUESTS_PER_HOUR"),
        ({"EDGE_REQUESTS_PER_HOUR": "2.5"}, "EDGE_REQUESTS_PER_HOUR"),
        ({"EDGE_REQUESTS_PER_HOUR": ""}, "EDGE_REQUESTS_PER_HOUR"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"RAILWAY_API_ENDPOINT": "backboard.railway.com"}, "RAILWAY_API_ENDPOINT"),
    ],
)
def test_a_setting_it_cannot_use_is_named(change: dict, variable: str):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({**GOOD, **change})

    assert str(error.value).startswith(variable)
    assert "\n" not in str(error.value)
    assert EXPORTER_TOKEN not in str(error.value)


# ---- the budget ----------------------------------------------------------------------------


def test_the_interval_is_an_hour_over_the_budget_and_the_ledger_refuses_more():
    budget = Budget(4)
    assert budget.interval == 900

    for t in (0, 900, 1800, 2700):
        assert budget.allowed_at(t) == t
        budget.spend(t)
    assert budget.used(2700) == 4
    assert budget.allowed_at(2700) == 3600
    with pytest.raises(RuntimeError):
        budget.spend(3000)
    assert budget.used(3600) == 3  # the request at 0 left the past hour


def test_the_ledger_holds_even_when_spacing_alone_would_not():
    """Four requests crowded at the end of an hour (after a long Retry-After, say): the fifth waits
    for the first to leave the past hour, not just for one interval."""
    budget = Budget(4)
    for t in (100, 1000, 1900, 2800):
        budget.spend(t)

    assert budget.allowed_at(2800) == 3700


def test_failures_wait_longer_never_shorter_up_to_the_cap():
    budget = Budget(30)

    waits = [budget.backoff(n) for n in range(1, 8)]

    assert waits == [120, 240, 480, 900, 900, 900, 900]
    assert Budget(1).backoff(5) == 3600  # an interval longer than the cap is kept


@pytest.mark.parametrize(("interval", "window"), [(120, 300), (0.36, 300), (360, 360), (3600, 3600), (130, 300)])
def test_the_window_covers_at_least_one_interval(interval: float, window: int):
    assert window_seconds(interval) == window


def test_a_poll_after_failures_reaches_back_to_the_last_good_one():
    assert Span.at(1000.5, 300, None) == Span(720, 1000.5, 720)  # samples 720..960, the last filling
    assert Span.at(2000.0, 300, 1000.5) == Span(960, 2000.0, 1740)
    assert Span.at(99_000.0, 300, 1000.5).start == 99_000 - 3600  # at most an hour back


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("120", 0) == 120
    assert retry_after_seconds("Thu, 01 Jan 1970 00:02:00 GMT", 60) == 60
    assert retry_after_seconds("soon", 0) is None
    assert retry_after_seconds(None, 0) is None


# ---- the loop against the emulator, on a simulated clock ----------------------------------


class SimulatedClock:
    """Time for the poller: each sleep moves it, and the emulator's clock by as much."""

    def __init__(self, world: EdgeWorld, start: float):
        self.world, self.now = world, start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.world.admin("clock", {"advance_seconds": seconds})


class Recorder:
    """RailwayApi that notes the simulated time of every request it sends."""

    def __init__(self, api: RailwayApi, clock: SimulatedClock):
        self.api, self.clock, self.sent = api, clock, []
        self.outcomes: list[str] = []

    def post(self, *args) -> Answer:
        self.sent.append(self.clock())
        answer = self.api.post(*args)
        self.outcomes.append(answer.outcome)
        return answer


def simulated_poller(world: EdgeWorld, budget_per_hour: int = 30, timeout: float = 5.0):
    start = float(int(time.time()))
    clock = SimulatedClock(world, start)
    settings = Settings.from_env(world.env(EDGE_REQUESTS_PER_HOUR=str(budget_per_hour)))
    budget = Budget(settings.requests_per_hour)
    window = window_seconds(budget.interval)
    metrics = ExporterMetrics(list(settings.services), budget, window, clock)
    api = Recorder(RailwayApi(settings.endpoint, settings.token, timeout=timeout), clock)
    lines: list[str] = []
    poller = Poller(settings, api, budget, metrics, window, clock, clock.sleep, lines.append)  # type: ignore[arg-type]
    return poller, clock, api, metrics, lines


def sample(metrics: ExporterMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def per_hour(times: list[float], start: float) -> list[int]:
    """Requests in each whole simulated hour from `start`, and in every hour-long span that starts
    at a request (the budget is a sliding hour, not only the clock's hours)."""
    counts = [sum(1 for t in times if start + h * HOUR <= t < start + (h + 1) * HOUR) for h in range(3)]
    sliding = [sum(1 for t in times if first <= t < first + HOUR) for first in times]
    return counts + sliding


def test_a_simulated_hour_sends_exactly_the_budget(edge_world: EdgeWorld):
    poller, clock, api, metrics, _ = simulated_poller(edge_world, budget_per_hour=30)
    start = clock.now
    edge_world.traffic("frontend", 503, 8, at=start - 30)
    edge_world.traffic("frontend", 200, 2, at=start - 30)

    poller.run(lambda: clock.now >= start + HOUR)

    requests = edge_world.requests()
    assert len(requests) == len(api.sent) == 30  # 3600 / 30 = a poll every 120 s
    assert all(entry["status"] == 200 for entry in requests)
    assert [b - a for a, b in itertools.pairwise(api.sent)] == [120.0] * 29
    assert sample(metrics, "railway_edge_api_requests_total", outcome="ok") == 30
    assert sample(metrics, "railway_edge_api_requests_last_hour") == 29  # the hour is over: the first left it
    assert sample(metrics, "railway_edge_api_budget_requests_per_hour") == 30
    assert sample(metrics, "railway_edge_poll_interval_seconds") == 120
    # The traffic left the 5-minute window long ago; the counter kept every request once.
    assert sample(metrics, "railway_edge_window_requests", service="frontend", status="503") == 0
    assert sample(metrics, "railway_edge_requests_total", service="frontend", status="503") == 8
    assert sample(metrics, "railway_edge_requests_total", service="frontend", status="200") == 2


def test_a_429_waits_its_retry_after_and_keeps_the_last_values(edge_world: EdgeWorld):
    poller, clock, api, metrics, lines = simulated_poller(edge_world, budget_per_hour=30)
    start = clock.now
    edge_world.traffic("backend", 500, 30, duration_ms=1500, at=start - 10)
    edge_world.traffic("backend", 200, 70, duration_ms=40, at=start - 10)
    poller.poll()
    shown = sample(metrics, "railway_edge_window_requests", service="backend", status="500")
    assert shown == 30
    edge_world.faults({"kind": "rate_limit", "retry_after": 600, "count": 1, "operations": ["edgeMetrics"]})

    poller.run(lambda: len(api.sent) >= 2)  # the 429
    assert api.outcomes == ["ok", "rate_limited"]
    assert poller.next_poll_at - clock.now == 600
    assert sample(metrics, "railway_edge_window_requests", service="backend", status="500") == 30
    assert sample(metrics, "railway_edge_request_duration_seconds", service="backend", quantile="0.95") == 1.5
    assert sample(metrics, "railway_edge_data_age_seconds") == 120
    assert "Retry-After 600 s" in lines[-1] and "showing values 120 s old" in lines[-1]

    poller.run(lambda: len(api.sent) >= 3)
    assert api.sent[2] - api.sent[1] == 600
    assert api.outcomes[2] == "ok"
    assert sample(metrics, "railway_edge_api_requests_total", outcome="rate_limited") == 1
    assert sample(metrics, "railway_edge_data_age_seconds") == 0
    # Now 12 minutes on, the window holds nothing: the burst is over, the gauge says 0.
    assert sample(metrics, "railway_edge_window_requests", service="backend", status="500") == 0
    assert math.isnan(sample(metrics, "railway_edge_request_duration_seconds", service="backend", quantile="0.95"))


def test_errors_back_off_doubling_then_poll_at_the_interval_again(edge_world: EdgeWorld):
    poller, _, api, metrics, lines = simulated_poller(edge_world, budget_per_hour=30)
    edge_world.faults({"kind": "error", "status": 503, "count": 3, "operations": ["edgeMetrics"]})

    poller.run(lambda: len(api.sent) >= 6)

    assert api.outcomes == ["http_error"] * 3 + ["ok"] * 2 + ["ok"]
    assert [b - a for a, b in itertools.pairwise(api.sent)] == [120.0, 240.0, 480.0, 120.0, 120.0]
    assert sample(metrics, "railway_edge_api_requests_total", outcome="http_error") == 3
    assert any("Railway answers again after 3 failed poll(s)" in line for line in lines)
    assert all(EXPORTER_TOKEN not in line for line in lines)


def test_an_answer_with_errors_keeps_the_values_and_counts_as_a_failure(edge_world: EdgeWorld):
    poller, clock, api, metrics, lines = simulated_poller(edge_world, budget_per_hour=30)
    edge_world.traffic("frontend", 200, 5, at=clock.now - 5)
    poller.poll()
    poller.settings.services["frontend"] = "no-such-service"  # deleted on Railway, say

    poller.run(lambda: len(api.sent) >= 2)

    assert api.outcomes == ["ok", "graphql_error"]
    assert "Service not found" in lines[-1]
    assert sample(metrics, "railway_edge_window_requests", service="frontend", status="200") == 5
    assert sample(metrics, "railway_edge_api_requests_total", outcome="graphql_error") == 1


def test_three_simulated_hours_of_faults_stay_within_the_budget_every_hour(edge_world: EdgeWorld):
    """429s (Retry-After 1 s to 5 minutes), 5xx and timeouts at random (seeded): whatever happens,
    no hour, clock-aligned or sliding, sees more than the budget, and every request is logged."""
    poller, clock, api, metrics, _ = simulated_poller(edge_world, budget_per_hour=20, timeout=0.3)
    edge_world.faults(
        {"kind": "rate_limit", "probability": 0.15, "retry_after": 1},
        {"kind": "rate_limit", "probability": 0.1, "retry_after": 300},
        {"kind": "error", "probability": 0.2, "status": 502},
        {"kind": "timeout", "probability": 0.1, "seconds": 0.6},
        seed=7,
    )
    start = clock.now

    poller.run(lambda: clock.now >= start + 3 * HOUR)

    assert max(per_hour(api.sent, start)) <= 20
    assert len(edge_world.requests()) == len(api.sent)
    outcomes = set(api.outcomes)
    assert {"ok", "rate_limited", "http_error", "timeout"} <= outcomes, outcomes
    assert min(b - a for a, b in itertools.pairwise(api.sent)) >= 180  # 3600 / 20
    total = sum(sample(metrics, "railway_edge_api_requests_total", outcome=o) for o in set(api.outcomes))
    assert total == len(api.sent)


def test_a_token_shows_nowhere_in_the_metrics_or_the_log(edge_world: EdgeWorld):
    poller, _, api, metrics, lines = simulated_poller(edge_world)
    edge_world.faults({"kind": "error", "status": 500, "count": 1})
    poller.run(lambda: len(api.sent) >= 2)

    assert EXPORTER_TOKEN not in generate_latest(metrics.registry).decode()
    assert all(EXPORTER_TOKEN not in line for line in lines)
    assert EXPORTER_TOKEN not in repr(Token(EXPORTER_TOKEN, "account"))
