"""A fresh clone with nothing beside it rehearses staging (issue 9, "done when"): the emulator
validates every request against the schema the repository carries, not one in ../shared."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.railway.test_emulator_start import exports_printed

ROOT = Path(__file__).resolve().parents[2]


def fresh_clone(tmp_path: Path) -> Path:
    """The tracked files, alone in their directory (no ../shared), sharing this checkout's venv
    (the same pinned requirements: no second install)."""
    clone = tmp_path / "alone" / "mvs-infra"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, text=True, capture_output=True, check=True).stdout.split()
    for name in tracked:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    (clone / "venv").symlink_to(ROOT / "venv")
    assert sorted(p.name for p in clone.parent.iterdir()) == ["mvs-infra"]
    return clone


@pytest.mark.slow  # a whole rehearsal: `pulumi up` against the emulator
def test_a_clone_with_nothing_beside_it_rehearses_staging(tmp_path):
    clone = fresh_clone(tmp_path)
    env = {
        **os.environ,
        "PULUMI_HOME": str(tmp_path / "pulumi-home"),
        "PULUMI_CONFIG_PASSPHRASE": "fresh-clone-test",
    }
    env.pop("MVS_RAILWAY_SCHEMA", None)
    env.pop("PULUMI_BACKEND_URL", None)

    result = subprocess.run(
        [str(clone / "mvs"), "rehearse", "staging", "--yes"],
        cwd=clone,
        env=env,
        text=True,
        capture_output=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "+ 30 created" in result.stdout
    assert "serviceInstanceDeployV2 5" in result.stdout


@pytest.mark.slow  # the emulator as a process and a whole `pulumi up` against it
def test_a_newcomer_goes_from_a_fresh_clone_to_staging_on_the_emulator_by_the_readme(tmp_path):
    """Issue 24's "done when": only the README's commands, in its order; no loop, no traceback."""
    clone = fresh_clone(tmp_path)
    for command in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(["git", *command], cwd=clone, check=True, capture_output=True)
    env = {**os.environ, "PULUMI_HOME": str(tmp_path / "pulumi-home")}
    for name in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "RAILWAY_TOKEN"):
        env.pop(name, None)  # the newcomer has none of these: state in .state/, this checkout's passphrase
    said: list[str] = []

    def mvs(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(clone / "mvs"), *args],
            cwd=clone,
            env=env,
            input=input_text,
            text=True,
            capture_output=True,
            timeout=900,
        )
        said.append(done.stdout + done.stderr)
        assert "Traceback" not in said[-1], said[-1]
        return done

    emulator = subprocess.Popen(
        [str(clone / "mvs"), "emulator", "--port", "0"], cwd=clone, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        env.update(exports_printed(emulator))  # the lines it says to paste

        validated = mvs("validate", "staging")
        assert validated.returncode == 0, validated.stderr
        [line] = [x for x in validated.stdout.splitlines() if "not set yet, needed before up: " in x]
        needed = line.split("needed before up: ")[1].split(";")[0].split(", ")
        assert needed == ["backupAccessKey", "backupSecretKey", "dbPassword", "sessionSecret"]

        refused = mvs("up", "staging", "--yes")  # before the secrets: the advice must be a command that works
        assert refused.returncode == 2 and "`./mvs secrets set staging dbPassword`" in refused.stderr

        for name in needed:
            done = mvs("secrets", "set", "staging", name, input_text=f"newcomer-{name}-value\n")
            assert done.returncode == 0, done.stderr
        assert "created stack 'staging'" in said[-len(needed)]
        assert "other checkouts and CI cannot decrypt them" in said[-1], "the private passphrase is warned about"

        up = mvs("up", "staging", "--yes")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "+ 30 created" in up.stdout
        ps = mvs("ps", "staging")
        assert ps.returncode == 0 and "backend" in ps.stdout and "SUCCESS" in ps.stdout, ps.stdout + ps.stderr
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    everything = "\n".join(said)
    assert "config set --secret" not in everything, "no message sends the newcomer to the command that loops"
    assert not any(f"newcomer-{name}-value" in everything for name in needed), "no secret is echoed"
    changed = subprocess.run(["git", "status", "--porcelain"], cwd=clone, text=True, capture_output=True).stdout
    assert changed.split() == ["M", "stacks/Pulumi.staging.yaml"], changed
