"""Drive the real `pulumi` CLI built by tools/setup, isolated in a temporary home and backend."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from mvsctl.workspace import copy_program, copy_project, write_pulumi_yaml

__all__ = ["PulumiCLI", "copy_program", "copy_project", "tools_available", "write_pulumi_yaml"]

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
PASSPHRASE = "engine-test-passphrase"


def tools_available() -> bool:
    return (TOOLS_BIN / "pulumi").exists() and (TOOLS_BIN / "pulumi-language-python").exists()


class PulumiCLI:
    """One project directory, one file backend, one passphrase; nothing shared with the user."""

    def __init__(self, workdir: Path, scratch: Path):
        self.workdir = workdir
        self.env = {
            **os.environ,
            "PATH": f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PULUMI_HOME": str(scratch / "pulumi-home"),
            "PULUMI_BACKEND_URL": f"file://{scratch / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        (scratch / "state").mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.workdir,
            env=self.env,
            input=input_text,
            text=True,
            capture_output=True,
            timeout=600,
            check=False,
        )

    def ok(self, *args: str, input_text: str | None = None) -> str:
        result = self.run(*args, input_text=input_text)
        assert result.returncode == 0, (
            f"pulumi {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
        return result.stdout

    def export_state(self, stack: str) -> dict:
        return json.loads(self.ok("stack", "export", "--stack", stack))

    def resources(self, stack: str) -> list[dict]:
        return self.export_state(stack)["deployment"].get("resources") or []


def program_in_process_env(tmp_path: Path, monkeypatch) -> tuple[Path, PulumiCLI]:
    """A copy of the program whose Pulumi settings (own state backend, passphrase, home) are this
    test process's environment too, for tests calling mvsctl's functions in-process."""
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    project = copy_program(tmp_path / "mvs")
    cli = PulumiCLI(project, tmp_path)
    for key, value in cli.env.items():
        monkeypatch.setenv(key, value)
    return project, cli
