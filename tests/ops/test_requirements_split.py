"""The requirements files split by who needs them (issue 24, point 2): requirements.txt for the
main job, requirements-rehearsal.txt for `./mvs rehearse`, requirements-dev.txt for the tests.
Each file, with the ones installed under it, pins the whole closure of its direct dependencies, so
a fresh `./mvs up dev` installs exactly what it names and nothing floats."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.pins import pins

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {  # each file, and the files installed before it
    "requirements.txt": (),
    "requirements-rehearsal.txt": ("requirements.txt",),
    "requirements-dev.txt": ("requirements.txt", "requirements-rehearsal.txt"),
}


def direct(path: Path) -> list[Requirement]:
    """The first block of pins: the direct dependencies (the closure follows a blank line)."""
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    block = "\n".join(lines).strip().split("\n\n")[0]
    return [Requirement(line) for line in block.splitlines()]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """Every distribution the requirements pull in (markers evaluated, extras followed), with the
    version installed here."""
    found: dict[str, str] = {}
    pending = [(requirement, frozenset(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = normal(requirement.name)
        if name in found:
            continue
        found[name] = metadata.version(requirement.name)
        for text in metadata.requires(requirement.name) or []:
            child = Requirement(text)
            environment = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if child.marker is None or any(child.marker.evaluate(env) for env in environment):
                pending.append((child, frozenset(child.extras)))
    return found


@pytest.mark.parametrize("name", LAYERS)
def test_each_file_pins_the_whole_closure_of_its_direct_dependencies_at_the_installed_versions(name):
    available = {}
    for earlier in (*LAYERS[name], name):
        available.update({normal(n): v for n, v in pins(ROOT / earlier).items()})
    needed = closure(direct(ROOT / name))
    unpinned = sorted(set(needed) - set(available))
    assert not unpinned, f"{name} pulls in {unpinned} without pinning them"
    differ = {n: (available[n], v) for n, v in needed.items() if available[n] != v}
    assert not differ, f"pinned vs installed: {differ}"


def test_the_main_job_installs_no_test_tool_and_no_rehearsal_server():
    runtime = {normal(n) for n in pins(ROOT / "requirements.txt")}
    for tool in ("pytest", "pytest-xdist", "ruff", "moto", "flask", "cfn-lint"):
        assert tool not in runtime, tool
    assert "moto" in pins(ROOT / "requirements-rehearsal.txt")
    assert {"pytest", "ruff"} <= set(pins(ROOT / "requirements-dev.txt"))
