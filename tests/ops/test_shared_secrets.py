"""The warning before a write to a tracked stack file that other checkouts could not decrypt:
a real git repository in a temp directory; the passphrase from the environment or generated."""

from __future__ import annotations

import subprocess

import pytest

from mvsctl.shared_secrets import is_unshareable, secrets_provider, uses_generated_passphrase, warn_if_unshareable

STACK_TEXT = "config:\n  mvs:environment:\n    target: local\n"
KMS_LINE = "secretsprovider: awskms://alias/mvs?region=eu-west-1\n"


def git(repo, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def project(tmp_path):
    """A repository with a tracked dev stack file and an untracked one for `mine`."""
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks/Pulumi.dev.yaml").write_text(STACK_TEXT)
    (tmp_path / "stacks/Pulumi.mine.yaml").write_text(STACK_TEXT)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "stacks/Pulumi.dev.yaml")
    return tmp_path


def said(stack, project, env) -> list[str]:
    lines: list[str] = []
    warn_if_unshareable(stack, lines.append, project, env)
    return lines


def generated_env(project) -> dict[str, str]:
    """What the `mvs` wrapper exports when the developer set no passphrase."""
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(project / ".state/passphrase")}


def test_tracked_file_with_the_generated_passphrase_gets_one_line_naming_file_and_remedies(project):
    lines = said("dev", project, generated_env(project))
    assert len(lines) == 1
    line = lines[0]
    assert "stacks/Pulumi.dev.yaml" in line and "other checkouts" in line and "cannot decrypt" in line
    assert "PULUMI_CONFIG_PASSPHRASE" in line and "change-secrets-provider --stack dev awskms://" in line
    assert "\n" not in line


def test_no_passphrase_variables_at_all_counts_as_generated(project):
    assert len(said("dev", project, {})) == 1


def test_untracked_stack_file_gets_no_warning(project):
    assert said("mine", project, generated_env(project)) == []


def test_outside_a_git_repository_no_warning(tmp_path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks/Pulumi.dev.yaml").write_text(STACK_TEXT)
    assert said("dev", tmp_path, {}) == []


def test_missing_stack_file_gets_no_warning(project):
    assert said("nosuch", project, {}) == []


def test_team_passphrase_from_the_environment_means_no_warning(project):
    assert said("dev", project, {"PULUMI_CONFIG_PASSPHRASE": "team"}) == []
    assert said("dev", project, {**generated_env(project), "PULUMI_CONFIG_PASSPHRASE": "team"}) == []


def test_a_passphrase_file_of_the_teams_means_no_warning(project, tmp_path_factory):
    team_file = tmp_path_factory.mktemp("team") / "passphrase"
    team_file.write_text("team\n")
    assert said("dev", project, {"PULUMI_CONFIG_PASSPHRASE_FILE": str(team_file)}) == []


def test_kms_secrets_provider_in_the_stack_file_means_no_warning(project):
    (project / "stacks/Pulumi.dev.yaml").write_text(KMS_LINE + STACK_TEXT)
    assert said("dev", project, generated_env(project)) == []


def test_the_decision_and_its_facts():
    assert is_unshareable(tracked=True, provider="passphrase", generated_passphrase=True)
    assert not is_unshareable(tracked=False, provider="passphrase", generated_passphrase=True)
    assert not is_unshareable(tracked=True, provider="awskms://alias/mvs", generated_passphrase=True)
    assert not is_unshareable(tracked=True, provider="passphrase", generated_passphrase=False)
    assert secrets_provider(STACK_TEXT) == "passphrase"
    assert secrets_provider("secretsprovider: passphrase\n" + STACK_TEXT) == "passphrase"
    assert secrets_provider(KMS_LINE + STACK_TEXT).startswith("awskms://")
    assert secrets_provider("{not: [yaml") == "passphrase"
    assert uses_generated_passphrase({"PULUMI_CONFIG_PASSPHRASE": ""})
