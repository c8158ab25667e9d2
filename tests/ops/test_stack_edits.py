"""Every edit `./mvs` makes to a stack file (release set, promote, rollback, base, secrets) keeps
the file byte for byte outside the keys it changes: comments, spacing, quoting, key order
(issue 24, point 8). Each default stack file, as committed, is edited and the diff is read."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

from mvsctl import stack_edit

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "ghcr.io/mvs-app/backend@sha256:" + "ab" * 32


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        shutil.copy(path, tmp_path / "stacks" / path.name)
    return tmp_path


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_a_release_set_changes_only_the_version_and_image_lines(project, stack):
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    before = path.read_text()
    images = {} if stack == "dev" else {"backend": DIGEST}  # dev builds its images from the repository
    stack_edit.edit_stack_file(stack, stack_edit.set_release("9.9.9", images, False), project)
    lines = changed_lines(before, path.read_text())
    assert lines, "the release changed"
    assert all("version:" in line or "backend:" in line for line in lines), lines
    assert sum(line.startswith("-") for line in lines) <= 2, "one version line and at most one image line go"


def test_setting_base_adds_one_line_and_nothing_else_moves(project):
    path = project / "stacks" / "Pulumi.dev.yaml"
    before = path.read_text()
    stack_edit.edit_stack_file("dev", stack_edit.set_base("debian"), project)
    assert changed_lines(before, path.read_text()) == ["+    base: debian"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_rollback_to_what_is_declared_changes_nothing(project, stack):
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    before = path.read_text()
    environment = yaml.safe_load(before)["config"]["mvs:environment"]
    declared = {
        "release": environment["release"],
        "services": {
            name: {"env": service.get("env") or {}, "secrets": service.get("secrets") or {}}
            for name, service in environment["services"].items()
        },
        "secrets": {},
    }
    assert stack_edit.edit_stack_file(stack, stack_edit.restore_release(declared), project) == ""
    assert path.read_text() == before
