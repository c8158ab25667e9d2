"""Runnable copies of the Pulumi program, for rehearsals and tests that must not touch the
repo's stack files or state."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from .pulumi_cli import PROJECT_ROOT

PROGRAM_FILES = ("__main__.py", "components", "backup_runner", "stacks")  # the runner: image context, drill records


def copy_project(files: Iterable[str], destination: Path, source: Path = PROJECT_ROOT) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in files:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, destination / name)
    return destination


def write_pulumi_yaml(directory: Path, name: str, extra: str = "", venv: Path = PROJECT_ROOT / "venv") -> None:
    """A Pulumi.yaml whose runtime uses this checkout's virtualenv."""
    (directory / "Pulumi.yaml").write_text(
        f"name: {name}\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {venv}\n{extra}"
    )


def copy_program(destination: Path, source: Path = PROJECT_ROOT) -> Path:
    """This project's program and stack files, ready for `pulumi` in `destination`."""
    copy_project(PROGRAM_FILES, destination, source)
    write_pulumi_yaml(destination, "mvs", "stackConfigDir: stacks\n", source / "venv")
    return destination
