"""Release history (issue 11, point 1) with the real `pulumi` CLI against the emulator: every
successful `up` records the release (version, images with digests, Railway deployment ids, commit,
time) in the stack's state; `./mvs releases` lists them newest first and marks the live one; an
`up` whose deployment fails records nothing; `./mvs release set` writes a release into the stack
file, validated first; a rollback after a failed release names it. The tests of this module share
one world and run in order."""

from __future__ import annotations

import json

import pytest

from .world import RailwayWorld, world_up

STACK = "staging"
FIRST_COMMIT = "c0ffee0000000000000000000000000000000001"
DIGEST = "sha256:" + "ab" * 32
NEW_BACKEND = f"ghcr.io/mvs-app/backend@{DIGEST}"


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    with world_up(tmp_path_factory, s3_endpoint, "releases", STACK, MVS_RELEASE_COMMIT=FIRST_COMMIT) as world:
        yield world


def history(world: RailwayWorld) -> dict:
    result = world.mvs("releases", STACK, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def latest_deployment(world: RailwayWorld, service: str) -> dict:
    environment_id, service_id = world.environment_id(STACK), world.service_id(service)
    ours = [
        d
        for d in world.state()["deployments"].values()
        if (d["serviceId"], d["environmentId"]) == (service_id, environment_id)
    ]
    return max(ours, key=lambda d: d["createdAt"])


def test_the_first_up_records_its_release_with_what_runs_each_service(world):
    listing = history(world)
    assert listing["last_update"] == "succeeded"
    [record] = listing["releases"]
    assert record["version"] == "2.0.0"
    assert record["commit"] == FIRST_COMMIT
    assert set(record["services"]) == {"backend", "frontend"}
    backend = record["services"]["backend"]
    assert backend["image"] == "ghcr.io/mvs-app/backend:2.0.0" and backend.get("digest") is None
    assert backend["deployment_id"] == latest_deployment(world, "backend")["id"]
    # What a rollback writes back: the release block, each service's variables, secrets as ciphertext.
    declared = record["declared"]
    assert declared["release"]["version"] == "2.0.0"
    assert declared["services"]["backend"]["secrets"] == {"SESSION_SECRET": "sessionSecret"}
    assert set(declared["secrets"]) == {"mvs:sessionSecret"}
    assert set(declared["secrets"]["mvs:sessionSecret"]) == {"secure"}
    text = world.mvs("releases", STACK)
    assert text.returncode == 0
    [_header, row] = text.stdout.strip().splitlines()
    assert row.startswith("live") and "2.0.0" in row and "backend=backend:2.0.0" in row


def test_release_set_writes_a_valid_release_into_the_stack_file_and_refuses_an_invalid_one(world):
    path = world.cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml"
    before = path.read_text()
    refused = world.mvs(
        "release", "set", STACK, "--version", "2.0.1", "--image", "backend=ghcr.io/mvs-app/backend:latest"
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "release.images.backend" in refused.stderr and "Traceback" not in refused.stderr
    assert path.read_text() == before

    result = world.mvs("release", "set", STACK, "--version", "2.0.1", "--image", f"backend={NEW_BACKEND}")
    assert result.returncode == 0, result.stderr
    assert "-      version: 2.0.0" in result.stdout and "+      version: 2.0.1" in result.stdout
    assert f"+        backend: {NEW_BACKEND}" in result.stdout
    after = path.read_text()
    assert "# Railway's Postgres image, one minor" in after  # comments survive the edit
    assert after.replace("2.0.1", "2.0.0").replace(NEW_BACKEND, "ghcr.io/mvs-app/backend:2.0.0") == before


def test_an_up_of_a_new_release_puts_it_first_as_live_and_a_new_commit_alone_changes_nothing(world):
    world.cli.ok("up", "--yes", "--stack", STACK)
    listing = history(world)
    newest, older = listing["releases"]
    assert (newest["version"], older["version"]) == ("2.0.1", "2.0.0")
    assert newest["services"]["backend"]["digest"] == DIGEST
    assert newest["services"]["backend"]["deployment_id"] == latest_deployment(world, "backend")["id"]
    assert newest["services"]["backend"]["deployment_id"] != older["services"]["backend"]["deployment_id"]
    # the frontend did not change: it runs the same deployment in both records
    assert newest["services"]["frontend"] == older["services"]["frontend"]

    world.cli.env["MVS_RELEASE_COMMIT"] = "c0ffee0000000000000000000000000000000002"
    world.cli.ok("preview", "--stack", STACK, "--expect-no-changes")
    world.cli.ok("up", "--yes", "--stack", STACK)
    assert len(history(world)["releases"]) == 2


def test_an_up_whose_deployment_fails_records_nothing_and_the_listing_says_so(world):
    world.admin("behaviour", {"service": "backend", "outcome": "FAILED"})
    assert (
        world.mvs(
            "release", "set", STACK, "--version", "2.0.2", "--image", "backend=ghcr.io/mvs-app/backend:2.0.2"
        ).returncode
        == 0
    )
    failed = world.cli.run("up", "--yes", "--stack", STACK)
    assert failed.returncode != 0
    listing = history(world)
    assert listing["last_update"] == "failed" and listing["failed_version"] == "2.0.2"
    assert [r["version"] for r in listing["releases"]] == ["2.0.1", "2.0.0"]
    text = world.mvs("releases", STACK).stdout
    failed_row, good_row = text.splitlines()[1:3]
    assert failed_row.split()[:2] == ["failed", "2.0.2"] and "not recorded" in failed_row
    assert good_row.startswith("last good") and "2.0.1" in good_row
    assert f"The last update of {STACK} (release 2.0.2) failed" in text


def test_ps_after_the_failed_release_shows_what_serves_and_what_failed_with_why(world):
    failed = latest_deployment(world, "backend")
    world.admin(
        "logs",
        {
            "deploymentId": failed["id"],
            "lines": [{"message": "Error: relation notes does not exist", "severity": "error"}],
        },
    )
    result = world.mvs("ps", STACK)
    assert result.returncode == 0, result.stderr
    rows = {
        row.split()[0] + (" latest" if "latest" in row.split()[1] else ""): row for row in result.stdout.splitlines()
    }
    serving, attempt = rows["backend"], rows["backend: latest"]
    assert "SUCCESS (serving)" in serving and " 2.0.1 " in serving and NEW_BACKEND in serving
    assert "FAILED (not serving)" in attempt and "2.0.2 (failed)" in attempt
    assert "Error: relation notes does not exist" in attempt and f"./mvs logs {STACK} backend" in attempt
    assert "ghcr.io/mvs-app/backend:2.0.2" in attempt
    assert " 2.0.1 " in rows["frontend"], "a service the failed update did not reach runs the last good release"


def test_a_rollback_after_the_failed_release_names_it(world):
    world.admin("behaviour", {"service": "backend", "outcome": "SUCCESS"})
    result = world.mvs("rollback", STACK)
    assert result.returncode == 0, result.stdout + result.stderr
    listing = history(world)
    assert listing["last_update"] == "succeeded" and listing["failed_version"] is None
    newest = listing["releases"][0]
    assert newest["version"] == "2.0.1" and newest["note"] == "rolled back from 2.0.2, failed, to 2.0.1"
    text = world.mvs("releases", STACK).stdout
    assert text.splitlines()[1].startswith("live") and "rolled back from 2.0.2, failed, to 2.0.1" in text


def test_releases_of_a_stack_never_brought_up_is_one_line(world):
    result = world.mvs("releases", "prod")
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: there is no stack prod in this state backend yet: bring it up with ./mvs up prod"
    )
