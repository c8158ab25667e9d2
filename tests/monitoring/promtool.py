"""Finding and running promtool (Debian's `prometheus` package), and each default stack's
declaration with monitoring enabled."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import yaml

from components.spec import CONFIG_KEY, EnvironmentSpec, parse_environment
from tests.monitoring_tools import monitoring_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACKS = ("dev", "staging", "prod")


def promtool_path() -> str:
    """promtool on PATH or in .tools/bin, installed on first need (tests/monitoring_tools.py)."""
    return monitoring_tool("promtool")


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
