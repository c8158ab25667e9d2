"""The client side of ps, logs and restart, against the emulator: one request for a status of every
service, logs read once each, a follower that paces itself from the rate-limit headers, and a
restart that waits within a bound. Waits go to a fake sleep and a fake clock, never to real time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.railway.client import RailwayClient, RateLimitStatus
from components.railway.logs import LogReader, LogSource, Pacer, deployment_logs, follow, timestamp_ns
from components.railway.restart import restart_and_wait
from components.railway.status import environment_services
from tests.railway.conftest import EmulatorHandle, create_project, create_service


class Enough(Exception):
    """Stops a follower from inside its sleep, as Ctrl-C would."""


def deploy_running(emulator: EmulatorHandle, client: RailwayClient, project, name: str, **settings: Any) -> str:
    """A service of `project` deployed and read until SUCCESS; returns the deployment id."""
    service = create_service(client, project.id, name)
    settings = {"source": {"image": f"ghcr.io/mvs-app/{name}:2.0.0"}, **settings}
    scope = {"serviceId": service, "environmentId": project.production}
    client.execute("serviceInstanceUpdate", {**scope, "input": settings})
    deployment = client.execute("serviceInstanceDeployV2", scope)["serviceInstanceDeployV2"]
    for _ in range(3):
        emulator.data("deployment", {"id": deployment})
    return deployment


@pytest.fixture
def project(client):
    return create_project(client)


# ---- status -----------------------------------------------------------------------------------


def test_one_request_gives_every_service_its_state_health_image_and_domains(emulator, client, project, request_log):
    api = deploy_running(emulator, client, project, "api", healthcheckPath="/health")
    deploy_running(emulator, client, project, "jobs", cronSchedule="15 3 * * *")
    emulator.behaviour("worker", "CRASHED")
    deploy_running(emulator, client, project, "worker")
    create_service(client, project.id, "idle")
    before = len(request_log())

    found = environment_services(client, project.production)

    assert len(request_log()) == before + 1
    by_name = {status.name: status for status in found.values()}
    assert by_name["api"].latest.id == api and by_name["api"].latest.status == "SUCCESS"
    assert by_name["api"].health() == "healthy (/health passed)"
    assert by_name["api"].running_image == "ghcr.io/mvs-app/api:2.0.0"
    assert by_name["jobs"].cron_schedule == "15 3 * * *" and by_name["jobs"].health() == "scheduled (no health check)"
    assert by_name["worker"].latest.status == "CRASHED" and by_name["worker"].health() == "crashed"
    assert by_name["idle"].latest is None and by_name["idle"].health() == "-"


# ---- logs -------------------------------------------------------------------------------------


def test_deployment_logs_sends_only_the_arguments_given(emulator, client, project, request_log):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.admin("logs", {"deploymentId": deployment, "lines": ["GET /a", "GET /b", "boom"]})
    lines = deployment_logs(client, deployment, limit=2, filter="GET")
    assert [line["message"] for line in lines] == ["GET /a", "GET /b"]
    assert request_log("deploymentLogs")[-1]["variables"] == {"deploymentId": deployment, "limit": 2, "filter": "GET"}


def test_the_tail_merges_services_in_time_order_one_request_each(emulator, client, project, request_log):
    api = deploy_running(emulator, client, project, "api")
    web = deploy_running(emulator, client, project, "web")
    for n in range(3):
        emulator.admin("logs", {"deploymentId": api, "lines": [f"api {n}"]})
        emulator.admin("logs", {"deploymentId": web, "lines": [f"web {n}"]})
    reader = LogReader(client, [LogSource("api", api), LogSource("web", web)])

    lines = reader.tail(2)

    assert [(line.source, line.message) for line in lines] == [
        ("api", "api 1"),
        ("web", "web 1"),
        ("api", "api 2"),
        ("web", "web 2"),
    ]
    assert [e["variables"]["limit"] for e in request_log("deploymentLogs")] == [2, 2]


def test_a_poll_asks_from_the_last_line_and_gives_out_only_new_ones(emulator, client, project, request_log):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.admin("logs", {"deploymentId": deployment, "lines": ["one", "two"]})
    reader = LogReader(client, [LogSource("api", deployment)])
    assert [line.message for line in reader.tail(10)] == ["Starting Container", "one", "two"]
    last = reader.sources[0].last_timestamp

    assert reader.poll() == [], "the line at startDate itself is not given out twice"
    emulator.admin("logs", {"deploymentId": deployment, "lines": ["three"]})
    assert [line.message for line in reader.poll()] == ["three"]
    assert reader.poll() == []

    sent = [e["variables"] for e in request_log("deploymentLogs")]
    assert sent[1] == sent[2] == {"deploymentId": deployment, "limit": 500, "startDate": last}
    assert sent[3]["startDate"] > last, "after a new line, from that line on"


def test_a_tail_of_zero_shows_nothing_but_following_starts_after_the_newest_line(emulator, client, project):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.admin("logs", {"deploymentId": deployment, "lines": ["old"]})
    reader = LogReader(client, [LogSource("api", deployment)])
    assert reader.tail(0) == []
    emulator.admin("logs", {"deploymentId": deployment, "lines": ["new"]})
    assert [line.message for line in reader.poll()] == ["new"]


def test_timestamps_are_read_to_the_nanosecond():
    assert timestamp_ns("1970-01-01T00:00:01.000000002Z") == 1_000_000_002
    assert timestamp_ns("1970-01-01T01:00:01+01:00") == 1_000_000_000
    with pytest.raises(ValueError):
        timestamp_ns("yesterday")


# ---- following within the request budget -----------------------------------------------------


class FakeTime:
    """A clock that moves only when the follower sleeps. It lets `polls` polls happen, records the
    wait asked for before each and the one after the last, then stops the follower; the action
    for a wait's number runs during that wait."""

    def __init__(self, start: float, polls: int, actions: dict[int, Any] | None = None):
        self.now = start
        self.sleeps: list[float] = []
        self.polls = polls
        self.actions = actions or {}

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) > self.polls:
            raise Enough
        self.now += seconds
        if len(self.sleeps) in self.actions:
            self.actions[len(self.sleeps)]()


