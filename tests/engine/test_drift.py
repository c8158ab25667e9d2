"""`./mvs drift STACK...` (issue 11, point 5) with the real `pulumi` CLI against the emulator: a clean
stack exits 0; changes made in the dashboard exit 2 with a report naming the resource and field,
while the drift run itself sends no mutation and leaves the state as it was; a stack that cannot
be checked exits 1 with one line, and that wins over drift. One `up` serves the whole module."""

from __future__ import annotations

import json

import pytest

from .world import SECRETS, world_up, writes

STACK = "staging"
RENAME_SERVICE = "mutation($s: String!, $n: String) { serviceUpdate(id: $s, input: {name: $n}) { id } }"
SCALE = (
    "mutation($s: String!, $e: String!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: {numReplicas: 3}) }"
)
SET_VARIABLES = "mutation($i: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $i) }"
DASHBOARD_SECRET = "typed-In-The-Dashboard-7"


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    with world_up(tmp_path_factory, s3_endpoint, "drift", STACK) as world:
        yield world


def test_a_stack_in_line_exits_0(world, tmp_path):
    out = tmp_path / "drift.md"
    result = world.mvs("drift", STACK, "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"## Drift: {STACK}" in result.stdout and "no drift" in result.stdout
    assert out.read_text().strip() == result.stdout.strip()


def test_dashboard_changes_exit_2_named_by_resource_and_field_and_nothing_is_written(world, tmp_path):
    environment_id = world.environment_id(STACK)
    project_id = json.loads(world.cli.ok("stack", "output", "--json", "--stack", STACK))["project_id"]
    world.dashboard(RENAME_SERVICE, {"s": world.service_id("frontend"), "n": "web"})
    world.dashboard(SCALE, {"s": world.service_id("backend"), "e": environment_id})
    scope = {"projectId": project_id, "environmentId": environment_id, "serviceId": world.service_id("backend")}
    changed = {"SESSION_SECRET": DASHBOARD_SECRET}
    world.dashboard(SET_VARIABLES, {"i": {**scope, "variables": changed, "skipDeploys": True}})
    state_before = world.cli.export_state(STACK)
    sent = len(world.requests())

    out = tmp_path / "drift.md"
    result = world.mvs("drift", STACK, "--out", str(out))

    assert result.returncode == 2, result.stdout + result.stderr
    report = result.stdout
    assert "### railway:Service `staging-frontend`" in report and "| name | web | frontend |" in report
    assert "### railway:ServiceInstance `staging-backend-settings`" in report and "| num_replicas | 3 | 1 |" in report
    assert "### railway:Variables `staging-backend-variables`" in report and "SESSION_SECRET changed" in report
    assert "urn:pulumi" not in report, "resources are named by type and name, not by URN"
    for secret in [DASHBOARD_SECRET, *SECRETS.values()]:
        assert secret not in report and secret not in result.stderr and secret not in out.read_text()
    assert "drifted" in out.read_text()

    requests = world.requests()[sent:]
    assert requests and not writes(requests), f"a drift run only reads: {writes(requests)}"
    print(f"\none drift run of {STACK}: {len(requests)} Railway requests, {len(writes(requests))} mutations")
    assert world.cli.export_state(STACK) == state_before, "a drift run writes no state"


def test_a_stack_that_cannot_be_checked_exits_1_with_one_line_and_wins_over_drift(world):
    # prod has a stack file but was never brought up here; staging has drifted (the test above).
    result = world.mvs("drift", STACK, "prod")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "drifted" in result.stdout
    assert_one_line(result.stderr, "prod", "./mvs up prod")


def test_an_invalid_token_exits_1_with_one_line(world):
    token = world.cli.env["RAILWAY_API_TOKEN"]
    world.cli.env["RAILWAY_API_TOKEN"] = "not-a-valid-token"
    try:
        result = world.mvs("drift", STACK)
    finally:
        world.cli.env["RAILWAY_API_TOKEN"] = token
    assert result.returncode == 1, result.stdout + result.stderr
    assert_one_line(result.stderr, STACK)
    assert "not-a-valid-token" not in result.stdout + result.stderr


def test_the_emulator_stopped_exits_1_with_one_line(world):
    world.server.stop()
    result = world.mvs("drift", STACK)
    assert result.returncode == 1, result.stdout + result.stderr
    assert_one_line(result.stderr, STACK)
    assert "cannot connect" in result.stderr


def assert_one_line(stderr: str, stack: str, next_step: str = "") -> None:
    """One line: which stack, what failed, and the command to run next."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {stack}: ") and (next_step or f"./mvs drift {stack}") in lines[0], lines[0]
    assert "Traceback" not in stderr
