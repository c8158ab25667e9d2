"""The dev stack's real `pulumi up` on a real Docker engine, through the real `./mvs` commands and
the project's own Docker providers: from empty to healthy, a no-change preview (also after the
daemon restarts), a one-variable change, drift made by hand, a source change, a taken port, the
secrets, and destroy keeping the data. One stack is brought up once for the module; each test
leaves it converged for the next."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from components.local.volumes import backup_volume_name, data_volume_name

from .conftest import ENGINE_TOOL
from .dev_world import SECRETS, STACK, DevWorld

SERVICES = ["backend", "backup", "database", "frontend"]


@contextmanager
def argument_lists() -> Iterator[set[str]]:
    """Every process's argument list seen on the machine while the block runs (sampled every 20 ms)."""
    seen: set[str] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        seen.add(
                            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        )
                    except OSError:
                        continue
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join(timeout=10)


@pytest.fixture(scope="module")
def dev(tmp_path_factory, docker_host, engine, official_names) -> Iterator[DevWorld]:
    world = DevWorld(tmp_path_factory.mktemp("dev"), docker_host, engine)
    world.start_clean()
    with argument_lists() as seen:
        world.first_up = world.mvs("up", STACK, "--yes")
    world.argv_during_up = seen
    yield world
    world.finish()


def url(world: DevWorld, service: str, path: str) -> str:
    return f"http://127.0.0.1:{world.ports[service]}{path}"


def ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_up_from_empty_brings_every_container_up_healthy_and_the_app_answers(dev):
    output = ok(dev.first_up)
    assert dev.health() == dict.fromkeys(SERVICES, "healthy")
    assert "mvs-dev-backend: waits up to" in output and "mvs-dev-backend is healthy after" in output
    created = httpx.post(url(dev, "backend", "/api/notes"), json={"text": "from the real up"}, timeout=10)
    assert created.status_code in (200, 201), created.text
    through_frontend = httpx.get(url(dev, "frontend", "/api/notes"), timeout=10)
    assert through_frontend.status_code == 200 and "from the real up" in through_frontend.text
    page = httpx.get(url(dev, "frontend", "/"), timeout=10)
    assert page.status_code == 200 and "/api/notes" in page.text + httpx.get(f"{page.url}app.js").text
    metrics = httpx.get(url(dev, "backend", "/metrics"), timeout=10).text
    assert 'route="/api/notes"' in metrics and "http_requests_total" in metrics


def test_ps_shows_each_service_state_health_image_release_and_url(dev):
    backend = dev.containers()["backend"]
    # The same image tagged again (to push it, say): ps still names it as the stack built it.
    backend.image.tag("registry.example/mvs-backend", "pushed")
    try:
        rows = {line.split()[0]: line for line in ok(dev.mvs("ps", STACK)).splitlines()[1:]}
    finally:
        dev.client.images.remove("registry.example/mvs-backend:pushed")
    assert sorted(rows) == SERVICES
    assert all(" running " in rows[s] and "healthy" in rows[s] for s in SERVICES), rows
    assert "2.0.0" in rows["backend"] and "mvs-dev-backend:" in rows["backend"]
    assert url(dev, "frontend", "").replace("127.0.0.1", "localhost") in rows["frontend"]


def test_a_backup_and_a_drill_through_the_runner_container(dev):
    runner = dev.containers()["backup"]
    for command in (["run"], ["verify"]):
        code, output = runner.exec_run(["python", "-m", "backup_runner", *command])
        assert code == 0, (command, output.decode(errors="replace"))
    code, output = runner.exec_run(["python", "-m", "backup_runner", "list"])
    listing = output.decode()
    assert code == 0 and "  verified  " in listing and "passed" in listing, listing
    assert SECRETS["dbPassword"] not in listing


def wait_for(what: str, probe, seconds: float = 90):
    end = time.monotonic() + seconds
    while not (found := probe()):
        assert time.monotonic() < end, f"{what}: not within {seconds} s"
        time.sleep(0.5)
    return found


