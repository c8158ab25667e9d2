"""tools/setup on a fresh copy of the repo: it succeeds twice, the second run reuses the cache,
and a new enough `pulumi` on PATH is taken instead of a build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python")


def tracked_files() -> list[str]:
    listing = subprocess.run(["git", "ls-files"], cwd=ROOT, text=True, capture_output=True, check=True).stdout
    return [line for line in listing.splitlines() if line]


@pytest.fixture(scope="module")
def fresh_repo(tmp_path_factory):
    """A copy of the repo's files as a clean clone has them, with its own build cache."""
    base = tmp_path_factory.mktemp("setup")
    repo = base / "repo"
    for name in tracked_files():
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    return repo, base / "cache"


def run_setup(repo: Path, cache: Path, path_prefix: str = "", *options: str) -> subprocess.CompletedProcess:
    path = os.environ.get("PATH", "")
    path = os.pathsep.join(p for p in path.split(os.pathsep) if not p.endswith("/.tools/bin"))
    env = {**os.environ, "MVS_CACHE_DIR": str(cache), "PATH": f"{path_prefix}{path}"}
    return subprocess.run(
        [str(repo / "tools/setup"), *options], cwd=repo, env=env, text=True, capture_output=True, timeout=1800
    )


def importable(repo: Path, module: str) -> bool:
    probe = subprocess.run([str(repo / "venv/bin/python"), "-c", f"import {module}"], capture_output=True)
    return probe.returncode == 0


def link_targets(repo: Path) -> dict[str, Path]:
    return {tool: (repo / ".tools/bin" / tool).resolve() for tool in TOOLS}


def test_setup_twice_builds_once_then_reuses_the_cache(fresh_repo):
    repo, cache = fresh_repo
    first = run_setup(repo, cache)
    assert first.returncode == 0, first.stderr
    assert "creating venv/" in first.stderr and "building Pulumi v" in first.stderr
    targets = link_targets(repo)
    assert all(path.is_file() and path.is_relative_to(cache) for path in targets.values())
    version = subprocess.run([str(repo / ".tools/bin/pulumi"), "version"], text=True, capture_output=True)
    assert version.stdout.strip().startswith("v3.")

    assert (
        "installing requirements.txt into venv/ (" in first.stderr and "installed requirements.txt in " in first.stderr
    )
    assert importable(repo, "pulumi") and not importable(repo, "moto") and not importable(repo, "pytest"), (
        "the main job's setup installs the runtime requirements only"
    )
    links = {tool: (repo / ".tools/bin" / tool).lstat().st_mtime_ns for tool in TOOLS}

    second = run_setup(repo, cache)
    assert second.returncode == 0, second.stderr
    assert "using cached Pulumi" in second.stderr
    assert "building" not in second.stderr and "installing requirements" not in second.stderr
    assert link_targets(repo) == targets
    assert {tool: (repo / ".tools/bin" / tool).lstat().st_mtime_ns for tool in TOOLS} == links, (
        "a warm run writes nothing"
    )

    rehearsal = run_setup(repo, cache, "", "--rehearsal")
    assert rehearsal.returncode == 0, rehearsal.stderr
    assert (
        "installing requirements-rehearsal.txt" in rehearsal.stderr and "requirements.txt into" not in rehearsal.stderr
    )
    assert importable(repo, "moto.server") and not importable(repo, "pytest")


def fake_pulumi_dir(base: Path, version: str) -> Path:
    directory = base / f"fake-pulumi-{version}"
    directory.mkdir(exist_ok=True)
    for tool in TOOLS:
        script = directory / tool
        script.write_text(f"#!/bin/sh\necho v{version}\n")
        script.chmod(0o755)
    return directory


def test_a_new_enough_pulumi_on_path_is_used_instead_of_a_build(fresh_repo, tmp_path):
    repo, cache = fresh_repo
    ambient = fake_pulumi_dir(tmp_path, "3.300.0")
    result = run_setup(repo, cache, f"{ambient}{os.pathsep}")
    assert result.returncode == 0, result.stderr
    assert f"using pulumi from {ambient}" in result.stderr
    assert all(path.parent == ambient for path in link_targets(repo).values())


def test_an_old_pulumi_on_path_is_ignored(fresh_repo, tmp_path):
    repo, cache = fresh_repo
    old = fake_pulumi_dir(tmp_path, "3.100.0")
    result = run_setup(repo, cache, f"{old}{os.pathsep}")
    assert result.returncode == 0, result.stderr
    assert "version 3.100.0 < 3.221.0" in result.stderr
    assert all(path.is_relative_to(cache) for path in link_targets(repo).values())
