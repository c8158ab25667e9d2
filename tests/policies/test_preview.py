"""The pack run by the real `pulumi preview --policy-pack` (the CLI and language host tools/setup
builds) on prod against the Railway emulator: it loads in the project's virtualenv, a compliant prod
passes, a violating one fails naming the key with nothing written to Railway, a waived rule only
advises, and the violations reach the engine's event log as JSON lines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from policies.pack_config import pack_config
from tests.engine.cli import tools_available
from tests.engine.world import RailwayWorld, writes

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies"
DIGEST = "sha256:" + "7" * 64
IMAGES = {
    "release.images.backend": "ghcr.io/mvs-app/backend:2.0.0",
    "release.images.frontend": "ghcr.io/mvs-app/frontend:2.0.0",
    "database.image": "ghcr.io/railwayapp-templates/postgres-ssl:15.10",
    "backups.runner_image": "ghcr.io/mvs-app/backup-runner:0.1.0",
}
REPLICAS_MESSAGE = (
    "stacks/Pulumi.prod.yaml: mvs:environment.services.backend.replicas is 1; public services on prod run at least 2 "
    "replicas, so one crash or one deploy never takes the service down"
)


@pytest.fixture
def railway(tmp_path, s3_endpoint):
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path, s3_endpoint)
    world.cli.env["PULUMI_DEBUG_COMMANDS"] = "true"  # unhides --event-log
    yield world
    world.server.stop()


@pytest.fixture
def world(railway):
    railway.init_stack("prod")
    return railway


def set_key(world: RailwayWorld, key: str, value: str, stack: str = "prod") -> None:
    world.cli.ok("config", "set", "--path", "--stack", stack, f"mvs:environment.{key}", value)


def pin_by_digest(world: RailwayWorld) -> None:
    for key, ref in IMAGES.items():
        set_key(world, key, f"{ref}@{DIGEST}")


def preview(
    world: RailwayWorld, config: dict | None = None, stack: str = "prod"
) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`pulumi preview` of `stack` with the pack (and `config` as its --policy-pack-config); the run
    and the policy events of its event log."""
    scratch = world.cli.workdir.parent
    args = ["preview", "--stack", stack, "--policy-pack", str(PACK), "--event-log", str(scratch / "events.ndjson")]
    if config is not None:
        (scratch / "policies.json").write_text(json.dumps(config))
        args += ["--policy-pack-config", str(scratch / "policies.json")]
    result = world.cli.run(*args)
    events = [json.loads(line) for line in (scratch / "events.ndjson").read_text().splitlines()]
    return result, [e["policyEvent"] for e in events if "policyEvent" in e]


def test_a_compliant_prod_passes_every_rule(world):
    pin_by_digest(world)
    result, violations = preview(world, pack_config("prod", "stacks/Pulumi.prod.yaml", "mandatory"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Policies:\n    ✅ mvs@v0.1.0 (local: " in result.stdout
    assert violations == []
    assert writes(world.requests()) == []


def test_a_violating_prod_fails_naming_the_key_and_writes_nothing(world):
    pin_by_digest(world)
    set_key(world, "services.backend.replicas", "1")
    result, violations = preview(world)  # no config: every rule mandatory, the stack from the URN
    assert result.returncode != 0
    assert "[mandatory] [severity: high]  prod-public-replicas" in result.stdout
    assert REPLICAS_MESSAGE in result.stdout
    ((violation),) = violations
    assert (violation["policyName"], violation["enforcementLevel"], violation["severity"]) == (
        "prod-public-replicas",
        "mandatory",
        "high",
    )
    assert violation["message"].splitlines() == [
        "On prod, every public service (one with a domain) runs at least 2 replicas.",  # the rule's description
        REPLICAS_MESSAGE,
    ]
    assert writes(world.requests()) == [], "a policy stops the run before Railway hears of it"


def test_advisory_levels_and_waivers_report_without_failing(world):
    set_key(world, "services.backend.replicas", "1")
    # Without database.image, Railway's Postgres runs the component's default: a moving major tag.
    world.cli.ok("config", "rm", "--path", "--stack", "prod", "mvs:environment.database.image")
    waiver = "waived by alice: digests are published from release 2.1.0"
    config = pack_config(
        "prod", "stacks/Pulumi.prod.yaml", "mandatory", {"images-pinned": waiver, "prod-images-by-digest": waiver}
    )
    config["prod-public-replicas"]["enforcementLevel"] = "advisory"  # as `all` is on dev
    result, violations = preview(world, config)
    assert result.returncode == 0, result.stdout + result.stderr
    levels = {(v["policyName"], v["enforcementLevel"]) for v in violations}
    assert levels == {
        ("images-pinned", "advisory"),
        ("prod-images-by-digest", "advisory"),
        ("prod-public-replicas", "advisory"),
    }
    waived = [v["message"] for v in violations if v["policyName"] != "prod-public-replicas"]
    assert len(waived) == 6 and all(f"WAIVED ({waiver}): stacks/Pulumi.prod.yaml: " in m for m in waived)
    assert f"WAIVED ({waiver}): stacks/Pulumi.prod.yaml: mvs:environment.release.images.backend" in result.stdout
    assert writes(world.requests()) == []


def test_a_shrunk_volume_is_stopped_by_the_size_its_provider_read_on_railway(railway):
    railway.init_stack("staging")
    railway.cli.ok("up", "--yes", "--stack", "staging")
    set_key(railway, "database.volume_size_gb", "5", "staging")
    before = len(railway.requests())
    result, violations = preview(railway, pack_config("staging", "stacks/Pulumi.staging.yaml", "mandatory"), "staging")
    assert result.returncode != 0
    (shrink,) = [v["message"].splitlines()[-1] for v in violations if v["policyName"] == "volumes-never-shrink"]
    assert shrink == (
        "stacks/Pulumi.staging.yaml: mvs:environment.database.volume_size_gb is 5, below the 10000 MB volume "
        "staging-database-volume has on Railway; volumes never shrink: set it to at least 10"
    )
    assert writes(railway.requests()[before:]) == []
