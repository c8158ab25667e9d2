"""`./mvs preview` runs the policy pack for every stack, with the stack's enforcement level from
policies/enforcement.yaml and its waivers from the stack file, and keeps the findings as JSON
lines; `--no-policies` skips it, loudly. (The rules themselves: tests/policies.)"""

from __future__ import annotations

import json

import pytest

from tests.engine.world import RailwayWorld, writes
from tests.policies.test_preview import REPLICAS_MESSAGE, pin_by_digest, set_key


@pytest.fixture
def world(tmp_path, s3_endpoint):
    world = RailwayWorld(tmp_path, s3_endpoint)
    world.init_stack("prod")
    pin_by_digest(world)
    yield world
    world.server.stop()


def findings(world: RailwayWorld) -> list[dict]:
    path = world.cli.workdir / ".state" / "policies" / "prod.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_preview_runs_the_pack_mandatory_on_prod_and_keeps_the_findings(world):
    set_key(world, "services.backend.replicas", "1")
    done = world.mvs("preview", "prod")
    assert done.returncode != 0
    assert "mandatory on prod" in done.stderr
    assert REPLICAS_MESSAGE in done.stdout
    (found,) = findings(world)
    assert (found["stack"], found["policyName"], found["enforcementLevel"]) == (
        "prod",
        "prod-public-replicas",
        "mandatory",
    )
    assert REPLICAS_MESSAGE in found["message"]
    assert "policies: 1 finding(s) recorded in .state/policies/prod.jsonl" in done.stderr
    assert writes(world.requests()) == []


def test_a_waiver_in_the_stack_file_is_shown_and_lets_the_preview_pass(world):
    set_key(world, "services.backend.replicas", "1")
    for field, value in {"rule": "prod-public-replicas", "by": "alice", "reason": "one replica until launch"}.items():
        world.cli.ok("config", "set", "--path", "--stack", "prod", f"mvs:policyWaivers[0].{field}", value)
    done = world.mvs("preview", "prod")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = "WAIVED prod-public-replicas on prod (waived by alice: one replica until launch)"
    assert shown in done.stderr
    assert f"WAIVED (waived by alice: one replica until launch): {REPLICAS_MESSAGE}" in done.stdout
    (found,) = findings(world)
    assert found["enforcementLevel"] == "advisory"


def test_a_waiver_of_no_known_rule_stops_before_anything_runs(world):
    world.cli.ok("config", "set", "--path", "--stack", "prod", "mvs:policyWaivers[0].rule", "no-such-rule")
    world.cli.ok("config", "set", "--path", "--stack", "prod", "mvs:policyWaivers[0].by", "bob")
    before = len(world.requests())
    done = world.mvs("preview", "prod")
    assert done.returncode == 2
    assert "stacks/Pulumi.prod.yaml" in done.stderr and "mvs:policyWaivers[0]" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(world.requests()) == before


def test_no_policies_skips_the_pack_and_says_so(world):
    set_key(world, "services.backend.replicas", "1")
    done = world.mvs("preview", "prod", "--no-policies")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "POLICIES SKIPPED (--no-policies)" in done.stderr
    assert "prod-public-replicas" not in done.stdout


def test_the_default_prod_passes_with_the_waiver_its_stack_file_carries(tmp_path, s3_endpoint):
    world = RailwayWorld(tmp_path, s3_endpoint)
    try:
        world.init_stack("prod")
        done = world.mvs("preview", "prod")
    finally:
        world.server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WAIVED prod-images-by-digest on prod (waived by mvs-infra maintainers:" in done.stderr
    assert {f["policyName"] for f in findings(world)} == {"prod-images-by-digest"}
    assert {f["enforcementLevel"] for f in findings(world)} == {"advisory"}
