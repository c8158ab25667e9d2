"""`./mvs up dev` killed with SIGKILL (itself, `pulumi` and everything they started, as a closed CI
runner or a lost laptop lid does) in three places: mid build, mid container create, mid health
wait. Then the README's recovery steps (`./mvs recover dev`, then `./mvs up dev`) converge: every
container healthy, a no-change preview, and no duplicate or orphan container, network or volume
(counted with the SDK by the stack's labels), and none of the killed run's processes left."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .dev_world import STACK, DevWorld

SERVICES = ["backend", "backup", "database", "frontend"]
# What the first up makes, by the names the stack's labels find them under.
EXPECTED = sorted(
    [
        *(f"container mvs-{STACK}-{s}" for s in SERVICES),
        f"network mvs-{STACK}",
        f"volume mvs-{STACK}-pgdata",
        f"volume mvs-{STACK}-backups",
    ]
)
MARKERS = {
    # the backend's image is being built (a source change)
    "mid-build": re.compile(r"building mvs-dev-backend:[0-9a-f]+: Step \d+/"),
    # the engine creates the backend's replacement (its old container removed already)
    "mid-create": re.compile(r"dev-backend creating"),
    # the new backend runs and up waits for its health check
    "mid-health-wait": re.compile(r"mvs-dev-backend: waits up to"),
}


@pytest.fixture(scope="module")
def dev(tmp_path_factory, docker_host, engine, official_names) -> Iterator[DevWorld]:
    world = DevWorld(tmp_path_factory.mktemp("recovery"), docker_host, engine)
    world.start_clean()
    first = world.mvs("up", STACK, "--yes")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    yield world
    world.finish()


def kill_when(world: DevWorld, marker: re.Pattern, seconds: float = 300) -> str:
    """Start `./mvs up dev --yes`, and SIGKILL its whole session when `marker` shows in its output."""
    up = world.popen("up", STACK, "--yes")
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    try:
        for line in up.stdout:
            seen.append(line)
            if marker.search(line):
                os.killpg(up.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, "the marker never showed:\n" + "".join(seen[-30:])
        else:
            raise AssertionError("up ended before the marker showed:\n" + "".join(seen[-30:]))
    finally:
        up.wait(timeout=60)
    return "".join(seen)


def processes_of(world: DevWorld) -> list[str]:
    """Processes still running with the world's copy of the project in their command line or
    working directory (the killed `pulumi`, its language host and provider hosts)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(world.project) in cwd or str(world.project) in cmdline:
            found.append(f"{pid}: {cmdline}")
    return found


def change_for(world: DevWorld, where: str, n: int) -> None:
    """Work for `up` to do on the backend: its source (a rebuild) or one variable (a replacement)."""
    if where == "mid-build":
        server = world.project / "app" / "backend" / "src" / "server.js"
        server.write_text(server.read_text() + f"\n// change {n}\n")
    else:
        environment = world.declaration()
        environment["services"]["backend"]["env"]["KILL_TEST"] = str(n)
        world.declare(environment)


@pytest.mark.parametrize("where", list(MARKERS))
def test_up_killed_then_the_readme_recovery_converges_with_nothing_twice_and_nothing_left(dev, where):
    change_for(dev, where, list(MARKERS).index(where))
    kill_when(dev, MARKERS[where])
    deadline = time.monotonic() + 30  # the provider hosts notice their engine has gone (every 2 s)
    while processes_of(dev) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(dev) == [], "the killed run left processes behind"
    recovered = dev.mvs("recover", STACK)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    up = dev.mvs("up", STACK, "--yes")
    assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
    assert "Traceback" not in up.stdout + up.stderr
    assert dev.health() == dict.fromkeys(SERVICES, "healthy")
    counted = dev.counts()
    assert sorted(counted) == EXPECTED and set(counted.values()) == {1}, counted
    preview = dev.mvs("preview", STACK, "--expect-no-changes")
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
