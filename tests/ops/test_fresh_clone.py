"""A fresh clone with nothing beside it rehearses staging (issue 9, "done when"): the emulator
validates every request against the schema the repository carries, not one in ../shared."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a whole rehearsal: `pulumi up` against the emulator
def test_a_clone_with_nothing_beside_it_rehearses_staging(tmp_path):
    clone = tmp_path / "alone" / "mvs-infra"  # its parent holds nothing else: no ../shared
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, text=True, capture_output=True, check=True).stdout.split()
    for name in tracked:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    (clone / "venv").symlink_to(ROOT / "venv")  # the same pinned requirements: no second install
    assert sorted(p.name for p in clone.parent.iterdir()) == ["mvs-infra"]
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
