"""`./mvs ps`, `logs` and `restart` on staging, end to end: the stack brought up once with the real
`pulumi` CLI against the emulator, then each command run as an operator runs it, and judged by
what it printed and by the requests the emulator received."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
import yaml

from .cli import tools_available
from .world import RailwayWorld, operations, writes

SERVICES = ["database", "backend", "frontend", "backup", "backup-verify"]  # the order ps shows


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    """One world for the module, with staging up: a `pulumi up` takes half a minute."""
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path_factory.mktemp("everyday"), s3_endpoint)
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    yield world
    world.server.stop()


def declared(world: RailwayWorld) -> dict:
    """The services staging declares, as its stack file says."""
    document = yaml.safe_load((world.cli.workdir / "stacks" / "Pulumi.staging.yaml").read_text())
    return document["config"]["mvs:environment"]["services"]


def run(world: RailwayWorld, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """`./mvs ARGS`, and the Railway requests it made."""
    before = len(world.requests())
    result = world.mvs(*args)
    return result, world.requests()[before:]


def latest_deployment(world: RailwayWorld, service: str) -> dict:
    state = world.state()
    service_id, environment_id = world.service_id(service), world.environment_id("staging")
    scope = (service_id, environment_id)
    mine = [d for d in state["deployments"].values() if (d["serviceId"], d["environmentId"]) == scope]
    return max(mine, key=lambda d: d["createdAt"])


def app_output(world: RailwayWorld, service: str, *lines: str | dict) -> None:
    world.admin("logs", {"deploymentId": latest_deployment(world, service)["id"], "lines": list(lines)})


LOG_LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) (ERROR|WARN |INFO |DEBUG) (.*)")


def shown(line: str) -> tuple[str, str, str]:
    """(time, severity, the rest) of one line of `./mvs logs`."""
    match = LOG_LINE.fullmatch(line.rstrip("\n"))
    assert match, f"not a log line with its time and severity: {line!r}"
    moment, level, rest = match.groups()
    return moment, level.strip(), rest


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


# ---- ps -----------------------------------------------------------------------------------------


def test_ps_shows_every_service_in_aligned_columns_from_one_request(world):
    result, requests = run(world, "ps", "staging")

    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.rstrip("\n").splitlines()
    assert header.split() == ["SERVICE", "STATE", "HEALTH", "IMAGE", "RELEASE", "URL"]
    assert [row.split()[0] for row in rows] == SERVICES
    starts = [header.index(title) for title in ("STATE", "HEALTH", "IMAGE", "RELEASE", "URL")]
    backend = rows[1]
    assert [backend[start:].split("   ")[0].strip() for start in starts] == [
        "SUCCESS",
        "healthy (/health passed)",
        "ghcr.io/mvs-app/backend:2.0.0",
        "2.0.0",
        backend[starts[-1] :],
    ]
    assert re.fullmatch(r"https://backend-staging-\w+\.up\.railway\.app", backend[starts[-1] :])
    assert f"healthy ({declared(world)['frontend']['health_check']['path']} passed)" in rows[2]
    assert "ghcr.io/mvs-app/frontend:2.0.0" in rows[2]
    assert "SUCCESS (cron 15 3 * * *)" in rows[3] and "SUCCESS (cron 45 4 * * 0)" in rows[4]
    assert "scheduled (no health check)" in rows[3] and "up (no health check)" in rows[0]
    assert "ghcr.io/railwayapp-templates/postgres-ssl:15.19" in rows[0]
    assert [e["operation"] for e in requests] == ["environmentServices"], "one request, however many services"


# ---- logs ---------------------------------------------------------------------------------------


def test_logs_of_one_service_are_its_latest_deployment_last_lines_without_a_prefix(world):
    app_output(world, "backend", "listening on :3000", "GET /health 200", "GET /orders 200")

    result, requests = run(world, "logs", "staging", "backend", "--tail", "2")

    assert result.returncode == 0, result.stderr
    assert [shown(line)[1:] for line in result.stdout.splitlines()] == [
        ("INFO", "GET /health 200"),
        ("INFO", "GET /orders 200"),
    ]
    assert "\033[" not in result.stdout, "no colour when stdout is not a terminal"
    assert [e["operation"] for e in requests] == ["environmentServices", "deploymentLogs"]
    assert requests[1]["variables"] == {"deploymentId": latest_deployment(world, "backend")["id"], "limit": 2}


def test_logs_show_railways_severity_and_read_it_from_a_line_that_has_none(world):
    app_output(world, "backend", {"message": "connection refused", "severity": "error"})
    app_output(world, "backend", {"message": "slow query", "severity": "", "attributes": {"level": "warning"}})
    app_output(world, "backend", '{"level":"error","msg":"unhandled rejection"}')

    result, _ = run(world, "logs", "staging", "backend", "--tail", "3")

    assert result.returncode == 0, result.stderr
    assert [shown(line)[1] for line in result.stdout.splitlines()] == ["ERROR", "WARN", "ERROR"]


def test_logs_since_ask_railway_for_that_range_only(world):
    app_output(world, "backend", "GET /old 200")
    time.sleep(1.5)
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    app_output(world, "backend", "GET /new-1 200", "GET /new-2 200")

    result, requests = run(world, "logs", "staging", "backend", "--since", since)
    assert result.returncode == 0, result.stderr
    assert [shown(line)[2] for line in result.stdout.splitlines()] == ["GET /new-1 200", "GET /new-2 200"]
    asked = requests[-1]["variables"]
    assert asked["startDate"].startswith(since[:19]) and asked["endDate"] >= asked["startDate"]

    newest, _ = run(world, "logs", "staging", "backend", "--since", "1h", "--tail", "1")
    assert [shown(line)[2] for line in newest.stdout.splitlines()] == ["GET /new-2 200"]

    refused, _ = run(world, "logs", "staging", "backend", "--since", "yesterday")
    assert "--since 'yesterday': it takes a duration back from now (90s, 10m, 2h, 1d, 1h30m)" in one_error_line(refused)


def test_logs_of_every_service_are_merged_and_prefixed_with_the_service(world):
    app_output(world, "frontend", "serving /index.html")
    app_output(world, "backend", "GET /orders 200")

    result, requests = run(world, "logs", "staging")

    assert result.returncode == 0, result.stderr
    lines = [shown(line)[2] for line in result.stdout.splitlines()]
    prefixes = {line.split(" | ", 1)[0].strip() for line in lines}
    assert prefixes == set(SERVICES), "every service's deployment logged its container start"
    assert "frontend      | serving /index.html" in lines, "names padded to the longest (backup-verify)"
    assert "backend       | GET /orders 200" in lines
    times = [shown(line)[0] for line in result.stdout.splitlines()]
    assert times == sorted(times), "merged in the order they were written"
    assert operations(requests) == {"environmentServices": 1, "deploymentLogs": 5}
    assert writes(requests) == []


def test_logs_follow_polls_only_for_new_lines_and_ends_cleanly_on_ctrl_c(world):
    world.admin("rate-limit", {"limit": 1_000_000, "window_seconds": 3600})  # polls every 2 s, not 7.2
    app_output(world, "backend", "GET /before 200")
    before = len(world.requests())
    follower = subprocess.Popen(
        [sys.executable, "-m", "mvsctl", "logs", "staging", "backend", "-f", "--tail", "1"],
        cwd=world.cli.workdir,
        env=world.cli.env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True).start()
    try:
        assert shown(lines.get(timeout=120))[2] == "GET /before 200", "the tail first"
        app_output(world, "backend", "GET /after 201")
        assert shown(lines.get(timeout=60))[2] == "GET /after 201"
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=60)
    stderr = follower.stderr.read()
    assert follower.returncode == 130 and "Traceback" not in stderr, stderr
    logs = [e for e in world.requests()[before:] if e["operation"] == "deploymentLogs"]
    assert logs[0]["variables"]["limit"] == 1 and "startDate" not in logs[0]["variables"]
    assert all(e["variables"].get("startDate") for e in logs[1:]), "every poll asks only for what is new"
    assert writes(world.requests()[before:]) == []


# ---- restart ------------------------------------------------------------------------------------


def test_restart_sends_one_restart_of_the_latest_deployment_and_waits_until_it_runs(world):
    deployment = latest_deployment(world, "backend")
    count = len(world.state()["deployments"])

    result, requests = run(world, "restart", "staging", "backend")

    assert result.returncode == 0, result.stderr
    assert f"restarting backend (deployment {deployment['id']}, SUCCESS)" in result.stdout
    last = result.stdout.rstrip().splitlines()[-1]
    assert last.startswith(f"backend is running again (deployment {deployment['id']}")
    assert writes(requests) == ["deploymentRestart"], "no mutation besides the restart"
    (restart,) = [e for e in requests if e["operation"] == "deploymentRestart"]
    assert restart["variables"] == {"id": deployment["id"]}
    assert operations(requests) == {"environmentServices": 1, "deploymentRestart": 1, "deploymentInstances": 1}
    assert len(world.state()["deployments"]) == count, "a restart is not a new deployment"
    assert latest_deployment(world, "backend")["status"] == "SUCCESS"


def test_a_restart_that_crashes_is_one_line_with_what_to_do(world):
    world.admin("behaviour", {"service": "frontend", "restart_outcome": "CRASHED"})
    try:
        result, requests = run(world, "restart", "staging", "frontend")
        line = one_error_line(result)
        assert "frontend did not come back" in line and "CRASHED" in line
        assert "./mvs logs staging frontend" in line
        assert writes(requests) == ["deploymentRestart"]
    finally:
        world.admin("behaviour", {"service": "frontend", "restart_outcome": "SUCCESS"})
        assert world.mvs("restart", "staging", "frontend").returncode == 0, "a crashed deployment restarts again"


# ---- what cannot be done is one line ------------------------------------------------------------


@pytest.mark.parametrize("command", [["logs", "staging", "nosuch"], ["restart", "staging", "nosuch"]])
def test_an_unknown_service_is_one_line_listing_the_services(world, command):
    result, requests = run(world, *command)
    line = one_error_line(result)
    assert line == "error: staging has no service 'nosuch'; its services are: " + ", ".join(sorted(SERVICES))
    assert requests == [], "refused before asking Railway"


def test_a_stack_never_brought_up_is_one_line_saying_to_bring_it_up(world):
    absent, requests = run(world, "ps", "prod")
    assert "./mvs up prod" in one_error_line(absent)
    world.init_stack("prod")  # created, configured, never up
    created, more = run(world, "logs", "prod")
    assert "prod has not been brought up" in one_error_line(created) and "./mvs up prod" in created.stderr
    assert requests == more == []


def test_without_a_token_it_says_where_to_put_one_and_sends_nothing(world):
    token = world.cli.env.pop("RAILWAY_API_TOKEN")
    try:
        result, requests = run(world, "ps", "staging")
    finally:
        world.cli.env["RAILWAY_API_TOKEN"] = token
    line = one_error_line(result)
    assert "RAILWAY_API_TOKEN" in line and "railway:token" in line and token not in line
    assert requests == []


def test_a_refused_token_is_one_line_with_the_next_step_and_never_the_token(world):
    token = world.cli.env["RAILWAY_API_TOKEN"]
    world.cli.env["RAILWAY_API_TOKEN"] = "not-a-real-token-Never-Shown"
    try:
        result, requests = run(world, "restart", "staging", "backend")
    finally:
        world.cli.env["RAILWAY_API_TOKEN"] = token
    line = one_error_line(result)
    assert line.startswith("error: Railway environmentServices (HTTP 200): Not Authorized")
    assert "Next: check that the token" in line and "Never-Shown" not in result.stdout + result.stderr
    assert [e["operation"] for e in requests] == ["environmentServices"], "nothing sent after the refusal"


def test_the_token_and_endpoint_kept_in_the_stack_are_used_as_the_providers_use_them(world):
    token, endpoint = world.cli.env.pop("RAILWAY_API_TOKEN"), world.cli.env.pop("RAILWAY_API_ENDPOINT")
    world.cli.ok("config", "set", "--secret", "--stack", "staging", "railway:token", input_text=token)
    world.cli.ok("config", "set", "--stack", "staging", "railway:endpoint", endpoint)
    try:
        result, requests = run(world, "ps", "staging")
    finally:
        world.cli.env.update({"RAILWAY_API_TOKEN": token, "RAILWAY_API_ENDPOINT": endpoint})
        world.cli.ok("config", "rm", "--stack", "staging", "railway:token")
        world.cli.ok("config", "rm", "--stack", "staging", "railway:endpoint")
    assert result.returncode == 0, result.stderr
    assert token not in result.stdout + result.stderr
    assert [e["operation"] for e in requests] == ["environmentServices"]
