"""The Pulumi CLI commands mvsctl needs, each a small function over `process.run`."""

from __future__ import annotations

import json
from pathlib import Path

from .process import run

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pulumi(*args: str, input_text: str | None = None, project: Path = PROJECT_ROOT) -> str:
    return run(["pulumi", *args, "--non-interactive"], input_text=input_text, cwd=str(project))


def select_or_create_stack(stack: str, project: Path = PROJECT_ROOT) -> None:
    pulumi("stack", "select", "--create", stack, project=project)


def configured_keys(stack: str, project: Path = PROJECT_ROOT) -> set[str]:
    """Names of the stack's config keys (values are not shown, so no secret is printed)."""
    listing = json.loads(pulumi("config", "--stack", stack, "--json", project=project))
    return set(listing)


def set_secret(stack: str, key: str, value: str, project: Path = PROJECT_ROOT) -> None:
    """Store an encrypted value; it travels on stdin, never on a command line."""
    pulumi("config", "set", "--secret", "--stack", stack, key, input_text=value, project=project)
