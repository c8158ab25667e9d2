"""What a run takes as its own on Railway (issue 8, points 10 and 14), end to end with the real CLI
against the emulator: a deployment only if this run made it, and one project per declaration,
found again after an interrupted create or a destroyed sibling, never a silent second one.

The providers' side, case by case, is in tests/railway/test_adoption.py.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from .world import SERVICES, operations, writes

ROOT = Path(__file__).resolve().parents[2]
LOG_LEVEL = "mvs:environment.services.backend.env.LOG_LEVEL"
DEPLOY = "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }"
CREATE_PROJECT = "mutation($n: String!) { projectCreate(input: {name: $n}) { id createdAt } }"
PROJECT_ID = "mvs:environment.railway.project_id"


def dashboard(world, query: str, variables: dict) -> dict:
    """A change made outside any stack; returns its data."""
    result = world.admin("dashboard", {"query": query, "variables": variables})
    assert not result["errors"], result
    return result["data"]


def recorded(world, stack: str, name: str) -> dict:
    """The outputs the stack's state records for one resource."""
    return next(r for r in world.cli.resources(stack) if r["urn"].endswith(f"::{name}"))["outputs"]


def test_a_deployment_made_just_before_a_lost_deploy_request_is_never_taken_as_ours(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    scope = {"s": world.service_id("backend"), "e": world.environment_id("staging")}
    snapshot = lambda deployment_id: world.state()["deployments"][deployment_id]["_snapshot"]["variables"]  # noqa: E731

    # A redeploy from the dashboard on the old settings, then an up whose deploy request fails
    # before Railway acts on it: the dashboard's deployment is not ours, a new one is made.
    world.cli.ok("config", "set", "--path", "--stack", "staging", LOG_LEVEL, "debug")
    theirs = dashboard(world, DEPLOY, scope)["serviceInstanceDeployV2"]
    lost = {"kind": "error", "status": 502, "operations": ["serviceInstanceDeployV2"], "count": 1}
    world.admin("faults", {"rules": [lost]})
    before = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "staging")
    ours = recorded(world, "staging", "staging-backend-deployment")
    assert ours["deployment_id"] != theirs, "a deployment that existed before the request is never ours"
    assert snapshot(ours["deployment_id"])["LOG_LEVEL"] == "debug", "the change runs"
    assert world.state()["deployments"][ours["deployment_id"]]["status"] == "SUCCESS"
    assert operations(world.requests()[before:])["serviceInstanceDeployV2"] == 2, "the failed one and ours"

    # The same, but Railway made ours and the answer was lost: ours is adopted, none made twice.
    # The deploy reaches Railway more than a second after the run's last answer, so Railway's
    # clock shows it was made after the writes (one inside that second is asked again instead).
    world.cli.ok("config", "set", "--path", "--stack", "staging", LOG_LEVEL, "warn")
    theirs = dashboard(world, DEPLOY, scope)["serviceInstanceDeployV2"]
    late = {"kind": "latency", "latency_ms": 1100, "phase": "request", "operations": ["serviceInstanceDeployV2"]}
    world.admin("faults", {"rules": [late, {**lost, "kind": "fail_after_commit"}]})
    before = len(world.requests())
    deployments_before = set(world.state()["deployments"])
    world.cli.ok("up", "--yes", "--stack", "staging")
    ours = recorded(world, "staging", "staging-backend-deployment")["deployment_id"]
    assert ours != theirs and snapshot(ours)["LOG_LEVEL"] == "warn"
    assert set(world.state()["deployments"]) - deployments_before == {ours}, "one deployment of ours"
    assert operations(world.requests()[before:])["serviceInstanceDeployV2"] == 1
    world.admin("faults", {"rules": []})
    world.cli.ok("preview", "--expect-no-changes", "--stack", "staging")


def test_an_up_killed_right_after_project_create_leaves_a_project_the_next_up_adopts(world):
    world.init_stack("staging")
    # Railway makes the project, then its answer is held back: the up is killed meanwhile.
    world.admin("faults", {"rules": [{"kind": "latency", "latency_ms": 15_000, "operations": ["projectCreate"]}]})
    up = world.start_up("staging")
    deadline = time.monotonic() + 300
    while "projectCreate" not in operations(world.requests()) and time.monotonic() < deadline:
        assert up.poll() is None, "the up ended before projectCreate reached Railway"
        time.sleep(0.1)
    up.send_signal(signal.SIGKILL)
    up.wait()
    world.admin("faults", {"rules": []})
    (left,) = world.state()["projects"]

    recovered = world.mvs("recover", "staging")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    world.cli.ok("up", "--yes", "--stack", "staging")

    state = world.state()
    assert list(state["projects"]) == [left], "the project the killed up made, not a second one"
    assert operations(world.requests())["projectCreate"] == 1
    assert [e["name"] for e in state["environments"].values()] == ["staging"]
    assert sorted(s["name"] for s in state["services"].values()) == SERVICES
    assert json.loads(world.cli.ok("stack", "output", "--json", "--stack", "staging"))["project_id"] == left
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")

    # Made by this stack after all: its destroy removes it once nothing uses it.
    world.cli.ok("destroy", "--yes", "--stack", "staging")
    assert world.state()["projects"] == {}


def test_staging_destroyed_and_made_again_returns_to_the_project_prod_lives_in(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    (project,) = world.state()["projects"]
    # prod declares no id: it finds the project by the name both stack files give it.
    world.init_stack("prod")
    world.cli.ok("up", "--yes", "--stack", "prod")
    assert list(world.state()["projects"]) == [project]

    world.cli.ok("destroy", "--yes", "--stack", "staging")
    assert list(world.state()["projects"]) == [project], "prod still lives there"
    before = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "staging")

    state = world.state()
    assert list(state["projects"]) == [project], "back in prod's project, not a second one"
    assert "projectCreate" not in writes(world.requests()[before:])
    assert sorted(e["name"] for e in state["environments"].values()) == ["prod", "staging"]
    assert json.loads(world.cli.ok("stack", "output", "--json", "--stack", "staging"))["project_id"] == project
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "prod")


def test_two_projects_with_the_declared_name_stop_the_up_before_anything_is_made(world):
    made = [dashboard(world, CREATE_PROJECT, {"n": "mvs"})["projectCreate"] for _ in range(2)]
    world.init_stack("staging")

    result = world.cli.run("up", "--yes", "--stack", "staging")

    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "2 existing Railway projects could be project 'mvs': " in output
    for project in made:
        assert f"'mvs' (id {project['id']}, created {project['createdAt']})" in output
    assert f"Nothing was created: set {PROJECT_ID} in stacks/Pulumi.staging.yaml to the id of the one" in output
    assert writes(world.requests()) == [], "nothing was written to Railway"
    assert sorted(world.state()["projects"]) == sorted(p["id"] for p in made)

    # Told which one, the next up uses it.
    world.cli.ok("config", "set", "--path", "--stack", "staging", PROJECT_ID, made[1]["id"])
    world.cli.ok("up", "--yes", "--stack", "staging")
    staging = next(e for e in world.state()["environments"].values() if e["name"] == "staging")
    assert staging["projectId"] == made[1]["id"]
    assert len(world.state()["projects"]) == 2
