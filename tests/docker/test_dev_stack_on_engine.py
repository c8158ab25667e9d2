"""The dev stack on a real Docker engine: the images build from the repository's Dockerfiles, the
containers run with exactly the arguments `LocalStack` registers, and the everyday commands work
on them. (Why not `pulumi up`: see tests/docker/declared.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import docker
import httpx
import pytest

from components.errors import PortInUse
from components.spec import parse_environment
from mvsctl import dev_engine
from mvsctl.loopback_s3 import free_port
from tests.components.conftest import dev_raw

from .conftest import ROOT, postgres_standin
from .declared import (
    CONTAINER,
    NETWORK,
    VOLUME,
    apply_network,
    apply_volume,
    declare,
    read_back,
    start_container,
    wait_healthy,
)
from .standins import build_services

SECRETS = {"mvs:dbPassword": "db-Never-Shown-9", "mvs:sessionSecret": "session-Never-Shown-8"}
STACK = "dev"


def remove_stack(client: docker.DockerClient) -> None:
    for container in dev_engine.stack_containers(client, STACK):
        container.remove(force=True)
    for network in client.networks.list(names=[f"mvs-{STACK}"]):
        network.remove()
    for volume in client.volumes.list(filters={"label": f"com.mvs.stack={STACK}"}):
        volume.remove(force=True)


@pytest.fixture(scope="module")
def dev_stack(engine, ci_bases):
    """The default dev declaration (on free host ports), built and started on the engine."""
    raw = dev_raw()
    raw["database"]["host_port"] = free_port()
    for service in raw["services"].values():
        service["host_port"] = free_port()
    declared = declare(raw, SECRETS, ROOT)
    remove_stack(engine)
    build_services(engine, ci_bases, declared)
    postgres_standin(engine, ci_bases, declared.named("dev-postgres-image").inputs["name"])
    for network in declared.of_type(NETWORK):
        apply_network(engine, network)
    for volume in declared.of_type(VOLUME):
        apply_volume(engine, volume)
    containers = {reg.name: start_container(engine, declared, reg) for reg in declared.of_type(CONTAINER)}
    ports = {name: service["host_port"] for name, service in raw["services"].items()}
    yield declared, containers, ports
    remove_stack(engine)


def test_the_stack_runs_healthy_and_reads_back_exactly_as_declared(engine, dev_stack):
    """What the provider would read back equals what the component declares: no perpetual diff on
    images (ids), health check durations, restart policies or published ports."""
    declared, containers, _ = dev_stack
    assert sorted(containers) == ["dev-backend", "dev-backup", "dev-database", "dev-frontend"]
    for reg in declared.of_type(CONTAINER):
        container = containers[reg.name]
        assert wait_healthy(container, 60) == "healthy", reg.name
        found = read_back(container)
        assert found["image"] == engine.images.get(declared.image_ref(reg)).id, reg.name
        assert found["healthcheck"] == reg.inputs["healthcheck"], reg.name
        assert (found["restart"], found["maxRetryCount"]) == (reg.inputs["restart"], reg.inputs.get("maxRetryCount", 0))
        assert found["ports"] == reg.inputs.get("ports", []), reg.name


def test_the_backend_serves_its_database_route_and_the_frontend_calls_it(dev_stack):
    _, _, ports = dev_stack
    backend = f"http://127.0.0.1:{ports['backend']}"
    health = httpx.get(f"{backend}/health", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "ok"
    created = httpx.post(f"{backend}/api/notes", json={"text": "from the real engine"}, timeout=10)
    assert created.status_code in (200, 201), created.text
    through_frontend = httpx.get(f"http://127.0.0.1:{ports['frontend']}/api/notes", timeout=10)
    assert through_frontend.status_code == 200
    assert "from the real engine" in through_frontend.text
    page = httpx.get(f"http://127.0.0.1:{ports['frontend']}/", timeout=10)
    assert page.status_code == 200 and "/api/notes" in page.text + httpx.get(f"{page.url}app.js").text
    metrics = httpx.get(f"{backend}/metrics", timeout=10).text
    assert 'route="/api/notes"' in metrics and "http_requests_total" in metrics


def test_a_backup_and_a_drill_through_the_runner_container(dev_stack):
    _, containers, _ = dev_stack
    runner = containers["dev-backup"]
    for command in (["run"], ["verify"]):
        code, output = runner.exec_run(["python", "-m", "backup_runner", *command])
        assert code == 0, (command, output.decode(errors="replace"))
    code, output = runner.exec_run(["python", "-m", "backup_runner", "list"])
    listing = output.decode()
    assert code == 0 and "  verified  " in listing and "passed" in listing, listing
    assert SECRETS["mvs:dbPassword"] not in listing


def test_a_crashed_backend_is_restarted_by_its_policy(dev_stack):
    _, containers, ports = dev_stack
    backend = containers["dev-backend"]
    backend.reload()
    before = backend.attrs["RestartCount"]
    os.kill(backend.attrs["State"]["Pid"], signal.SIGKILL)  # a crash, not a `docker stop`
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        backend.reload()
        if backend.attrs["RestartCount"] > before:
            break
        time.sleep(0.5)
    assert backend.attrs["RestartCount"] == before + 1
    assert wait_healthy(backend, 60) == "healthy"
    assert httpx.get(f"http://127.0.0.1:{ports['backend']}/health", timeout=10).status_code == 200


def mvs(docker_host: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    return subprocess.run(
        [sys.executable, "-m", "mvsctl", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_ps_shows_each_service_state_health_image_release_and_url(engine, docker_host, dev_stack):
    _, containers, ports = dev_stack
    # The same image tagged again (to push it, say): ps still names it as the stack built it.
    containers["dev-backend"].image.tag("registry.example/mvs-backend", "pushed")
    try:
        done = mvs(docker_host, "ps", STACK)
    finally:
        engine.images.remove("registry.example/mvs-backend:pushed")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert sorted(rows) == ["backend", "backup", "database", "frontend"]
    assert "running" in rows["backend"] and "healthy" in rows["backend"] and "2.0.0" in rows["backend"]
    assert f"http://localhost:{ports['backend']}" in rows["backend"]
    assert "mvs-dev-backend:" in rows["backend"]


def test_logs_show_a_service_or_all_of_them(docker_host, dev_stack):
    _, _, ports = dev_stack
    httpx.get(f"http://127.0.0.1:{ports['backend']}/api/notes?from=logs-test", timeout=10)
    one = mvs(docker_host, "logs", STACK, "backend", "--tail", "50")
    assert one.returncode == 0 and "/api/notes" in one.stdout, one.stderr
    every = mvs(docker_host, "logs", STACK, "--tail", "5")
    assert every.returncode == 0
    prefixes = {line.split("|")[0].strip() for line in every.stdout.splitlines() if "|" in line}
    assert {"backend", "database"} <= prefixes
    unknown = mvs(docker_host, "logs", STACK, "nosuch")
    assert unknown.returncode != 0 and "backend" in unknown.stderr and "Traceback" not in unknown.stderr


def test_restart_restarts_the_container_and_waits_for_health(docker_host, engine, dev_stack):
    _, containers, _ = dev_stack
    frontend = containers["dev-frontend"]
    frontend.reload()
    started = frontend.attrs["State"]["StartedAt"]
    done = mvs(docker_host, "restart", STACK, "frontend")
    assert done.returncode == 0, done.stderr
    assert "frontend is healthy" in done.stdout
    frontend.reload()
    assert frontend.attrs["State"]["StartedAt"] != started


def test_up_starts_stopped_containers_and_refuses_ports_taken_by_others(docker_host, dev_stack, monkeypatch):
    _, containers, ports = dev_stack
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    raw = dev_raw()
    raw["database"]["host_port"] = int(containers["dev-database"].ports["5432/tcp"][0]["HostPort"])
    for name, port in ports.items():
        raw["services"][name]["host_port"] = port
    spec = parse_environment(raw, "stacks/Pulumi.dev.yaml")
    containers["dev-backend"].stop(timeout=5)
    said: list[str] = []
    dev_engine.prepare_up(STACK, spec, "stacks/Pulumi.dev.yaml", say=said.append)
    assert any(line.startswith("backend was exited") for line in said), said
    containers["dev-backend"].reload()
    assert containers["dev-backend"].attrs["State"]["Running"]
    assert wait_healthy(containers["dev-backend"], 60) == "healthy"

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        raw["services"]["frontend"]["host_port"] = taken
        spec = parse_environment(raw, "stacks/Pulumi.dev.yaml")
        with pytest.raises(PortInUse) as refused:
            dev_engine.prepare_up(STACK, spec, "stacks/Pulumi.dev.yaml", say=said.append)
    message = str(refused.value)
    assert f"port {taken}" in message and "mvs:environment.services.frontend.host_port" in message
    assert "stacks/Pulumi.dev.yaml" in message


def test_logs_follow_prints_new_lines_until_interrupted(docker_host, dev_stack):
    _, _, ports = dev_stack
    env = {**os.environ, "DOCKER_HOST": docker_host}
    follower = subprocess.Popen(
        [sys.executable, "-m", "mvsctl", "logs", STACK, "backend", "-f", "--tail", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(follower.stdout), daemon=True)
    reader.start()
    try:
        marker = f"follow-{time.time_ns()}"
        deadline = time.monotonic() + 60
        while not any(marker in line for line in seen) and time.monotonic() < deadline:
            httpx.get(f"http://127.0.0.1:{ports['backend']}/api/{marker}", timeout=10)
            time.sleep(0.5)
        assert any(marker in line for line in seen), seen
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        reader.join(timeout=10)
    stderr = follower.stderr.read()
    assert follower.returncode in (0, 130) and "Traceback" not in stderr, stderr
