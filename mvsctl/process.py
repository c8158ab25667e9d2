"""The one place that runs external commands.

Every command goes through `run`, so every failure is reported the same way: a ToolError that
carries the command, its exit code and what it printed on stderr.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

from components.errors import ToolError


def run(
    command: Sequence[str],
    *,
    input_text: str | None = None,
    capture: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    hint: str = "",
) -> str:
    """Run `command` to completion; return its stdout (when captured) or raise ToolError."""
    completed = subprocess.run(
        list(command),
        input=input_text,
        text=True,
        capture_output=capture,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        check=False,
    )
    if completed.returncode != 0:
        raise ToolError(list(command), completed.returncode, completed.stderr or "", hint)
    return completed.stdout or ""


def run_attached(command: Sequence[str], *, cwd: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run `command` on the user's terminal (for interactive `pulumi up`); return its exit code."""
    return subprocess.run(list(command), cwd=cwd, env=dict(env) if env is not None else None, check=False).returncode
