"""`./mvs rollback` on staging (issue 11, point 4) with the real `pulumi` CLI against the emulator.

A bad release (a new backend image, a changed variable and a changed secret) goes live; the
rollback brings back the previous images and variables through Railway's own `deploymentRollback`
(no new deployment from scratch), writes the old release back into the stack file (secrets as
their old ciphertext), after which `preview --expect-no-changes` passes and the next `up` sends no
mutation. The tests of this module share one world and run in order."""

from __future__ import annotations

import json

import pytest
import yaml

from .world import SECRETS, RailwayWorld, world_up, writes

STACK = "staging"
BAD_IMAGE = "ghcr.io/mvs-app/backend:2.0.1"
GOOD_IMAGE = "ghcr.io/mvs-app/backend:2.0.0"
BAD_SECRET = "session-Bad-Release-9"


def stack_config(world: RailwayWorld) -> dict:
    return yaml.safe_load((world.cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").read_text())["config"]


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    with world_up(tmp_path_factory, s3_endpoint, "rollback", STACK) as world:
        world.good_config = stack_config(world)
        # The bad release: a new image, a changed variable and a changed secret.
        assert (
            world.mvs("release", "set", STACK, "--version", "2.0.1", "--image", f"backend={BAD_IMAGE}").returncode == 0
        )
        world.cli.ok(
            "config", "set", "--path", "--stack", STACK, "mvs:environment.services.backend.env.LOG_LEVEL", "debug"
        )
        world.cli.ok("config", "set", "--secret", "--stack", STACK, "mvs:sessionSecret", input_text=BAD_SECRET)
        world.cli.ok("up", "--yes", "--stack", STACK)
        yield world


def backend_now(world: RailwayWorld) -> tuple[dict, dict, dict]:
    """The backend's newest deployment, its service settings and its variables, as Railway has them."""
    state = world.state()
    environment_id, service_id = world.environment_id(STACK), world.service_id("backend")
    ours = [
        d for d in state["deployments"].values() if (d["serviceId"], d["environmentId"]) == (service_id, environment_id)
    ]
    newest = max(ours, key=lambda d: d["createdAt"])
    instance = state["instances"][f"{environment_id}:{service_id}"]
    variables = state["variables"][f"{environment_id}:{service_id}"]
    return newest, instance, variables


def test_the_bad_release_is_live_before_the_rollback(world):
    deployment, instance, variables = backend_now(world)
    assert deployment["meta"]["image"] == BAD_IMAGE and deployment["status"] == "SUCCESS"
    assert instance["source"]["image"] == BAD_IMAGE
    assert (variables["LOG_LEVEL"], variables["SESSION_SECRET"]) == ("debug", BAD_SECRET)


def test_rollback_restores_the_previous_images_and_variables_and_the_declaration(world):
    sent = len(world.requests())
    result = world.mvs("rollback", STACK)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{STACK} runs release 2.0.0 again" in result.stdout
    assert "Railway rolled back: backend" in result.stdout and "already running it: frontend" in result.stdout
    assert "-      version: 2.0.1" in result.stdout and "+      version: 2.0.0" in result.stdout
    assert "Traceback" not in result.stderr and BAD_SECRET not in result.stdout + result.stderr

    mutations = writes(world.requests()[sent:])
    assert mutations.count("deploymentRollback") == 1, mutations
    assert "serviceInstanceDeployV2" not in mutations, "a rollback must not deploy from scratch"
    deployment, instance, variables = backend_now(world)
    assert deployment["meta"]["image"] == GOOD_IMAGE and deployment["status"] == "SUCCESS"
    snapshot = deployment["_snapshot"]["variables"]
    assert (snapshot["LOG_LEVEL"], snapshot["SESSION_SECRET"]) == ("info", SECRETS["mvs:sessionSecret"])
    assert instance["source"]["image"] == GOOD_IMAGE
    assert (variables["LOG_LEVEL"], variables["SESSION_SECRET"]) == ("info", SECRETS["mvs:sessionSecret"])
    # the stack file declares the good release again, its secret as the same ciphertext as before
    assert stack_config(world) == world.good_config


def test_after_the_rollback_the_declaration_reality_and_state_agree(world):
    world.cli.ok("preview", "--stack", STACK, "--expect-no-changes")
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", STACK)
    assert writes(world.requests()[sent:]) == []
    listing = json.loads(world.mvs("releases", STACK, "--json").stdout)
    newest = listing["releases"][0]
    assert newest["version"] == "2.0.0" and newest["note"] == "rolled back from 2.0.1 to 2.0.0"
    assert newest["services"]["backend"]["deployment_id"] == backend_now(world)[0]["id"]


def test_a_release_the_stack_never_ran_is_refused_in_one_line(world):
    before = (world.cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    sent = len(world.requests())
    result = world.mvs("rollback", STACK, "--to", "9.9.9")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {STACK} never ran release 9.9.9; its releases: 2.0.0, 2.0.1"
    assert writes(world.requests()[sent:]) == []
    assert (world.cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml").read_text() == before


def test_past_the_plans_image_retention_the_old_image_is_redeployed_and_said(world):
    assert world.mvs("release", "set", STACK, "--version", "2.0.3", "--image", f"backend={BAD_IMAGE}").returncode == 0
    world.cli.ok("up", "--yes", "--stack", STACK)
    world.admin("plan", {"plan": "HOBBY"})
    world.admin("clock", {"advance_hours": 73})  # Hobby keeps a removed deployment's image for 72 hours
    sent = len(world.requests())

    result = world.mvs("rollback", STACK)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(image retention); redeploying its old image instead" in result.stdout
    assert "redeployed from the old image: backend" in result.stdout
    mutations = writes(world.requests()[sent:])
    assert "deploymentRollback" not in mutations and mutations.count("serviceInstanceDeployV2") == 1, mutations
    deployment, instance, _variables = backend_now(world)
    assert deployment["meta"]["image"] == GOOD_IMAGE and deployment["status"] == "SUCCESS"
    assert instance["source"]["image"] == GOOD_IMAGE
    world.cli.ok("preview", "--stack", STACK, "--expect-no-changes")
