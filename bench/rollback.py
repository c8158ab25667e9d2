"""Rollback of prod against the emulator, with Railway's deployment lifecycle taking 20 s.

    venv/bin/python -m bench.rollback [--deploy-seconds 20]

A bad release (new backend and frontend images, a changed variable) goes live on prod; then
`./mvs rollback prod` is timed, and its Railway requests counted, with every deployment taking
--deploy-seconds to become healthy (the emulator's time-based lifecycle) and the providers polling
at their default pace (2 s), as against Railway. The figure to compare with the goal (at most
5 s) is the command's time beyond that one deployment wait. The same bad release is then brought
back and undone the plain way, a revert of the stack file and `./mvs up prod --yes`, for
comparison. Numbers are reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from mvsctl.loopback_s3 import loopback_s3
from tests.engine.world import RailwayWorld, writes

STACK = "prod"
BAD = {"backend": "ghcr.io/mvs-app/backend:2.0.1", "frontend": "ghcr.io/mvs-app/frontend:2.0.1"}


def timed(world: RailwayWorld, action) -> dict:
    """Seconds, Railway requests (by operation) and mutations of one action."""
    sent = len(world.requests())
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    entries = world.requests()[sent:]
    return {
        "seconds": round(seconds, 2),
        "requests": len(entries),
        "mutations": dict(Counter(writes(entries))),
        "by_operation": dict(Counter(e["operation"] for e in entries)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deploy-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with loopback_s3() as s3_endpoint, tempfile.TemporaryDirectory() as tmp:
        world = RailwayWorld(Path(tmp), s3_endpoint)
        try:
            print(json.dumps(run(world, args.deploy_seconds), indent=2))
        finally:
            world.server.stop()


def run(world: RailwayWorld, deploy_seconds: float) -> dict:
    stack_path = world.cli.workdir / "stacks" / f"Pulumi.{STACK}.yaml"
    world.admin("plan", {"plan": "PRO"})  # prod's plan: 10,000 requests an hour, images kept 120 h
    world.init_stack(STACK)
    world.cli.ok("up", "--yes", "--stack", STACK)
    good_file = stack_path.read_text()
    images = [arg for service, image in BAD.items() for arg in ("--image", f"{service}={image}")]
    assert world.mvs("release", "set", STACK, "--version", "2.0.1", *images).returncode == 0
    world.cli.ok("config", "set", "--path", "--stack", STACK, "mvs:environment.services.backend.env.LOG_LEVEL", "debug")
    bad_file = stack_path.read_text()
    world.cli.ok("up", "--yes", "--stack", STACK)

    # From here on, Railway's pace: deployments take deploy_seconds, providers poll every 2 s.
    world.admin("lifecycle", {"deploy_seconds": deploy_seconds})
    world.cli.ok("config", "rm", "--stack", STACK, "railway:pollSeconds")
    rollback = timed(world, lambda: world.mvs("rollback", STACK))

    stack_path.write_text(bad_file)
    world.cli.ok("config", "rm", "--stack", STACK, "railway:pollSeconds")
    world.cli.ok("up", "--yes", "--stack", STACK)
    stack_path.write_text(good_file)  # what `git revert` of the bad release's commit does
    world.cli.ok("config", "rm", "--stack", STACK, "railway:pollSeconds")
    revert_and_up = timed(world, lambda: world.mvs("up", STACK, "--yes"))

    return {
        "deploy_seconds": deploy_seconds,
        "rollback": {**rollback, "beyond_one_deployment_wait": round(rollback["seconds"] - deploy_seconds, 2)},
        "revert_and_up": {
            **revert_and_up,
            "beyond_one_deployment_wait": round(revert_and_up["seconds"] - deploy_seconds, 2),
        },
    }


if __name__ == "__main__":
    main()