def test_a_crashed_backend_is_restarted_by_its_policy(dev):
    backend = dev.containers()["backend"]
    before = backend.attrs["RestartCount"]
    os.kill(backend.attrs["State"]["Pid"], signal.SIGKILL)  # a crash, not a `docker stop`
    wait_for("a restart", lambda: dev.containers()["backend"].attrs["RestartCount"] > before)
    assert dev.containers()["backend"].attrs["RestartCount"] == before + 1
    wait_for("healthy again", lambda: dev.health()["backend"] == "healthy")
    assert httpx.get(url(dev, "backend", "/health"), timeout=10).status_code == 200


LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (ERROR|WARN |INFO |DEBUG) (.*)")


def test_logs_show_a_service_or_all_of_them(dev):
    httpx.get(url(dev, "backend", "/api/notes?from=logs-test"), timeout=10)
    one = dev.mvs("logs", STACK, "backend", "--tail", "50")
    assert one.returncode == 0 and "/api/notes" in one.stdout, one.stderr
    shown = [LOG_LINE.fullmatch(line) for line in one.stdout.splitlines()]
    assert all(shown), "each line with Docker's time and a severity: " + one.stdout[-500:]
    assert {m.group(2).strip() for m in shown} <= {"ERROR", "WARN", "INFO", "DEBUG"}
    every = dev.mvs("logs", STACK, "--tail", "5")
    assert every.returncode == 0
    prefixes = {LOG_LINE.fullmatch(line).group(3).split("|")[0].strip() for line in every.stdout.splitlines()}
    assert {"backend", "database"} <= prefixes
    marker = f"since-{time.time_ns()}"
    time.sleep(1.1)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    httpx.get(url(dev, "backend", f"/api/{marker}"), timeout=10)
    recent = dev.mvs("logs", STACK, "backend", "--since", since)
    assert recent.returncode == 0 and marker in recent.stdout, recent.stdout + recent.stderr
    assert "/api/notes?from=logs-test" not in recent.stdout, "nothing from before --since"
    unknown = dev.mvs("logs", STACK, "nosuch")
    assert unknown.returncode != 0 and "backend" in unknown.stderr and "Traceback" not in unknown.stderr


def test_logs_follow_prints_new_lines_until_interrupted(dev):
    follower = subprocess.Popen(
        [sys.executable, "-m", "mvsctl", "logs", STACK, "backend", "-f", "--tail", "0"],
        cwd=dev.project,
        env=dev.cli.env,
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
            httpx.get(url(dev, "backend", f"/api/{marker}"), timeout=10)
            time.sleep(0.5)
        assert any(marker in line for line in seen), seen
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
        reader.join(timeout=10)
    stderr = follower.stderr.read()
    assert follower.returncode in (0, 130) and "Traceback" not in stderr, stderr


def test_restart_restarts_the_container_and_waits_for_health(dev):
    started = dev.containers()["frontend"].attrs["State"]["StartedAt"]
    done = ok(dev.mvs("restart", STACK, "frontend"))
    assert "frontend is healthy" in done
    assert dev.containers()["frontend"].attrs["State"]["StartedAt"] != started
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))  # a restart is no drift


def test_a_no_change_preview_right_after_up_and_after_the_daemon_restarts(dev, docker_host):
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))
    tool = subprocess.run([str(ENGINE_TOOL), "env"], capture_output=True, text=True)
    assert tool.stdout.strip() == f"DOCKER_HOST={docker_host}", "the test engine is tools/docker-engine's"
    restarted = subprocess.run([str(ENGINE_TOOL), "restart"], capture_output=True, text=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))
    assert dev.health()["database"] in ("healthy", "starting")  # it never stopped (live restore)
    assert httpx.get(url(dev, "frontend", "/health"), timeout=10).status_code == 200


