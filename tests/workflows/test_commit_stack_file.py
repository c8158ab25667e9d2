"""tools/ci/commit-stack-file STACK MESSAGE, as the deploy workflows run it: commits the stack file
as github-actions[bot] and pushes it to main; when main moved meanwhile it rebases and pushes again,
and a conflict in that stack file is settled by the file as deployed. Plain git, no world."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .actions_runner import git

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = """config:
  mvs:environment:
    release:
      version: {version}
      images:
        backend: registry.example/mvs-backend@sha256:{digest}
    services:
      backend:
        replicas: {replicas}
"""


@pytest.fixture
def repos(tmp_path):
    """(origin, the workflow's checkout, a developer's clone) of a tiny repository."""
    seed = tmp_path / "seed"
    (seed / "stacks").mkdir(parents=True)
    (seed / "tools" / "ci").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "ci" / "commit-stack-file", seed / "tools" / "ci")
    first = STACK_FILE.format(version="1.0.0", digest="a" * 64, replicas=1)
    (seed / "stacks" / "Pulumi.staging.yaml").write_text(first)
    (seed / "README").write_text("x\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "seed")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(origin))
    clones = []
    for name in ("runner", "dev"):
        git(tmp_path, "clone", "-q", str(origin), str(tmp_path / name))
        clones.append(tmp_path / name)
    (clones[0] / "venv").symlink_to(ROOT / "venv")  # the script reads the version with the venv's yaml
    return origin, *clones


def commit_stack_file(runner: Path, message: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["tools/ci/commit-stack-file", "staging", message],
        cwd=runner,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(runner.parent), "MVS_COMMIT_ATTEMPTS": "3"},
    )


def deploy(runner: Path, version: str, digest: str, replicas: int = 1) -> None:
    (runner / "stacks" / "Pulumi.staging.yaml").write_text(
        STACK_FILE.format(version=version, digest=digest * 64, replicas=replicas)
    )


def test_commits_as_the_bot_with_the_declared_version(repos):
    origin, runner, _ = repos
    deploy(runner, "2.0.0", "b")
    done = commit_stack_file(runner, "Release {version} to staging [skip ci]")
    assert done.returncode == 0, done.stdout + done.stderr
    bot = "github-actions[bot]"
    assert git(origin, "log", "-1", "--format=%an|%s", "main") == f"{bot}|Release 2.0.0 to staging [skip ci]"
    assert git(origin, "show", "--name-only", "--format=", "main") == "stacks/Pulumi.staging.yaml"


def test_nothing_to_commit_is_no_commit(repos):
    origin, runner, _ = repos
    before = git(origin, "rev-parse", "main")
    done = commit_stack_file(runner, "Release {version} to staging [skip ci]")
    assert done.returncode == 0 and "nothing to commit" in done.stdout
    assert git(origin, "rev-parse", "main") == before


def test_main_moved_elsewhere_rebases_and_pushes(repos):
    origin, runner, dev = repos
    (dev / "README").write_text("moved\n")
    git(dev, "commit", "-q", "-am", "meanwhile")
    git(dev, "push", "-q", "origin", "main")
    deploy(runner, "2.0.0", "b")
    done = commit_stack_file(runner, "Release {version} to staging [skip ci]")
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(origin, "log", "--format=%s", "main").splitlines()[:2] == [
        "Release 2.0.0 to staging [skip ci]",
        "meanwhile",
    ]


def test_a_conflict_in_the_stack_file_is_settled_by_the_file_as_deployed(repos):
    origin, runner, dev = repos
    deploy(dev, "1.5.0", "c")  # another run recorded a release meanwhile
    git(dev, "commit", "-q", "-am", "Release 1.5.0 to staging [skip ci]")
    git(dev, "push", "-q", "origin", "main")
    deploy(runner, "2.0.0", "b")
    done = commit_stack_file(runner, "Release {version} to staging [skip ci]")
    assert done.returncode == 0, done.stdout + done.stderr
    deployed = (runner / "stacks" / "Pulumi.staging.yaml").read_text()
    assert git(origin, "show", "main:stacks/Pulumi.staging.yaml") + "\n" == deployed
    assert "2.0.0" in deployed