def follow_until(reader: LogReader, fake: FakeTime, notices: list[str] | None = None) -> list[str]:
    shown: list[str] = []
    with pytest.raises(Enough):
        follow(
            reader,
            lambda line: shown.append(line.message),
            sleep=fake.sleep,
            clock=fake.clock,
            notice=(notices if notices is not None else []).append,
        )
    return shown


def test_on_the_free_plan_a_follower_polls_once_per_72_seconds_per_service(emulator, client, project, request_log):
    api = deploy_running(emulator, client, project, "api")
    web = deploy_running(emulator, client, project, "web")
    emulator.rate_limit(100, window_seconds=3600)  # Railway's Free plan: 100 requests an hour
    reader = LogReader(client, [LogSource("api", api), LogSource("web", web)])
    reader.tail(5)
    before = len(request_log("deploymentLogs"))
    fake = FakeTime(time.time(), polls=10)

    follow_until(reader, fake)

    assert len(request_log("deploymentLogs")) - before == 10 * 2, "one request per service per poll"
    assert all(wait >= 2 * 3600 / (0.5 * 100) for wait in fake.sleeps), fake.sleeps  # 144 s for two services
    assert client.rate_limit.remaining >= Pacer().reserve(100)


def test_a_follower_never_spends_the_reserve_and_waits_for_the_window_to_reset(emulator, client, project, request_log):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.rate_limit(20, window_seconds=3600)
    reader = LogReader(client, [LogSource("api", deployment)])
    reader.tail(5)
    for _ in range(13):  # other work spends the window down to 6 requests
        emulator.post("query me { me { id } }")
    notices: list[str] = []
    fake = FakeTime(time.time(), polls=1)

    follow_until(reader, fake, notices)

    assert len(request_log("deploymentLogs")) == 2, "the tail and one poll; then it waits"
    assert client.rate_limit.remaining == 5 == Pacer().reserve(20)
    first, second = fake.sleeps
    assert first == 2 * 3600 / 20
    assert second == client.rate_limit.reset_epoch - fake.now + 1, "until the window resets"
    (notice,) = notices
    assert "5 of the token's 20 requests left" in notice and "pausing until it resets" in notice


