"""`./mvs up dev --yes` on the test Docker engine with warm images: from empty, with no change, and
with one variable of the backend changed. Prints seconds, and next to each its floor measured in
the same run from the engine's own records; asserts nothing.

The floor of an `up` is what the engine itself needs: along the longest chain of containers that
wait on each other (database -> backend -> frontend; the backup runner waits on the database),
each container's time from its creation to its first passing health check (the engine's health
log), summed. No `up` can bring the stack to healthy faster, since each container starts only
after what it depends on is healthy.

    python -m bench.dev_up        (tools/docker-engine start first; about 3 minutes)
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import docker

from tests.docker.conftest import ENGINE_TOOL, make_ci_bases, tag_official_names
from tests.docker.dev_world import STACK, DevWorld

# container -> the container it waits for (components/local/stack.py and backups.py)
WAITS_ON = {"backend": "database", "frontend": "backend", "backup": "database", "database": None}


def instant(stamp: str) -> float:
    """An engine timestamp (RFC 3339 with nanoseconds) as seconds since the epoch."""
    head, _, rest = stamp.partition(".")
    fraction = rest.rstrip("Z").split("+")[0].split("-")[0]
    return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def own_time_to_healthy(container) -> float:
    """From the container's creation to the end of its first passing health check."""
    attrs = container.attrs
    passed = [entry for entry in attrs["State"]["Health"]["Log"] if entry["ExitCode"] == 0]
    return instant(passed[0]["End"]) - instant(attrs["Created"])


def floor(world: DevWorld, replaced: set[str] | None = None) -> dict:
    """The longest chain of own times to healthy, over the containers this `up` made (all of
    them from empty; only `replaced` otherwise)."""
    containers = world.containers()
    own = {name: own_time_to_healthy(c) for name, c in containers.items()}
    made = set(containers) if replaced is None else replaced

    def chain(name: str | None) -> float:
        if name is None or name not in made:
            return 0.0
        return own[name] + chain(WAITS_ON[name])

    longest = max(made, key=chain)
    return {"seconds": round(chain(longest), 2), "ends_with": longest, "own": {k: round(own[k], 2) for k in made}}


def timed_up(world: DevWorld) -> float:
    started = time.monotonic()
    done = world.mvs("up", STACK, "--yes")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return round(time.monotonic() - started, 2)


def main() -> None:
    host = subprocess.run([str(ENGINE_TOOL), "env"], capture_output=True, text=True, check=True).stdout
    host = host.strip().removeprefix("DOCKER_HOST=")
    client = docker.DockerClient(base_url=host, timeout=300)
    with tempfile.TemporaryDirectory() as tmp:
        tag_official_names(client, make_ci_bases(client, Path(tmp) / "bases"))
        world = DevWorld(Path(tmp), host, client)
        world.start_clean()
        try:
            timed_up(world)  # warm: every image built once, so the runs below build nothing
            world.finish()
            from_empty = timed_up(world)
            empty_floor = floor(world)
            no_change = timed_up(world)
            environment = world.declaration()
            environment["services"]["backend"]["env"]["BENCH"] = "1"
            world.declare(environment)
            one_variable = timed_up(world)
            variable_floor = floor(world, {"backend"})
        finally:
            world.finish()
    print(
        json.dumps(
            {
                "from_empty": {
                    "seconds": from_empty,
                    "floor": empty_floor,
                    "ratio": round(from_empty / empty_floor["seconds"], 2),
                    "goal": "<= 1.3 x floor",
                },
                "no_change": {"seconds": no_change, "goal": "<= 5 s"},
                "one_variable": {
                    "seconds": one_variable,
                    "backend_own_time_to_healthy": variable_floor["seconds"],
                    "beyond": round(one_variable - variable_floor["seconds"], 2),
                    "goal": "<= backend's own time to healthy + 5 s",
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
