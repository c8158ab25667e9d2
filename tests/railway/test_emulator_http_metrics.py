"""The emulator's edge HTTP metrics: traffic recorded through the admin API comes back from
`httpMetricsGroupedByStatus` and `httpDurationMetrics` as Railway's schema types them, in samples
of `stepSeconds` on the emulator's clock; arguments are checked as Railway's schema and the
emulator's documented rules say (raw HTTP, no exporter in the assertions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from components.railway.client import RailwayClient
from tests.railway.conftest import EmulatorHandle, create_environment, create_project, create_service

BY_STATUS = """
query byStatus($serviceId: String!, $environmentId: String!, $startDate: DateTime!, $endDate: DateTime!,
               $stepSeconds: Int, $method: String, $path: String) {
  httpMetricsGroupedByStatus(serviceId: $serviceId, environmentId: $environmentId, startDate: $startDate,
                             endDate: $endDate, stepSeconds: $stepSeconds, method: $method, path: $path) {
    statusCode
    samples { ts value }
  }
}
"""
DURATIONS = """
query durations($serviceId: String!, $environmentId: String!, $startDate: DateTime!, $endDate: DateTime!,
                $stepSeconds: Int, $statusCode: Int) {
  httpDurationMetrics(serviceId: $serviceId, environmentId: $environmentId, startDate: $startDate,
                      endDate: $endDate, stepSeconds: $stepSeconds, statusCode: $statusCode) {
    samples { ts p50 p90 p95 p99 }
  }
}
"""
T0 = 1_800_000_000  # a multiple of 60 and of 300: 2027-01-15T08:00:00Z


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def world(client: RailwayClient) -> dict[str, str]:
    project = create_project(client)
    return {
        "project": project.id,
        "environment": project.production,
        "frontend": create_service(client, project.id, "frontend", "nginx:1"),
        "backend": create_service(client, project.id, "backend", "node:18"),
    }


def record(emulator: EmulatorHandle, service: str, environment: str, status: int, count: int, **more: Any) -> dict:
    payload = {"service_id": service, "environment_id": environment, "status": status, "count": count, **more}
    return emulator.admin("http-traffic", payload)


def window(world: dict[str, str], service: str, start: float, end: float, **more: Any) -> dict[str, Any]:
    return {
        "serviceId": world[service],
        "environmentId": world["environment"],
        "startDate": iso(start),
        "endDate": iso(end),
        **more,
    }


def data(emulator: EmulatorHandle, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = emulator.post(query, variables)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def test_requests_by_status_in_samples_of_step_seconds(emulator: EmulatorHandle, world: dict[str, str]):
    env = world["environment"]
    record(emulator, world["frontend"], env, 200, 90, at=T0 + 5)
    record(emulator, world["frontend"], env, 503, 10, at=T0 + 59)
    record(emulator, world["frontend"], env, 200, 30, at=iso(T0 + 61))
    record(emulator, world["frontend"], env, 200, 7, at=T0 + 300)  # endDate is exclusive
    record(emulator, world["frontend"], env, 200, 4, at=T0 - 1)  # before startDate
    record(emulator, world["backend"], env, 500, 3, at=T0 + 10)  # another service

    result = data(emulator, BY_STATUS, window(world, "frontend", T0, T0 + 300))["httpMetricsGroupedByStatus"]

    assert result == [
        {"statusCode": 200, "samples": [{"ts": T0, "value": 90.0}, {"ts": T0 + 60, "value": 30.0}]},
        {"statusCode": 503, "samples": [{"ts": T0, "value": 10.0}]},
    ]
    wide = data(emulator, BY_STATUS, window(world, "frontend", T0, T0 + 300, stepSeconds=300))
    assert wide["httpMetricsGroupedByStatus"] == [
        {"statusCode": 200, "samples": [{"ts": T0, "value": 120.0}]},
        {"statusCode": 503, "samples": [{"ts": T0, "value": 10.0}]},
    ]


def test_method_and_path_filter_exactly(emulator: EmulatorHandle, world: dict[str, str]):
    env = world["environment"]
    record(emulator, world["backend"], env, 200, 5, at=T0, method="GET", path="/api/notes")
    record(emulator, world["backend"], env, 201, 2, at=T0, method="POST", path="/api/notes")
    record(emulator, world["backend"], env, 200, 1, at=T0, method="GET", path="/health")

    posts = data(emulator, BY_STATUS, window(world, "backend", T0, T0 + 60, method="POST"))
    notes = data(emulator, BY_STATUS, window(world, "backend", T0, T0 + 60, path="/api/notes"))

    assert posts["httpMetricsGroupedByStatus"] == [{"statusCode": 201, "samples": [{"ts": T0, "value": 2.0}]}]
    assert [(r["statusCode"], r["samples"][0]["value"]) for r in notes["httpMetricsGroupedByStatus"]] == [
        (200, 5.0),
        (201, 2.0),
    ]


def test_duration_percentiles_in_milliseconds_per_sample(emulator: EmulatorHandle, world: dict[str, str]):
    env = world["environment"]
    # 100 requests in the first minute: 80 at 20 ms, 12 at 200 ms, 8 at 1500 ms.
    record(emulator, world["backend"], env, 200, 80, at=T0 + 1, duration_ms=20)
    record(emulator, world["backend"], env, 200, 12, at=T0 + 2, duration_ms=200)
    record(emulator, world["backend"], env, 503, 8, at=T0 + 3, duration_ms=1500)
    record(emulator, world["backend"], env, 200, 1, at=T0 + 70, duration_ms=42.5)

    result = data(emulator, DURATIONS, window(world, "backend", T0, T0 + 120))["httpDurationMetrics"]
    only_503 = data(emulator, DURATIONS, window(world, "backend", T0, T0 + 120, statusCode=503))

    assert result == {
        "samples": [
            {"ts": T0, "p50": 20.0, "p90": 200.0, "p95": 1500.0, "p99": 1500.0},
            {"ts": T0 + 60, "p50": 42.5, "p90": 42.5, "p95": 42.5, "p99": 42.5},
        ]
    }
    assert only_503["httpDurationMetrics"]["samples"] == [
        {"ts": T0, "p50": 1500.0, "p90": 1500.0, "p95": 1500.0, "p99": 1500.0}
    ]


def test_no_traffic_is_an_empty_answer(emulator: EmulatorHandle, world: dict[str, str]):
    assert data(emulator, BY_STATUS, window(world, "frontend", T0, T0 + 60)) == {"httpMetricsGroupedByStatus": []}
    assert data(emulator, DURATIONS, window(world, "frontend", T0, T0 + 60)) == {"httpDurationMetrics": {"samples": []}}


def test_traffic_is_recorded_on_the_emulators_clock(emulator: EmulatorHandle, world: dict[str, str]):
    before = emulator.admin("clock", {"advance_seconds": 0})["now"]
    moved = emulator.admin("clock", {"advance_hours": 2})["now"]
    answer = record(emulator, world["frontend"], world["environment"], 502, 3)
    recorded = datetime.fromisoformat(answer["at"].replace("Z", "+00:00")).timestamp()
    moved_at = datetime.fromisoformat(moved.replace("Z", "+00:00")).timestamp()

    assert answer["recorded"] == 3
    assert recorded >= moved_at
    then = datetime.fromisoformat(before.replace("Z", "+00:00")).timestamp()
    old_window = data(emulator, BY_STATUS, window(world, "frontend", then - 60, then + 60))
    new_window = data(emulator, BY_STATUS, window(world, "frontend", recorded - 60, recorded + 60))
    assert old_window["httpMetricsGroupedByStatus"] == []
    assert new_window["httpMetricsGroupedByStatus"][0]["statusCode"] == 502


def test_one_request_can_ask_for_several_services_with_aliases(emulator: EmulatorHandle, world: dict[str, str]):
    env = world["environment"]
    record(emulator, world["frontend"], env, 500, 2, at=T0)
    record(emulator, world["backend"], env, 200, 9, at=T0)
    query = """query both($e: String!, $s: DateTime!, $t: DateTime!, $f: String!, $b: String!) {
      f: httpMetricsGroupedByStatus(serviceId: $f, environmentId: $e, startDate: $s, endDate: $t) { statusCode }
      b: httpMetricsGroupedByStatus(serviceId: $b, environmentId: $e, startDate: $s, endDate: $t) { statusCode }
    }"""
    variables = {"e": env, "s": iso(T0), "t": iso(T0 + 60), "f": world["frontend"], "b": world["backend"]}

    assert data(emulator, query, variables) == {"f": [{"statusCode": 500}], "b": [{"statusCode": 200}]}


# ---- what Railway refuses ------------------------------------------------------------------


def test_required_arguments_and_types_come_from_railways_schema(emulator: EmulatorHandle, world: dict[str, str]):
    variables = window(world, "frontend", T0, T0 + 60)
    del variables["serviceId"]
    missing = emulator.post(BY_STATUS, variables)
    wrong_type = emulator.post(BY_STATUS, {**window(world, "frontend", T0, T0 + 60), "stepSeconds": "60"})
    unknown_field = emulator.post(
        'query { httpDurationMetrics(serviceId: "x", environmentId: "y", '
        'startDate: "a", endDate: "b") { samples { avg } } }'
    )

    assert missing.status_code == 400 and missing.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert wrong_type.status_code == 400 and wrong_type.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert unknown_field.status_code == 400
    assert unknown_field.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stepSeconds": 0}, "stepSeconds must be positive"),
        ({"startDate": iso(T0 + 60), "endDate": iso(T0)}, "endDate is before startDate"),
        ({"startDate": "yesterday"}, "ISO 8601"),
        ({"stepSeconds": 1, "endDate": iso(T0 + 86400)}, "too many samples"),
    ],
)
def test_arguments_the_emulator_cannot_answer_are_bad_user_input(
    emulator: EmulatorHandle, world: dict[str, str], change: dict, message: str
):
    response = emulator.post(BY_STATUS, {**window(world, "frontend", T0, T0 + 60), **change})

    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]


def test_an_unknown_service_or_environment_is_not_found(emulator: EmulatorHandle, world: dict[str, str]):
    no_service = emulator.post(BY_STATUS, {**window(world, "frontend", T0, T0 + 60), "serviceId": "nope"})
    no_environment = emulator.post(DURATIONS, {**window(world, "frontend", T0, T0 + 60), "environmentId": "nope"})

    assert no_service.json()["errors"][0]["message"] == "Service not found"
    assert no_environment.json()["errors"][0]["message"] == "Environment not found"


def test_a_project_token_reads_only_its_own_environment(
    emulator: EmulatorHandle, client: RailwayClient, world: dict[str, str]
):
    staging = create_environment(client, world["project"], "staging")
    emulator.register_token("project-token-prod", "project", world["project"], world["environment"])
    headers = {"Project-Access-Token": "project-token-prod"}
    record(emulator, world["frontend"], world["environment"], 200, 1, at=T0)

    own = emulator.post(BY_STATUS, window(world, "frontend", T0, T0 + 60), headers=headers)
    other = emulator.post(
        BY_STATUS, {**window(world, "frontend", T0, T0 + 60), "environmentId": staging}, headers=headers
    )
    nobody = emulator.post(BY_STATUS, window(world, "frontend", T0, T0 + 60), headers={})

    assert own.json()["data"]["httpMetricsGroupedByStatus"][0]["statusCode"] == 200
    assert other.json()["errors"][0]["message"] == "Not Authorized"
    assert nobody.json()["errors"][0]["message"] == "Not Authorized"


# ---- the admin endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"status": 99}, 400, "status must be a whole number from 100 to 599"),
        ({"count": 0}, 400, "count must be"),
        ({"duration_ms": -1}, 400, "duration_ms"),
        ({"at": "not a time"}, 400, "Invalid isoformat"),
        ({"at": [1]}, 400, "at must be"),
        ({"service_id": ""}, 400, "service_id"),
        ({"service_id": "no-such-service"}, 404, "no such service"),
        ({"environment_id": "no-such-environment"}, 404, "no such environment"),
    ],
)
def test_a_traffic_record_the_emulator_cannot_use_is_refused(
    emulator: EmulatorHandle, world: dict[str, str], change: dict, status: int, message: str
):
    payload = {"service_id": world["frontend"], "environment_id": world["environment"], "status": 200, **change}

    response = emulator.http.post(f"{emulator.admin_url}/http-traffic", json=payload)

    assert response.status_code == status
    assert message in response.json()["error"]
    assert emulator.state()["http_traffic"] == []


def test_reset_forgets_the_traffic(emulator: EmulatorHandle, world: dict[str, str]):
    record(emulator, world["frontend"], world["environment"], 200, 1)
    assert len(emulator.state()["http_traffic"]) == 1

    emulator.admin("reset")

    assert emulator.state()["http_traffic"] == []
