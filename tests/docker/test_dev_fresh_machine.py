"""A fresh clone on a fresh machine of this kind (Linux as root, Debian's mirror reachable, no
Docker engine running, no image registry reachable): `./mvs up dev --yes` with nothing else typed
brings the whole dev stack up healthy. It starts the project's own engine (its data root empty
here: no image at all), finds that the official images cannot be had, switches the stack file to
`base: debian`, makes the Debian images and builds the app on them. `./mvs down dev` then stops
the engine it started.

The project's own engine here is a second one (its own socket, data root and bridge), beside the
tests' engine, which it must not disturb."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import docker
import httpx
import yaml

from mvsctl.docker_engine import DEFAULT_HOST, unreachable_reason

from .conftest import ENGINE_TOOL
from .dev_world import FILE, STACK, DevWorld

SERVICES = ["backend", "backup", "database", "frontend"]


def test_up_dev_yes_on_a_fresh_machine_comes_up_healthy_and_down_stops_the_engine(engine, tmp_path):
    assert unreachable_reason(DEFAULT_HOST), f"this test needs a machine with no engine at {DEFAULT_HOST}"
    run_dir = Path(f"/tmp/mvs-fresh-{os.getpid()}")
    engine_env = {
        "MVS_DOCKER_RUN": str(run_dir),
        "MVS_DOCKER_DATA": str(tmp_path / "engine-data"),
        "MVS_DOCKER_BRIDGE": "mvs-docker8",
        "MVS_DOCKER_BRIDGE_ADDRESS": "10.254.215.1/24",
    }
    world = DevWorld(tmp_path / "clone", "unused", None)
    world.cli.env.pop("DOCKER_HOST")
    world.cli.env.update(engine_env)
    world.ports = world.use_free_ports()
    host = f"unix://{run_dir / 'docker.sock'}"
    try:
        up = world.mvs("up", STACK, "--yes", timeout=1800)
        said = up.stdout + up.stderr
        assert up.returncode == 0, said[-6000:]
        assert f"runs dockerd on {host}" in said and "Starting it (--yes)" in said
        assert "cannot be had here: postgres:15.10-alpine" in said and "Switching to base: debian" in said
        assert yaml.safe_load((world.project / FILE).read_text())["config"]["mvs:environment"]["base"] == "debian"
        world.client = docker.DockerClient(base_url=host)
        assert world.health() == dict.fromkeys(SERVICES, "healthy")
        created = httpx.post(f"http://127.0.0.1:{world.ports['backend']}/api/notes", json={"text": "fresh"})
        assert created.status_code in (200, 201), created.text
        notes = httpx.get(f"http://127.0.0.1:{world.ports['frontend']}/api/notes", timeout=10)
        assert "fresh" in notes.text
        preview = world.mvs("preview", STACK, "--expect-no-changes")  # it finds the engine by itself
        assert preview.returncode == 0, (preview.stdout + preview.stderr)[-3000:]
        assert engine.ping(), "the tests' own engine never noticed"
        down = world.mvs("down", STACK, "--yes")
        assert down.returncode == 0, (down.stdout + down.stderr)[-3000:]
        assert f"stopped the project's Docker engine at {host}" in down.stdout
        assert (
            unreachable_reason(host) is not None
            and not (world.project / ".state" / "docker-engine.started-by-mvs").exists()
        )
    finally:
        subprocess.run([str(ENGINE_TOOL), "stop"], env={**os.environ, **engine_env}, capture_output=True, timeout=120)
        shutil.rmtree(run_dir, ignore_errors=True)