def test_one_variable_replaces_only_the_backend_and_keeps_the_data(dev):
    httpx.post(url(dev, "backend", "/api/notes"), json={"text": "written before the change"}, timeout=10)
    before = dev.ids()
    volume_before = dev.client.volumes.get(data_volume_name(STACK)).attrs["CreatedAt"]
    environment = dev.declaration()
    environment["services"]["backend"]["env"]["LOG_LEVEL"] = "info"
    dev.declare(environment)
    assert dev.changes() == [("replace", "dev-backend")]
    ok(dev.mvs("up", STACK, "--yes"))
    after = dev.ids()
    assert after["backend"] != before["backend"]
    assert {k: v for k, v in after.items() if k != "backend"} == {k: v for k, v in before.items() if k != "backend"}
    assert dev.client.volumes.get(data_volume_name(STACK)).attrs["CreatedAt"] == volume_before
    env = dev.containers()["backend"].attrs["Config"]["Env"]
    assert "LOG_LEVEL=info" in env
    assert "written before the change" in httpx.get(url(dev, "backend", "/api/notes"), timeout=10).text
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))


def test_drift_made_by_hand_is_named_by_preview_and_repaired_by_up(dev, ci_bases):
    containers = dev.containers()
    backend_image = dev.client.images.get(containers["backend"].image.id)
    # The tag the stack built (one image may carry several: the same content under other digests).
    resources = json.loads(dev.cli.ok("stack", "export", "--stack", STACK))["deployment"]["resources"]
    built_tag = next(r["outputs"]["name"] for r in resources if r["urn"].endswith("::dev-backend-image"))
    containers["frontend"].stop(timeout=10)
    containers["backup"].remove(force=True)
    dev.client.images.get(ci_bases["debian"]).tag(*built_tag.split(":"))  # the tag now names another image
    preview = dev.mvs("preview", STACK)
    said = preview.stdout + preview.stderr
    assert preview.returncode == 0, said
    assert re.search(r"container mvs-dev-frontend is exited \(exit code \d+\): up starts it again", said), said
    assert "container mvs-dev-backup is gone from the engine" in said
    assert f"image {built_tag} now names another image" in said
    ok(dev.mvs("up", STACK, "--yes"))
    assert dev.health() == dict.fromkeys(SERVICES, "healthy")
    assert dev.client.images.get(built_tag).id == backend_image.id  # built again, from the same source
    assert dev.containers()["backend"].image.id == backend_image.id
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))


def test_a_source_change_rebuilds_and_replaces_only_its_own_image_and_container(dev):
    before = dev.ids()
    server = dev.project / "app" / "frontend" / "src" / "server.js"
    server.write_text(server.read_text() + "\n// a change to the frontend's source\n")
    # The release record follows: it names the image each service runs.
    assert dev.changes() == [("replace", "dev-frontend"), ("replace", "dev-frontend-image"), ("update", "dev-release")]
    ok(dev.mvs("up", STACK, "--yes"))
    after = dev.ids()
    assert after["frontend"] != before["frontend"]
    assert {k: v for k, v in after.items() if k != "frontend"} == {k: v for k, v in before.items() if k != "frontend"}
    assert dev.health()["frontend"] == "healthy"


def test_a_taken_port_is_one_line_naming_it_and_the_running_stack_keeps_running(dev):
    before = dev.ids()
    environment = dev.declaration()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = holder.getsockname()[1]
        environment["services"]["frontend"]["host_port"] = taken
        dev.declare(environment)
        refused = dev.mvs("up", STACK, "--yes")
        # The provider checks it too, before it removes the old container: `pulumi up` run directly.
        direct = dev.cli.run("up", "--yes", "--skip-preview", "--stack", STACK)
    key = "mvs:environment.services.frontend.host_port"
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    (line,) = refused.stderr.strip().splitlines()
    assert f"port {taken} on 127.0.0.1 is in use" in line and key in line and "stacks/Pulumi.dev.yaml" in line
    assert direct.returncode != 0
    assert f"port {taken} on 127.0.0.1 is in use" in direct.stdout and key in direct.stdout
    assert "Traceback" not in direct.stdout + direct.stderr
    assert dev.ids() == before and dev.health()["frontend"] == "healthy"
    assert httpx.get(url(dev, "frontend", "/health"), timeout=10).status_code == 200
    environment["services"]["frontend"]["host_port"] = dev.ports["frontend"]
    dev.declare(environment)
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))


