"""Which release `./mvs rollback` goes back to, and what it refuses before touching anything."""

from __future__ import annotations

import pytest

from components.errors import MvsError
from components.stack_config import load_stack_file
from mvsctl import rollback
from mvsctl.pulumi_cli import PROJECT_ROOT
from mvsctl.releases import Releases


def record(version: str, deployment: str, commit: str | None = None) -> dict:
    services = {"backend": {"image": f"ghcr.io/mvs-app/backend:{version}", "deployment_id": deployment}}
    return {"version": version, "services": services, "commit": commit, "declared": {}}


HISTORY = [record("2.0.2", "d3"), record("2.0.1", "d2"), record("2.0.1", "d2"), record("2.0.0", "d1")]


def test_after_a_successful_up_it_goes_to_the_newest_release_that_runs_something_else():
    target = rollback.choose_target(Releases("staging", HISTORY, "succeeded"), None)
    assert (target["version"], target["services"]["backend"]["deployment_id"]) == ("2.0.1", "d2")


def test_after_a_failed_up_it_goes_to_the_last_good_release_the_newest_record():
    target = rollback.choose_target(Releases("staging", HISTORY, "failed"), None)
    assert target["version"] == "2.0.2"


def test_a_named_version_is_its_newest_record():
    history = [record("2.0.1", "d4"), *HISTORY]
    assert rollback.choose_target(Releases("staging", history, "succeeded"), "2.0.1")["services"]["backend"] == {
        "image": "ghcr.io/mvs-app/backend:2.0.1",
        "deployment_id": "d4",
    }


@pytest.mark.parametrize(
    ("history", "version", "message"),
    [
        ([], None, "staging has no recorded release yet"),
        ([record("2.0.0", "d1")], None, "staging has run only release 2.0.0: there is nothing before it"),
        (HISTORY, "1.9.9", "staging never ran release 1.9.9; its releases: 2.0.2, 2.0.1, 2.0.0"),
    ],
)
def test_nothing_to_go_back_to_is_said_in_one_line(history, version, message):
    with pytest.raises(rollback.NothingToRollBackTo) as refused:
        rollback.choose_target(Releases("staging", history, "succeeded"), version)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_dev_services_built_from_the_repository_name_the_commit_to_check_out_and_nothing_is_written(monkeypatch):
    spec = load_stack_file(PROJECT_ROOT / "stacks" / "Pulumi.dev.yaml", check_secrets=False)
    built = {"version": "2.0.0", "services": {"backend": {"image_id": "sha256:1"}}, "commit": "abc123"}
    newer = {**built, "version": "2.0.1", "services": {"backend": {"image_id": "sha256:2"}}}
    history = Releases("dev", [newer, built], "succeeded")
    monkeypatch.setattr(rollback.releases, "read", lambda stack: history)
    monkeypatch.setattr(rollback, "interruption", lambda stack: type("None", (), {"found": False})())
    edits = []
    monkeypatch.setattr(rollback.stack_edit, "edit_stack_file", lambda *args: edits.append(args))
    with pytest.raises(MvsError) as refused:
        rollback.rollback("dev", spec, None, say=print)
    assert str(refused.value) == (
        "dev builds backend from the repository, so a rollback cannot bring back old code: "
        "check out commit abc123 of release 2.0.0 and run ./mvs up dev"
    )
    assert edits == []
