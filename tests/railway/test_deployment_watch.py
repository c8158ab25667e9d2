"""Waiting for deployments (issue 13, point 2): every deployment waited on in an environment is
read in one request a round, the first look comes when the deployment should be done, and
without that knowledge looks back off. Schedules run on a simulated clock; sharing runs against
the emulator, whose default lifecycle moves a deployment one step each time it is read."""

from __future__ import annotations

import threading
import time

import pytest
from graphql import parse, validate

from components.errors import RailwayNotFound, RailwayUnavailable
from components.railway.deployment_watch import (
    DeploymentWaitExpired,
    DeploymentWatch,
    read_statuses,
    statuses_operation,
)
from components.railway.providers.deployment import DeploymentProvider
from components.railway.schema import load_schema

from .test_providers import configured
from .test_providers import world as world  # the fixture: a project, staging and a backend service

DEPLOY = "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }"
CREATE_SERVICE = "mutation($p: String!, $n: String) { serviceCreate(input: {projectId: $p, name: $n}) { id } }"


class SimulatedTime:
    """A clock that moves only when the watch pauses, and a deployment that ends at `done_at`."""

    def __init__(self, done_at: float):
        self.now = 0.0
        self.done_at = done_at
        self.looks: list[float] = []

    def clock(self) -> float:
        return self.now

    def pause(self, _cond: threading.Condition, seconds: float) -> None:
        self.now += max(seconds, 0.0)

    def read(self, ids: list[str]) -> dict:
        self.looks.append(self.now)
        status = "SUCCESS" if self.now >= self.done_at else "BUILDING"
        stamp = f"2026-11-29T00:00:{self.now:06.3f}Z"
        return {
            i: {"id": i, "status": status, "createdAt": "2026-11-29T00:00:00.000Z", "statusUpdatedAt": stamp}
            for i in ids
        }


def watch_on(time_: SimulatedTime, max_interval: float = 30.0) -> DeploymentWatch:
    return DeploymentWatch(time_.read, clock=time_.clock, pause=time_.pause, max_interval=max_interval)


def test_the_first_look_comes_when_the_deployment_should_be_done():
    time_ = SimulatedTime(done_at=42.0)
    deployment = watch_on(time_).wait("d", first_look=42.0, interval=2.0, timeout=900)
    assert deployment["status"] == "SUCCESS"
    assert time_.looks == [42.0], "one read, when the last deployment's duration said"


def test_without_an_expectation_looks_back_off_from_the_poll_interval():
    time_ = SimulatedTime(done_at=100.0)
    watch_on(time_, max_interval=16.0).wait("d", first_look=2.0, interval=2.0, timeout=900)
    # 2, then waits of 2, 4, 8, 16 and 16 (the cap) until it has ended.
    assert time_.looks == [2.0, 4.0, 8.0, 16.0, 32.0, 48.0, 64.0, 80.0, 96.0, 112.0]


def test_a_look_that_comes_early_falls_back_to_the_backoff():
    time_ = SimulatedTime(done_at=50.0)
    watch_on(time_).wait("d", first_look=40.0, interval=5.0, timeout=900)
    assert time_.looks == [40.0, 45.0, 55.0]


def test_the_expected_duration_is_learned_from_this_runs_deployments():
    time_ = SimulatedTime(done_at=12.0)
    watch = watch_on(time_)
    assert watch.expected_seconds(None) is None
    assert watch.expected_seconds(7.5) == 7.5, "the service's own last duration comes first"
    watch.wait("d", first_look=12.0, interval=1.0, timeout=900)
    assert watch.expected_seconds(None) == pytest.approx(12.0)


def test_a_deployment_still_running_at_the_deadline_is_reported_with_its_status():
    time_ = SimulatedTime(done_at=10_000.0)
    with pytest.raises(DeploymentWaitExpired) as expired:
        watch_on(time_).wait("d", first_look=1.0, interval=1.0, timeout=60)
    assert expired.value.deployment["status"] == "BUILDING"
    assert time_.looks[-1] <= 60


def test_a_read_that_fails_reaches_the_waiter():
    def failing(_ids):
        raise RailwayUnavailable("server error; retries exhausted", "deploymentStatuses", 503)

    with pytest.raises(RailwayUnavailable):
        DeploymentWatch(failing).wait("d", first_look=0, interval=0, timeout=5)


def test_the_statuses_query_is_valid_against_railways_schema():
    schema = load_schema()
    for count in (1, 2, 5):
        document = statuses_operation(count).document
        assert validate(schema, parse(document)) == [], document
        assert document.count("deployment(id:") == count


def deploy_services(emulator, world, names: list[str]) -> list[str]:
    ids = []
    for name in names:
        made = emulator.dashboard(CREATE_SERVICE, {"p": world["project_id"], "n": name})["data"]["serviceCreate"]
        ids.append(emulator.dashboard(DEPLOY, {"s": made["id"], "e": world["environment_id"]})["data"])
    return [i["serviceInstanceDeployV2"] for i in ids]


def test_concurrent_waits_share_one_request_a_round(emulator, world, request_log):
    deployments = deploy_services(emulator, world, ["api", "web", "worker"])
    watch = configured(DeploymentProvider, emulator).watch(world["environment_id"])
    results: dict[str, dict] = {}

    def wait(deployment_id: str) -> None:
        results[deployment_id] = watch.wait(deployment_id, first_look=0.0, interval=0.01, timeout=60)

    threads = [threading.Thread(target=wait, args=(d,)) for d in deployments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert {d: r["status"] for d, r in results.items()} == dict.fromkeys(deployments, "SUCCESS")
    reads = request_log("deploymentStatuses")
    assert request_log("deployment") == [], "no deployment is read on its own"
    # Each deployment needs three reads to end (QUEUED -> BUILDING -> DEPLOYING -> SUCCESS): nine
    # requests one by one; shared, a round reads all three (a late starter costs one round more).
    assert len(reads) <= 4, [e["variables"] for e in reads]
    assert max(len(e["variables"]) for e in reads) == 3


def test_a_deployment_gone_meanwhile_fails_its_own_wait_only(emulator, world, make_client):
    (deployment,) = deploy_services(emulator, world, ["api"])
    answers = read_statuses(make_client(), [deployment, "no-such-deployment"])
    assert answers[deployment]["id"] == deployment
    assert isinstance(answers["no-such-deployment"], RailwayNotFound)


@pytest.mark.parametrize(("window", "rounds"), [(0.5, 1), (0.0, 2)])
def test_deployments_due_a_moment_apart_are_read_in_one_round(window, rounds):
    """Deployments started together end a little apart: the first one due waits for the others due
    within the window (real time here: "b" ends 0.2 s after "a" and is due 0.3 s after it)."""
    started = time.monotonic()
    ends = {"a": 1.0, "b": 1.2}
    reads: list[list[str]] = []

    def read(ids: list[str]) -> dict:
        reads.append(sorted(ids))
        elapsed = time.monotonic() - started
        return {i: {"id": i, "status": "SUCCESS" if elapsed >= ends[i] else "BUILDING"} for i in ids}

    watch = DeploymentWatch(read, share_window=window)
    threads = [
        threading.Thread(target=watch.wait, args=(name, look, 0.3, 30)) for name, look in (("a", 1.0), ("b", 1.3))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reads) == rounds, reads
    assert reads[0] == ["a", "b"], "one request asks for every deployment waited on"
