"""`./mvs summary STACK...` (issue 11, point 2) with the real `pulumi` CLI against the emulator: a
stack in line says so; a change that replaces the database volume, rotates a secret and moves the
release renders the banner, `[secret]` and the release line, with no secret value anywhere; a stack
file that does not validate exits 1 with one line. One `up` serves the whole module."""

from __future__ import annotations

import json

import pytest

from .world import SECRETS, RailwayWorld, world_up

STACK = "staging"
ROTATED = "rotated-Session-Secret-5"
NEW_BACKEND = "ghcr.io/mvs-app/backend:2.1.0"


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    with world_up(tmp_path_factory, s3_endpoint, "summary", STACK) as world:
        yield world


def set_key(world: RailwayWorld, key: str, value: str) -> None:
    world.cli.ok("config", "set", "--path", "--stack", STACK, f"mvs:environment.{key}", value)


def test_a_stack_with_no_changes_says_so(world, tmp_path):
    out = tmp_path / "summary.md"
    result = world.mvs("summary", STACK, "--no-policies", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    assert report.startswith("<!-- mvs-summary -->")
    assert f"**{STACK}**: no changes" in report
    assert "release unchanged (2.0.0)" in report
    assert "[!CAUTION]" not in report and "[!WARNING]" not in report
    assert "the policy pack did not run (`--no-policies`)" in report
    assert out.read_text().strip() == report.strip()


def test_a_stack_file_that_does_not_validate_exits_1_with_one_line(world):
    broken = world.cli.workdir / "stacks" / "Pulumi.broken.yaml"
    broken.write_text("config:\n  mvs:environment:\n    target: nowhere\n")
    try:
        result = world.mvs("summary", "broken")
    finally:
        broken.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: broken: "), result.stderr
    assert "./mvs validate broken" in lines[0] and "Traceback" not in result.stderr
    assert "**broken**: not previewed" in result.stdout


def test_a_stack_the_engine_cannot_preview_exits_1_with_its_reason_and_the_others_are_summarized(world):
    # prod has a valid stack file but was never brought up here
    result = world.mvs("summary", STACK, "prod", "--no-policies")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: prod: the stack has no state here"), result.stderr
    assert "./mvs up prod" in lines[0] and "Traceback" not in result.stderr
    assert f"**{STACK}**: no changes" in result.stdout and "**prod**: not previewed" in result.stdout


def test_a_stack_that_fails_in_the_program_names_the_first_error_and_claims_no_policy_result(world):
    token = world.cli.env.pop("RAILWAY_API_TOKEN")
    try:
        result = world.mvs("summary", STACK)
    finally:
        world.cli.env["RAILWAY_API_TOKEN"] = token
    assert result.returncode == 1, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {STACK}: could not preview it (no Railway token: set RAILWAY_API_TOKEN"), line
    assert "exited with code" not in line and line.count("Nothing was changed") + line.count("nothing was changed") == 1
    assert f"**{STACK}**: not previewed: could not preview it (no Railway token" in result.stdout
    assert "**Policies**: not checked: the stack could not be previewed" in result.stdout
    assert "no findings" not in result.stdout


def test_a_replaced_volume_a_changed_secret_and_a_changed_release(world, tmp_path):
    """The issue's own test: the banner, [secret] and the release line; no secret value anywhere."""
    project_id = json.loads(world.cli.ok("stack", "output", "--json", "--stack", STACK))["project_id"]
    set_key(world, "railway.project_id", project_id)  # adopting the project replaces everything in it
    world.cli.ok("config", "set", "--secret", "--stack", STACK, "mvs:sessionSecret", input_text=ROTATED)
    set_key(world, "release.version", "2.1.0")
    set_key(world, "release.images.backend", NEW_BACKEND)
    set_key(world, "services.backend.env.LOG_LEVEL", "debug")

    out = tmp_path / "summary.md"
    result = world.mvs("summary", STACK, "--out", str(out))
    as_json = world.mvs("summary", STACK, "--format", "json")

    assert result.returncode == 0, result.stdout + result.stderr
    report = result.stdout
    head = report.split(f"### {STACK}", 1)[0]
    assert "> [!CAUTION]" in head, "the banner comes before the details"
    assert "> - replace railway:Volume `staging-database-volume`: the database volume" in head
    assert "> - replace railway:BackupSchedules `staging-database-backup-schedules`" in head
    assert "**Release**: 2.0.0 -> 2.1.0" in report
    assert f"- backend: `ghcr.io/mvs-app/backend:2.0.0` -> `{NEW_BACKEND}`" in report
    assert "SESSION_SECRET changed [secret]" in report
    assert "LOG_LEVEL changed: info → debug" in report, "a plain variable shows its values"
    assert "<details><summary>" in report and "</details>" in report
    assert "**Policies**:" in report
    assert (world.cli.workdir / ".state" / "policies" / f"{STACK}.jsonl").exists(), "the pack ran and kept its findings"

    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)["stacks"][0]
    assert data["counts"]["replace"] > 0 and data["policies"]["ran"]
    volume = {"op": "replace", "type": "railway:Volume", "name": "staging-database-volume"}
    assert {**volume, "holds": "the database volume"} in data["data_at_risk"]
    assert (data["release"]["old_version"], data["release"]["new_version"]) == ("2.0.0", "2.1.0")

    everything = report + result.stderr + out.read_text() + as_json.stdout + as_json.stderr
    for secret in [ROTATED, *SECRETS.values()]:
        assert secret not in everything, "a secret value in the summary"
    print(f"\n{report}")