def test_the_secrets_appear_in_no_output_no_argument_list_and_only_encrypted_in_the_state(dev):
    state = dev.cli.ok("stack", "export", "--stack", STACK)
    assert '"ciphertext"' in state  # the variables are there, encrypted
    outputs = "\n".join(dev.outputs)
    arguments = "\n".join(dev.argv_during_up)
    assert any("pulumi" in a for a in dev.argv_during_up), "the sampler saw the engine run"
    for value in SECRETS.values():
        assert value not in state
        assert value not in outputs
        assert value not in arguments
    running = dev.containers()["backend"].attrs["Config"]["Env"]
    assert any(SECRETS["sessionSecret"] in entry for entry in running), "the container does get the secret"


def test_rollback_to_a_pinned_earlier_release_runs_on_dev(dev):
    """Services on pinned images (as staging and prod run them) go back to the release before."""
    containers = dev.containers()
    first = {name: f"mvs-test/{name}:2.0.0" for name in ("backend", "frontend")}
    for name, ref in first.items():
        containers[name].image.tag(*ref.split(":"))
    environment = dev.declaration()
    for name in first:
        environment["services"][name].pop("build")
    environment["release"] = {"version": "2.0.0", "images": first}
    dev.declare(environment)
    ok(dev.mvs("up", STACK, "--yes"))
    second = {**first, "backend": "mvs-test/backend:2.1.0"}
    source = dev.project / "app" / "backend"
    (source / "src" / "server.js").write_text((source / "src" / "server.js").read_text() + "\n// release 2.1.0\n")
    newer, _ = dev.client.images.build(path=str(source), tag=second["backend"], network_mode="host", rm=True)
    ok(dev.mvs("release", "set", STACK, "--version", "2.1.0", "--image", f"backend={second['backend']}"))
    ok(dev.mvs("up", STACK, "--yes"))
    assert dev.containers()["backend"].image.id == newer.id
    rolled = ok(dev.mvs("rollback", STACK))
    assert "2.0.0" in rolled
    assert dev.containers()["backend"].image.id == dev.client.images.get(first["backend"]).id
    assert dev.declaration()["release"]["version"] == "2.0.0"
    assert dev.health() == dict.fromkeys(SERVICES, "healthy")
    ok(dev.mvs("preview", STACK, "--expect-no-changes"))
    releases = ok(dev.mvs("releases", STACK))
    assert "2.1.0" in releases and "2.0.0" in releases


def test_destroy_keeps_the_data_volumes_and_the_next_up_finds_the_data(dev):
    httpx.post(url(dev, "backend", "/api/notes"), json={"text": "kept across destroy"}, timeout=10)
    destroyed = ok(dev.mvs("destroy", STACK, "--yes"))
    assert dev.containers() == {}
    assert not dev.client.networks.list(names=[f"mvs-{STACK}"])
    kept = {v.name for v in dev.client.volumes.list(filters={"label": f"com.mvs.stack={STACK}"})}
    assert {data_volume_name(STACK), backup_volume_name(STACK)} <= kept
    assert f"kept docker volume {data_volume_name(STACK)}" in destroyed
    ok(dev.mvs("up", STACK, "--yes"))
    assert "kept across destroy" in httpx.get(url(dev, "backend", "/api/notes"), timeout=10).text
    ok(dev.mvs("destroy", STACK, "--yes", "--delete-data"))
    assert not dev.client.volumes.list(filters={"label": f"com.mvs.stack={STACK}"})
