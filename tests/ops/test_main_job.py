"""`./mvs up dev`, the README's main job, on a machine with no Docker engine.

It must stop before changing anything: no stack, no secrets, no resources, and say so.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_mvs(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "mvs"), *args], env=env, text=True, capture_output=True, timeout=600, check=False)


def isolated_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": "main-job-test",
        **extra,
    }


def test_up_dev_without_docker_stops_before_changing_anything(tmp_path):
    (tmp_path / "state").mkdir()
    stack_file = ROOT / "stacks" / "Pulumi.dev.yaml"
    before = stack_file.read_text()
    env = isolated_env(tmp_path, DOCKER_HOST=f"unix://{tmp_path / 'no-docker.sock'}")

    result = run_mvs("up", "dev", "--yes", env=env)

    assert result.returncode == 3, result.stderr
    assert "No Docker engine is reachable" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert list((tmp_path / "state").iterdir()) == [], "no stack may be created"
    assert stack_file.read_text() == before, "no secret may be written"


def test_up_with_an_invalid_stack_file_stops_with_the_problems(tmp_path):
    (tmp_path / "state").mkdir()
    env = isolated_env(tmp_path)
    result = run_mvs("up", "no-such-stack", env=env)
    assert result.returncode == 2
    assert "stacks/Pulumi.no-such-stack.yaml" in result.stderr and "no such file" in result.stderr
    assert list((tmp_path / "state").iterdir()) == []


def test_validate_reports_every_default_stack(tmp_path):
    result = run_mvs("validate", "dev", env=isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "stacks/Pulumi.dev.yaml: valid (local, release 2.0.0)" in result.stdout


def test_the_committed_json_schema_is_current(tmp_path):
    result = run_mvs("schema", "--check", env=isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr


OTHER_TESTS_WRITE = ("venv", ".git", ".pytest_cache", ".state/version-check")  # on other workers, meanwhile


def checkout_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file of the checkout (but where other tests write), with its size and modification time."""
    found = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        skipped = any(relative.is_relative_to(other) for other in OTHER_TESTS_WRITE)
        if skipped or "__pycache__" in relative.parts or not path.is_file():
            continue
        stat = path.stat()
        found[str(relative)] = (stat.st_size, stat.st_mtime_ns)
    return found


@pytest.mark.slow  # a whole `pulumi up` against the emulator
def test_rehearse_staging_offline_leaves_the_real_stack_untouched(tmp_path):
    stack_file = ROOT / "stacks" / "Pulumi.staging.yaml"
    before = stack_file.read_text()
    (ROOT / ".state/policies").mkdir(parents=True, exist_ok=True)
    findings = ROOT / ".state/policies/staging.jsonl"
    if not findings.exists():
        findings.write_text("")  # a last run's findings, which a rehearsal must not replace
    files_before = checkout_files(ROOT)
    env = isolated_env(tmp_path)
    env.pop("RAILWAY_API_TOKEN", None)
    result = run_mvs("rehearse", "staging", "--yes", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "+ 30 created" in result.stdout, "28 Railway resources, the last-drill reader and the release record"
    assert "backup bucket mvs-backups on loopback" in result.stdout
    assert re.search(r'status\s*: "none yet"', result.stdout), "last_drill was read from the loopback bucket"
    assert "serviceInstanceDeployV2 5" in result.stdout
    assert stack_file.read_text() == before
    assert not (tmp_path / "state").exists() or list((tmp_path / "state").iterdir()) == []
    changed = {name for name, seen in checkout_files(ROOT).items() if files_before.get(name) != seen}
    assert not changed - {".state/passphrase"}, f"the rehearsal wrote into the checkout: {sorted(changed)}"
    assert "policies: 0 finding(s) in this run" in result.stderr
    [workdir] = re.findall(r"work files in (\S+)", result.stdout)
    assert not Path(workdir).exists(), "a rehearsal that succeeded leaves no work files behind"


def test_rehearse_refuses_a_local_stack(tmp_path):
    result = run_mvs("rehearse", "dev", env=isolated_env(tmp_path))
    assert result.returncode == 2
    assert "rehearsals are for Railway stacks" in result.stderr


def test_help_lists_every_command(tmp_path):
    result = run_mvs("help", env=isolated_env(tmp_path))
    assert result.returncode == 0
    for command in ("validate", "schema", "up", "preview", "destroy", "rehearse", "pulumi", "emulator", "test"):
        assert f"\n{command} " in result.stdout, command
