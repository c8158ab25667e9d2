"""Operators see what is happening and what to do (issue 8, point 17), end to end with the real
CLI against the emulator: a killed `up` leaves no process behind and `./mvs` says how to recover
(and `./mvs recover` does); `./mvs destroy` works when the stack file no longer validates; a
failed Railway call is one line, never a Python traceback."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from .world import SECRETS, SERVICES

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def test_a_killed_up_leaves_no_process_and_mvs_says_how_to_recover(world):
    world.init_stack("staging")
    world.admin("faults", {"rules": [{"kind": "latency", "latency_ms": 1500}]})
    up = world.start_up("staging")
    deadline = time.monotonic() + 120
    while len(world.requests()) < 6 and time.monotonic() < deadline:
        time.sleep(0.2)
    helpers = descendants(up.pid)
    assert any("pulumi.dynamic" in Path(f"/proc/{pid}/cmdline").read_text() for pid in alive(helpers))
    up.send_signal(signal.SIGKILL)
    up.wait()
    deadline = time.monotonic() + 60
    while alive(helpers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert alive(helpers) == [], "the language host and every provider end with the engine"
    world.admin("faults", {"rules": []})

    sent = len(world.requests())
    stopped = world.mvs("up", "staging", "--yes")
    assert stopped.returncode == 4, stopped.stdout + stopped.stderr
    assert "the last update of staging was interrupted (locked by pid " in stopped.stderr
    assert "Recover it with `./mvs recover staging`" in stopped.stderr
    assert len(world.requests()) == sent, "nothing was sent before saying so"

    recovered = world.mvs("recover", "staging")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert f"staging: removed the lock left by pid {up.pid}" in recovered.stdout

    converged = world.mvs("up", "staging", "--yes")
    assert converged.returncode == 0, converged.stdout + converged.stderr
    assert sorted(s["name"] for s in world.state()["services"].values()) == SERVICES, "nothing made twice"
    assert len(world.state()["projects"]) == 1 and len(world.state()["environments"]) == 1
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")


def test_destroy_works_when_the_stack_file_no_longer_validates(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    world.cli.ok("config", "set", "--path", "--stack", "staging", "mvs:environment.services.backend.port", "70000")
    assert world.mvs("validate", "staging").returncode == 2

    destroyed = world.mvs("destroy", "staging", "--yes")

    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "services.backend.port: found 70000" in destroyed.stderr
    assert "does not validate; destroying what the state records anyway" in destroyed.stderr
    assert world.left_in_railway() == {}


def test_failed_railway_calls_are_one_line_with_the_next_step(world):
    world.init_stack("staging")
    world.admin("behaviour", {"service": "backend", "outcome": "CRASHED"})
    crashed = world.cli.run("up", "--yes", "--stack", "staging")
    output = crashed.stdout + crashed.stderr
    assert crashed.returncode != 0 and "Traceback" not in output
    assert "staging-backend-deployment):\n    error: deployment " in output
    assert "ended CRASHED. The previous deployment keeps serving." in output
    assert "To go back to the last good release, run `./mvs rollback staging`" in output

    world.admin("behaviour", {"service": "backend", "outcome": "SUCCESS"})
    world.cli.ok(
        "config", "set", "--path", "--stack", "staging", "mvs:environment.services.backend.env.LOG_LEVEL", "debug"
    )
    world.admin("faults", {"rules": [{"kind": "error", "status": 503, "operations": ["variableCollectionUpsert"]}]})
    unavailable = world.cli.run("up", "--yes", "--stack", "staging")
    output = unavailable.stdout + unavailable.stderr
    assert unavailable.returncode != 0 and "Traceback" not in output
    line = next(line for line in output.splitlines() if "Railway variableCollectionUpsert" in line)
    assert "(HTTP 503)" in line and "Next: Railway did not answer in time; run `./mvs up staging` again" in line


def test_variable_drift_is_named_by_key_even_when_the_collection_holds_secrets(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    scope = {"projectId": next(iter(world.state()["projects"])), "environmentId": world.environment_id("staging")}
    hand_made = "changed-By-Hand-Secret-9"
    world.dashboard(
        "mutation($i: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $i) }",
        {
            "i": {
                **scope,
                "serviceId": world.service_id("backend"),
                "variables": {"SESSION_SECRET": hand_made, "ADDED": "x"},
            }
        },
    )

    refreshed = world.cli.run("refresh", "--yes", "--skip-preview", "--stack", "staging")
    output = refreshed.stdout + refreshed.stderr
    assert refreshed.returncode == 0, output
    assert (
        "railway: variables of service backend changed outside this stack: ADDED added, SESSION_SECRET changed"
        in output
    )
    previewed = world.cli.run("preview", "--diff", "--stack", "staging")
    output += previewed.stdout + previewed.stderr
    assert "railway: variables of service backend to apply: SESSION_SECRET changed, ADDED removed" in output
    assert "[secret]" in previewed.stdout, "Pulumi itself shows the collection only as a secret"
    assert hand_made not in output and SECRETS["mvs:sessionSecret"] not in output


def test_without_a_token_the_hint_names_the_stack_and_reads_the_token_from_stdin(world):
    world.init_stack("staging")
    del world.cli.env["RAILWAY_API_TOKEN"]
    result = world.cli.run("preview", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "`./mvs secrets set staging railway:token` (it reads the value from stdin, or asks for it)" in output


def test_a_vanished_database_volume_is_said_and_postgres_redeployed_on_a_new_one(world):
    world.init_stack("staging")
    world.cli.ok("up", "--yes", "--stack", "staging")
    (lost,) = world.state()["volume_instances"].values()
    world.dashboard("mutation($v: String!) { volumeDelete(volumeId: $v) }", {"v": lost["volumeId"]})

    sent = len(world.requests())
    result = world.cli.run("up", "--yes", "--refresh", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert (
        "the database volume of stacks/Pulumi.staging.yaml (mounted at /var/lib/postgresql/data of service Postgres)"
        in output
    )
    assert "is gone from Railway (deleted outside this stack): the data on it is lost." in output
    assert "then restore the newest backup (README: Restoring in an incident)" in output
    (fresh,) = world.state()["volume_instances"].values()
    assert fresh["volumeId"] != lost["volumeId"] and fresh["serviceId"] == world.service_id("Postgres")
    deployed = [
        e for e in world.requests()[sent:] if e["operation"] == "serviceInstanceDeployV2" and e["status"] == 200
    ]
    postgres = world.service_id("Postgres")
    assert any(postgres in str(e.get("variables")) for e in deployed), "Postgres is redeployed on the new volume"
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")


def test_an_unreadable_sibling_stack_file_never_stops_another_stacks_preview(world):
    """One bad file never blocks every stack (issue 22, point 10): the program reads the other stack
    files for its cross-stack checks, and one it cannot decode is named and left out."""
    world.init_stack("staging")
    broken = world.cli.workdir / "stacks" / "Pulumi.broken.yaml"
    broken.write_bytes(b"config:\n  mvs:environment:\n    target: caf\xe9\n")
    result = world.cli.run("preview", "--stack", "staging")
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "left out stacks/Pulumi.broken.yaml cannot be read: found bytes that are not UTF-8" in said
    assert "Traceback" not in said
