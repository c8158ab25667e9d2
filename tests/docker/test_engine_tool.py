"""tools/docker-engine beside another daemon: a second engine of its own (its own socket, data root
and bridge) starts and stops without touching the first one or any other bridge on the machine,
and `stop` leaves none of its containers running (live restore would otherwise keep them)."""

from __future__ import annotations

import os
import shutil
import subprocess

import docker

from .conftest import ENGINE_TOOL


def tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENGINE_TOOL), *args], env=env, capture_output=True, text=True, timeout=120)


def bridges() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def test_a_second_engine_stops_without_touching_the_first_or_another_bridge(engine, ci_bases, tmp_path):
    foreign = "mvs-other0"  # stands for another daemon's docker0
    subprocess.run(["ip", "link", "add", "name", foreign, "type", "bridge"], check=True)
    env = {
        **os.environ,
        "MVS_DOCKER_RUN": f"/tmp/mvs-docker-{os.getpid()}",
        "MVS_DOCKER_DATA": str(tmp_path / "data"),
        "MVS_DOCKER_BRIDGE": "mvs-docker9",
        "MVS_DOCKER_BRIDGE_ADDRESS": "10.254.214.1/24",
    }
    try:
        started = tool(env, "start")
        assert started.returncode == 0, started.stderr
        second = docker.DockerClient(base_url=started.stdout.strip().removeprefix("DOCKER_HOST="))
        assert "mvs-docker9" in bridges()
        second.images.load(engine.images.get(ci_bases["debian"]).save(named=True))
        sleeper = second.containers.run(ci_bases["debian"], ["sleep", "600"], detach=True)
        stopped = tool(env, "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert not any(
            str(sleeper.id) in line
            for line in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
        )
        assert "mvs-docker9" not in bridges()
        assert {foreign, "mvs-docker0"} <= bridges()
        assert engine.ping()  # the first engine never noticed
    finally:
        tool(env, "stop")
        subprocess.run(["ip", "link", "delete", foreign], check=False)
        shutil.rmtree(env["MVS_DOCKER_RUN"], ignore_errors=True)
