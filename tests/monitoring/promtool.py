"""Finding and running promtool (Debian's `prometheus` package), and each default stack's
declaration with monitoring enabled."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.spec import CONFIG_KEY, EnvironmentSpec, parse_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACKS = ("dev", "staging", "prod")
SETUP = (
    "promtool is needed by the monitoring tests and was found neither on PATH nor in .tools/bin: "
    "run `tools/monitoring-tools install` (it links Debian's promtool into .tools/bin), or by hand: "
    "`cd /tmp && apt-get download prometheus && dpkg-deb -x prometheus_*.deb /tmp/prom` and put "
    "/tmp/prom/usr/bin on PATH"
)


def promtool_path() -> str:
    """promtool on PATH, else the repository's .tools/bin; a missing one FAILS the test with the way to install it."""
    found = shutil.which("promtool") or shutil.which("promtool", path=str(REPO_ROOT / ".tools" / "bin"))
    if found is None:
        pytest.fail(SETUP, pytrace=False)
    return found


def promtool(*args: str | os.PathLike[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool_path(), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd, check=False
    )


def raw_declaration(stack: str) -> dict:
    document = yaml.safe_load((REPO_ROOT / f"stacks/Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(document["config"][CONFIG_KEY])


def monitored_spec(stack: str, **monitoring: object) -> EnvironmentSpec:
    """The default stack's declaration, monitoring enabled (with a webhook receiver) in a copy."""
    raw = raw_declaration(stack)
    raw["monitoring"] = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhookUrl"}, **monitoring}
    return parse_environment(raw, f"stacks/Pulumi.{stack}.yaml")