def test_a_follower_backs_off_while_nothing_arrives_and_speeds_up_when_lines_come(emulator, client, project):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.rate_limit(1_000_000, window_seconds=3600)  # a budget that never binds: only the backoff shows
    reader = LogReader(client, [LogSource("api", deployment)])
    reader.tail(5)
    say = {8: lambda: emulator.admin("logs", {"deploymentId": deployment, "lines": ["hello"]})}
    fake = FakeTime(time.time(), polls=10, actions=say)

    shown = follow_until(reader, fake)

    assert shown == ["hello"]
    assert fake.sleeps == [2, 4, 8, 16, 32, 60, 60, 60, 2, 4, 8]


def test_the_pacer_assumes_the_free_plan_until_railway_says_otherwise():
    wait, why = Pacer().next_wait(RateLimitStatus(), cost=1, got_lines=True, now=0)
    assert (wait, why) == (72.0, None)
    pro = RateLimitStatus(limit=10_000, remaining=9_000, reset_epoch=3600, window_seconds=3600)
    assert Pacer().next_wait(pro, cost=1, got_lines=True, now=0) == (2.0, None)


# ---- restart ----------------------------------------------------------------------------------


def test_a_restart_is_one_mutation_and_waits_until_the_deployment_runs_again(emulator, client, project, request_log):
    deployment = deploy_running(emulator, client, project, "api")
    sleeps: list[float] = []
    changes: list[tuple] = []
    before = len(request_log())

    result = restart_and_wait(client, deployment, sleep=sleeps.append, on_change=lambda *c: changes.append(c))

    assert result.back and (result.status, result.instances, result.reads) == ("SUCCESS", ("RUNNING",), 1)
    assert [e["operation"] for e in request_log()[before:]] == ["deploymentRestart", "deploymentInstances"]
    assert request_log("deploymentRestart")[0]["variables"] == {"id": deployment}
    assert sleeps == [2.0] and changes == [("SUCCESS", ("RUNNING",))]


def test_a_restart_that_crashes_ends_the_wait_at_once(emulator, client, project):
    deployment = deploy_running(emulator, client, project, "api")
    emulator.admin("behaviour", {"service": "api", "restart_outcome": "CRASHED"})
    result = restart_and_wait(client, deployment, sleep=lambda _s: None)
    assert result.crashed and not result.back and result.status == "CRASHED" and result.reads == 1


class StuckClient:
    """A deployment that never settles, to see the wait end on its own."""

    def __init__(self):
        self.reads = 0

    def execute(self, name: str, variables: dict) -> dict:
        if name == "deploymentRestart":
            return {"deploymentRestart": True}
        self.reads += 1
        return {"deployment": {"id": variables["id"], "status": "DEPLOYING", "instances": [{"status": "RESTARTING"}]}}


def test_the_wait_is_bounded_and_reads_less_often_as_it_goes():
    stuck, now, sleeps = StuckClient(), [0.0], []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    result = restart_and_wait(stuck, "d-1", timeout=300, sleep=sleep, clock=lambda: now[0])

    assert not result.back and not result.crashed and result.status == "DEPLOYING"
    assert sum(sleeps) <= 300 and result.reads == stuck.reads <= 25
    assert sleeps == sorted(sleeps) and max(sleeps) == 15.0
