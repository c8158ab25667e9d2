"""`./mvs promote FROM TO` (issue 11, point 3) with the real `pulumi` CLI against the emulator:
a skipped stage is refused; so is a FROM whose last `up` failed, one that runs images by tag, and
one whose stack file has moved past what it runs; a good promotion writes FROM's live release into
TO's stack file pinned by digest, prints the change, and TO then runs exactly FROM's digests while
keeping its own settings. The tests of this module share one world and run in order."""

from __future__ import annotations

import pytest
import yaml

from .cli import tools_available
from .world import RailwayWorld, writes

BACKEND = "ghcr.io/mvs-app/backend@sha256:" + "1b" * 32
FRONTEND = "ghcr.io/mvs-app/frontend@sha256:" + "2f" * 32


def declaration(world: RailwayWorld, stack: str) -> dict:
    path = world.cli.workdir / "stacks" / f"Pulumi.{stack}.yaml"
    return yaml.safe_load(path.read_text())["config"]["mvs:environment"]


def running_images(world: RailwayWorld, stack: str) -> dict[str, str]:
    """The image each app service's newest deployment in `stack`'s environment runs."""
    state, environment_id = world.state(), world.environment_id(stack)
    images = {}
    for name in ("backend", "frontend"):
        service_id = world.service_id(name)
        ours = [
            d
            for d in state["deployments"].values()
            if (d["serviceId"], d["environmentId"]) == (service_id, environment_id)
        ]
        images[name] = max(ours, key=lambda d: d["createdAt"])["meta"]["image"]
    return images


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path_factory.mktemp("promote"), s3_endpoint)
    world.share_a_project()
    yield world
    world.server.stop()


@pytest.mark.parametrize(("source", "target"), [("dev", "prod"), ("prod", "staging"), ("staging", "dev")])
def test_a_promotion_off_the_pipeline_order_is_refused_before_anything(world, source, target):
    before = {stack: declaration(world, stack) for stack in ("dev", "staging", "prod")}
    result = world.mvs("promote", source, target)
    assert result.returncode == 1, result.stdout
    assert (
        result.stderr.startswith(f"error: {source} -> {target} is refused")
        and "dev -> staging -> prod" in result.stderr
    )
    assert {stack: declaration(world, stack) for stack in before} == before


def test_a_source_that_runs_images_by_tag_is_refused_naming_them(world):
    result = world.mvs("promote", "staging", "prod")
    assert result.returncode == 1
    assert "staging runs backend (ghcr.io/mvs-app/backend:2.0.0), frontend" in result.stderr
    assert "./mvs release set staging" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_source_whose_last_up_failed_is_refused(world):
    world.admin("behaviour", {"service": "backend", "outcome": "FAILED"})
    args = ("--version", "2.0.1", "--image", f"backend={BACKEND}", "--image", f"frontend={FRONTEND}")
    assert world.mvs("release", "set", "staging", *args).returncode == 0
    assert world.cli.run("up", "--yes", "--stack", "staging").returncode != 0
    before = declaration(world, "prod")
    result = world.mvs("promote", "staging", "prod")
    assert result.returncode == 1
    assert result.stderr.startswith("error: staging's last up failed: only a release that went live is promoted")
    assert declaration(world, "prod") == before


def test_a_source_whose_stack_file_moved_past_what_it_runs_is_refused(world):
    world.admin("behaviour", {"service": "backend", "outcome": "SUCCESS"})
    world.cli.ok("up", "--yes", "--stack", "staging")
    assert world.mvs("release", "set", "staging", "--version", "2.0.2").returncode == 0
    result = world.mvs("promote", "staging", "prod")
    assert result.returncode == 1
    assert "declares release 2.0.2, but staging's last up made 2.0.1 live" in result.stderr
    assert world.mvs("release", "set", "staging", "--version", "2.0.1").returncode == 0


def test_a_good_promotion_pins_the_digests_and_prod_then_runs_exactly_them(world):
    prod_before = declaration(world, "prod")
    staging_runs = running_images(world, "staging")
    assert staging_runs == {"backend": BACKEND, "frontend": FRONTEND}
    sent = len(world.requests())

    result = world.mvs("promote", "staging", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert writes(world.requests()[sent:]) == [], "promote without --apply only edits the stack file"
    assert "release 2.0.1 of staging promoted into stacks/Pulumi.prod.yaml" in result.stdout
    assert "release.version: 2.0.0 -> 2.0.1" in result.stdout
    assert f"release.images.backend: ghcr.io/mvs-app/backend:2.0.0 -> {BACKEND}" in result.stdout
    # then prod's summary: what `./mvs up prod` would change, release line first
    assert "<!-- mvs-summary -->" in result.stdout and "**Release**: 2.0.0 -> 2.0.1" in result.stdout
    assert f"- backend: `ghcr.io/mvs-app/backend:2.0.0` -> `{BACKEND}`" in result.stdout
    prod_after = declaration(world, "prod")
    assert prod_after["release"] == {"version": "2.0.1", "images": {"backend": BACKEND, "frontend": FRONTEND}}
    assert {k: v for k, v in prod_after.items() if k != "release"} == {
        k: v for k, v in prod_before.items() if k != "release"
    }, "only the release moves; prod keeps its own settings"

    applied = world.mvs("promote", "staging", "prod", "--apply", "--yes")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert running_images(world, "prod") == staging_runs
