"""Debian's Prometheus tools (promtool, prometheus, alertmanager, amtool, pushgateway,
postgres_exporter) for the tests that run them, installed the first time one is asked for.

`./mvs test PATH` installs nothing for tests it does not run: `tools/monitoring-tools install`
runs here, once per machine (the pytest-xdist workers take turns on a lock; the second finds the
links made), only when a selected test needs a tool that is neither on PATH nor in .tools/bin.
A tool still missing after that fails the test with the installer's last lines."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS_BIN = ROOT / ".tools" / "bin"
INSTALLER = ROOT / "tools" / "monitoring-tools"


def find(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=str(TOOLS_BIN))


def monitoring_tool(name: str) -> str:
    """The tool's path, installing the monitoring tools first when it is missing."""
    found = find(name)
    if found:
        return found
    TOOLS_BIN.mkdir(parents=True, exist_ok=True)
    with (TOOLS_BIN.parent / ".monitoring-tools.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be installing them right now
        found = find(name)
        if found:
            return found
        done = subprocess.run([str(INSTALLER), "install"], capture_output=True, text=True, timeout=900, check=False)
    found = find(name)
    if found is None:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
        pytest.fail(
            f"setup error: {name} is needed by this test and `tools/monitoring-tools install` did not provide it "
            f"(exit {done.returncode}):\n{tail}",
            pytrace=False,
        )
    return found
