"""The runner reports to a Pushgateway (issue 12, point 5): a good run's time, duration and size; a
failed run's time, never overwriting the last success; every drill's end and outcome, and the last
drill that passed. A real Pushgateway (Debian's, from tools/monitoring-tools) runs on loopback, the
runner runs as the containers run it against real PostgreSQL 15, and the gateway's own /metrics
is read back. A gateway that is down or silent never changes a run's outcome: one warning line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backup_runner import cli, metrics
from backup_runner.destinations import DirectoryDestination
from backup_runner.manifest import manifest_key
from backup_runner.settings import read_settings
from mvsctl.loopback_s3 import free_port
from tests.monitoring_tools import monitoring_tool

from .conftest import run_cli, seed
from .pgserver import SUPERUSER_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
SUCCESS = (metrics.BACKUP_SUCCESS, metrics.BACKUP_DURATION, metrics.BACKUP_SIZE)
STACK = "staging"


def pushgateway_binary() -> str:
    return monitoring_tool("pushgateway")


@pytest.fixture
def pushgateway(tmp_path) -> Iterator[str]:
    """A real Pushgateway on a loopback port, in memory only (no persistence file); its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "pushgateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [pushgateway_binary(), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    break
            assert process.poll() is None, f"the Pushgateway exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the Pushgateway did not get ready: {log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pushed(gateway: str) -> dict[str, tuple[float, dict[str, str]]]:
    """The runner's metrics on the gateway: name -> (value, labels)."""
    with urllib.request.urlopen(f"{gateway}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("mvs_"):
                assert sample.name not in found, f"{sample.name} pushed to more than one group"
                found[sample.name] = (sample.value, dict(sample.labels))
    return found


def values(gateway: str) -> dict[str, float]:
    return {name: value for name, (value, _labels) in pushed(gateway).items()}


@pytest.fixture
def env(database, tmp_path, pushgateway) -> dict[str, str]:
    seed(database)
    return {
        "DATABASE_URL": database,
        "BACKUP_DESTINATION": str(tmp_path / "backups"),
        "PUSHGATEWAY_URL": pushgateway,
        "BACKUP_STACK": STACK,
    }


def timed_cli(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, float]:
    before = time.time()
    result = run_cli(*args, env=env, timeout=180)
    return result, before, time.time()


def the_manifest(destination: str, backup_id: str) -> dict:
    return json.loads((Path(destination) / manifest_key(backup_id)).read_text())


def test_a_good_run_pushes_its_success_time_duration_and_size(env, pushgateway):
    result, before, after = timed_cli("run", env=env)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    manifest = the_manifest(env["BACKUP_DESTINATION"], result.stdout.strip())

    found = pushed(pushgateway)
    assert set(found) == set(SUCCESS), "a good run pushes its success only: no failure, no drill"
    for _value, labels in found.values():
        assert labels == {"job": "backup", "stack": STACK, "instance": ""}
    assert before <= found[metrics.BACKUP_SUCCESS][0] <= after
    assert found[metrics.BACKUP_SIZE][0] == manifest["size_bytes"] > 0
    assert 0 < found[metrics.BACKUP_DURATION][0] <= after - before


def test_a_failed_run_pushes_its_failure_and_leaves_the_last_success_alone(env, pushgateway, tmp_path):
    assert run_cli("run", env=env).returncode == 0
    success = values(pushgateway)
    a_file = tmp_path / "a-file"  # a destination that cannot be written: a file, not a directory
    a_file.write_text("not a directory")

    result, before, after = timed_cli("run", env={**env, "BACKUP_DESTINATION": str(a_file)})

    assert result.returncode == 5, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("backup-runner: run failed"), result.stderr
    now = values(pushgateway)
    assert before <= now.pop(metrics.BACKUP_FAILURE) <= after
    assert now == success, "the failure replaced none of the success metrics"


def test_a_run_that_cannot_reach_the_database_is_a_failure_too(env, pushgateway):
    result = run_cli("run", env={**env, "DATABASE_URL": ""})
    assert result.returncode == 2
    assert set(values(pushgateway)) == {metrics.BACKUP_FAILURE}


def lie_about_row_counts(destination: str, backup_id: str) -> None:
    """The drill will count other rows than the manifest says (as in test_drill_records)."""
    manifest = the_manifest(destination, backup_id)
    manifest["fingerprint"]["tables"]["public.orders"]["rows"] -= 1
    path = Path(destination) / manifest_key(backup_id)
    path.write_text(json.dumps(manifest))


def test_drills_push_their_outcome_and_only_a_passing_one_moves_the_success_time(env, pushgateway):
    backup = run_cli("run", env=env)
    assert backup.returncode == 0, backup.stderr

    passing, before, after = timed_cli("verify", env=env)
    assert passing.returncode == 0, passing.stderr
    first = values(pushgateway)
    assert first[metrics.DRILL_PASSED] == 1
    assert before <= first[metrics.DRILL_RUN] <= after
    assert first[metrics.DRILL_SUCCESS] == first[metrics.DRILL_RUN]

    lie_about_row_counts(env["BACKUP_DESTINATION"], backup.stdout.strip())
    failing, before, after = timed_cli("verify", env=env)
    assert failing.returncode == 1, failing.stderr
    second = values(pushgateway)
    assert second[metrics.DRILL_PASSED] == 0
    assert before <= second[metrics.DRILL_RUN] <= after
    assert second[metrics.DRILL_SUCCESS] == first[metrics.DRILL_SUCCESS], "a failed drill is no success"
    assert {name: second[name] for name in SUCCESS} == {name: first[name] for name in SUCCESS}


def test_a_drill_that_fails_before_restoring_anything_is_a_failed_drill(env, pushgateway):
    result, before, after = timed_cli("verify", env=env)  # no backup yet
    assert result.returncode == 5, result.stderr
    found = values(pushgateway)
    assert found[metrics.DRILL_PASSED] == 0 and before <= found[metrics.DRILL_RUN] <= after
    assert metrics.DRILL_SUCCESS not in found


def test_the_scheduler_jobs_push_like_the_commands(env, pushgateway, monkeypatch):
    monkeypatch.setenv("PUSHGATEWAY_URL", pushgateway)
    monkeypatch.setenv("BACKUP_STACK", STACK)
    settings = read_settings(needs_database=True, environ=env)
    destination = DirectoryDestination(Path(env["BACKUP_DESTINATION"]))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.backup_and_prune(settings, destination)
        cli._verify_or_raise(settings, destination)
    found = values(pushgateway)
    assert set(SUCCESS) <= set(found) and found[metrics.DRILL_PASSED] == 1


@contextlib.contextmanager
def silent_gateway() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@contextlib.contextmanager
def closed_port() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("gateway", [closed_port, silent_gateway], ids=["refused", "silent"])
def test_a_gateway_that_is_down_costs_one_warning_line_and_changes_no_outcome(env, gateway, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    with gateway() as url:
        down = {**env, "PUSHGATEWAY_URL": url}
        good = run_cli("run", env=down)
        failed = run_cli("run", env={**down, "BACKUP_DESTINATION": str(a_file)})
    assert good.returncode == 0 and good.stdout.strip(), good.stderr
    for result in (good, failed):
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith("backup-runner: warning: metrics of this backup not pushed: the Pushgateway")
    assert failed.returncode == 5
    assert failed.stderr.strip().splitlines()[-1].startswith("backup-runner: run failed"), "still the last line"


def test_without_pushgateway_url_nothing_is_pushed_or_said(env, pushgateway):
    result = run_cli("run", env={**env, "PUSHGATEWAY_URL": ""})
    assert result.returncode == 0 and "warning" not in result.stderr
    assert pushed(pushgateway) == {}


def test_no_secret_reaches_a_label_or_the_output(env, pushgateway):
    # The stack label is refused when it is not a stack name or is a secret of the environment.
    for stack in (SUPERUSER_PASSWORD, "pg-super-secret-7", "prod/../x"):
        env_secret_stack = {**env, "BACKUP_STACK": stack, "PGPASSWORD": "pg-super-secret-7"}
        result = run_cli("run", env=env_secret_stack)
        assert result.returncode == 0, result.stderr
        assert "BACKUP_STACK is not a stack name" in result.stderr
        assert SUPERUSER_PASSWORD not in result.stderr + result.stdout
    assert pushed(pushgateway) == {}
    # Basic auth in the URL: the password goes in a header, never into a label or the output.
    gateway_password = "Gw-Push-Secret-3"
    with_auth = pushgateway.replace("http://", f"http://pusher:{gateway_password}@")
    assert run_cli("run", env={**env, "PUSHGATEWAY_URL": with_auth}).returncode == 0
    found = pushed(pushgateway)
    assert set(found) == set(SUCCESS)
    assert all(gateway_password not in str(labels) for _value, labels in found.values())
    down = with_auth.rsplit(":", 1)[0] + f":{free_port()}"
    result = run_cli("run", env={**env, "PUSHGATEWAY_URL": down})
    assert result.returncode == 0 and "warning" in result.stderr
    assert gateway_password not in result.stderr + result.stdout


def test_the_pushgateway_fixture_uses_the_installed_tool():
    """The gateway comes from .tools/bin (tools/monitoring-tools, installed on first need)."""
    version = subprocess.run([pushgateway_binary(), "--version"], capture_output=True, text=True, check=True)
    assert "pushgateway, version 1.5" in version.stdout + version.stderr
    assert os.access(pushgateway_binary(), os.X_OK)
