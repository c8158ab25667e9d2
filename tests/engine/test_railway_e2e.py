"""staging and prod on Railway, end to end: the real `pulumi` CLI, this project's program and
providers, a file backend and a passphrase, against the Railway emulator on loopback.

Request counts come from the emulator's request log, so "exactly one deployment" means one
serviceInstanceDeployV2 actually reached the API.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from backup_runner.drills import last_drill, record_drill
from railway_emulator.server import DEFAULT_TOKEN

from .world import EU, SCALE, SECRETS, SERVICES, operations, writes

# What each default stack declares for the backend and the database volume.
EXPECTED = {
    "staging": {
        "replicas": 1,
        "max_retries": 5,
        "volume_mb": 10_000,
        "volume_schedules": ["DAILY", "WEEKLY"],
        "dump_schedule": "15 3 * * *",
    },
    "prod": {
        "replicas": 2,
        "max_retries": 3,
        "volume_mb": 50_000,
        "volume_schedules": ["DAILY", "MONTHLY", "WEEKLY"],
        "dump_schedule": "0 */6 * * *",
    },
}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_lifecycle_against_the_emulator(world, stack):
    expected = EXPECTED[stack]
    world.init_stack(stack)

    # 1. up from empty
    world.cli.ok("up", "--yes", "--stack", stack)
    state = world.state()
    assert sorted(s["name"] for s in state["services"].values()) == SERVICES
    assert [e["name"] for e in state["environments"].values()] == [stack]
    assert all(d["status"] == "SUCCESS" for d in state["deployments"].values())
    backend = state["instances"][f"{world.environment_id(stack)}:{world.service_id('backend')}"]
    assert backend["source"] == {"image": "ghcr.io/mvs-app/backend:2.0.0"}
    assert (backend["healthcheckPath"], backend["restartPolicyType"], backend["restartPolicyMaxRetries"]) == (
        "/health",
        "ON_FAILURE",
        expected["max_retries"],
    )
    assert backend["region"] == "europe-west4-drams3a" and backend["numReplicas"] == expected["replicas"]
    (volume,) = state["volume_instances"].values()
    assert (volume["serviceId"], volume["mountPath"]) == (world.service_id("Postgres"), "/var/lib/postgresql/data")
    assert volume["sizeMB"] == expected["volume_mb"], "volume_size_gb of the stack"
    outputs = json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))
    assert outputs["connection_string"] == "[secret]"
    schedules = state["backup_schedules"][volume["id"]]
    assert sorted(s["kind"] for s in schedules) == expected["volume_schedules"]
    assert [s["kind"] for s in outputs["backups"]["volume_schedules"]] == expected["volume_schedules"]
    assert outputs["backups"]["destination"] == f"s3://mvs-backups/{stack}"
    assert outputs["backups"]["last_drill_started_at"]
    assert outputs["backups"]["last_drill"]["status"] == "none yet"
    backup_job = state["instances"][f"{world.environment_id(stack)}:{world.service_id('backup')}"]
    assert backup_job["cronSchedule"] == expected["dump_schedule"] and backup_job["numReplicas"] == 1
    assert "backup_runner run && python -m backup_runner prune" in backup_job["startCommand"]
    job_variables = state["variables"][f"{world.environment_id(stack)}:{world.service_id('backup')}"]
    assert job_variables["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
    assert job_variables["AWS_SECRET_ACCESS_KEY"] == SECRETS["mvs:backupSecretKey"]
    assert sorted(outputs["urls"]) == ["backend", "frontend"]
    assert all(url.startswith("https://") and url.endswith(".up.railway.app") for url in outputs["urls"].values())
    shown = json.loads(world.cli.ok("stack", "output", "--json", "--show-secrets", "--stack", stack))
    assert (
        shown["connection_string"] == f"postgresql://mvs:{SECRETS['mvs:dbPassword']}@postgres.railway.internal:5432/mvs"
    )
    variables = state["variables"][f"{world.environment_id(stack)}:{world.service_id('backend')}"]
    assert variables["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}", "references stay unrendered"
    assert variables["SESSION_SECRET"] == SECRETS["mvs:sessionSecret"]
    exported = json.dumps(world.cli.export_state(stack))
    assert not [s for s in SECRETS.values() if s in exported], "secrets must be encrypted in state"
    assert DEFAULT_TOKEN not in exported, "the Railway token never reaches state"

    # 2. a no-op preview passes and sends nothing to Railway
    before = len(world.requests())
    world.cli.ok("preview", "--expect-no-changes", "--stack", stack)
    assert len(world.requests()) == before

    # 3. one variable changes: exactly that in the preview (and the release record of the new
    # deployment), one upsert and one deployment on up
    world.cli.ok("config", "set", "--path", "--stack", stack, "mvs:environment.services.backend.env.LOG_LEVEL", "debug")
    assert world.changes(stack) == [
        ("update", f"{stack}-backend-deployment"),
        ("update", f"{stack}-backend-variables"),
        ("update", f"{stack}-release"),
    ]
    before = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", stack)
    sent = operations(world.requests()[before:])
    assert sent["variableCollectionUpsert"] == 1 and sent["serviceInstanceDeployV2"] == 1
    assert sent["serviceInstanceUpdate"] == 0 and sent["variableDelete"] == 0

    # 4. a change in the dashboard: refresh shows it, up converges
    world.dashboard(
        "mutation($s: String!, $e: String!) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, "
        'input: {healthcheckPath: "/changed-by-hand", numReplicas: 3}) }',
        {"s": world.service_id("backend"), "e": world.environment_id(stack)},
    )
    before = len(world.requests())
    world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", stack)
    refresh_requests = len(world.requests()) - before
    railway_resources = [
        r for r in world.cli.resources(stack) if r["type"].startswith("pulumi-python:dynamic/railway:")
    ]
    assert refresh_requests <= len(railway_resources)
    settings = next(r for r in world.cli.resources(stack) if r["urn"].endswith(f"{stack}-backend-settings"))
    assert settings["outputs"]["healthcheck_path"] == "/changed-by-hand"
    assert ("update", f"{stack}-backend-settings") in world.changes(stack)
    world.cli.ok("up", "--yes", "--stack", stack)
    backend = world.state()["instances"][f"{world.environment_id(stack)}:{world.service_id('backend')}"]
    assert backend["healthcheckPath"] == "/health" and backend["numReplicas"] == expected["replicas"]
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)

    # Placement changed in the dashboard, once as a region and once as a multiRegionConfig: each
    # shows on refresh, in the instance's fields and in the config, and the next up undoes it.
    backend_key = f"{world.environment_id(stack)}:{world.service_id('backend')}"
    declared = {EU: {"numReplicas": expected["replicas"]}}
    for change in ({"region": "us-west2"}, {"multiRegionConfig": {**declared, "us-east4-eqdc4a": {"numReplicas": 1}}}):
        world.dashboard(SCALE, {"s": world.service_id("backend"), "e": world.environment_id(stack), "i": change})
        changed = world.state()["instances"][backend_key]
        world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", stack)
        settings = next(r for r in world.cli.resources(stack) if r["urn"].endswith(f"{stack}-backend-settings"))
        shown = {k: settings["outputs"][k] for k in ("region", "num_replicas", "multi_region_config")}
        assert shown == {
            "region": changed["region"],
            "num_replicas": changed["numReplicas"],
            "multi_region_config": changed["multiRegionConfig"],
        }
        assert shown["multi_region_config"] != declared
        assert ("update", f"{stack}-backend-settings") in world.changes(stack)
        world.cli.ok("up", "--yes", "--stack", stack)
        backend = world.state()["instances"][backend_key]
        assert (backend["region"], backend["numReplicas"], backend["multiRegionConfig"]) == (
            EU,
            expected["replicas"],
            declared,
        )
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)

    # A backup schedule switched off in the dashboard shows on refresh and comes back on up.
    world.dashboard(
        "mutation($v: String!) { volumeInstanceBackupScheduleUpdate(volumeInstanceId: $v, kinds: [DAILY]) }",
        {"v": volume["id"]},
    )
    world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", stack)
    assert ("update", f"{stack}-database-backup-schedules") in world.changes(stack)
    world.cli.ok("up", "--yes", "--stack", stack)
    restored = sorted(s["kind"] for s in world.state()["backup_schedules"][volume["id"]])
    assert restored == expected["volume_schedules"]

    # A drill ran: a refresh that runs the program shows when and how, and it is not drift.
    record_drill(world.bucket(stack), "20261127T030000Z", [], "passed")
    world.cli.ok("refresh", "--yes", "--skip-preview", "--run-program", "--stack", stack)
    drill = json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))["backups"]["last_drill"]
    assert (drill["status"], drill["backup_id"]) == ("passed", "20261127T030000Z")
    assert drill["finished_at"] == last_drill(world.bucket(stack))["finished_at"]
    world.cli.ok("preview", "--expect-no-changes", "--stack", stack)

    # A service deleted out of band is recreated on the next up.
    world.dashboard(
        "mutation($s: String!, $e: String) { serviceDelete(id: $s, environmentId: $e) }",
        {"s": world.service_id("frontend"), "e": world.environment_id(stack)},
    )
    world.cli.ok("up", "--yes", "--refresh", "--stack", stack)
    assert "frontend" in {s["name"] for s in world.state()["services"].values()}
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)

    # 5. destroy: staging leaves nothing behind; prod's protected database refuses
    if stack == "prod":
        refused = world.cli.run("destroy", "--yes", "--stack", stack)
        assert refused.returncode != 0 and "protect" in refused.stdout + refused.stderr
        assert world.state()["volume_instances"] and len(world.state()["services"]) == len(SERVICES)
        return
    world.cli.ok("destroy", "--yes", "--stack", stack)
    leftovers = {table: len(rows) for table, rows in world.left_in_railway().items()}
    assert leftovers == {}


def test_staging_and_prod_share_a_project_and_destroying_staging_keeps_prod(world):
    world.share_a_project()
    state = world.state()
    assert len(state["projects"]) == 1
    assert sorted(e["name"] for e in state["environments"].values()) == ["prod", "staging"]
    prod_backend = state["instances"][f"{world.environment_id('prod')}:{world.service_id('backend')}"]
    assert prod_backend["numReplicas"] == 2 and prod_backend["restartPolicyMaxRetries"] == 3
    prod_deployments = {
        d for d, v in state["deployments"].items() if v["environmentId"] == world.environment_id("prod")
    }
    prod_volumes = {
        v["id"] for v in state["volume_instances"].values() if v["environmentId"] == world.environment_id("prod")
    }
    assert len(prod_volumes) == 1
    assert {d["domain"] for d in state["custom_domains"].values()} == {"api.mvs.example", "mvs.example"}
    records = json.loads(world.cli.ok("stack", "output", "--json", "--stack", "prod"))["dns_records"]
    assert {r["type"] for r in records["api.mvs.example"]} == {"CNAME", "TXT"}

    world.cli.ok("destroy", "--yes", "--stack", "staging")
    state = world.state()
    assert [e["name"] for e in state["environments"].values()] == ["prod"]
    assert sorted(s["name"] for s in state["services"].values()) == SERVICES
    assert prod_deployments <= set(state["deployments"]), "prod's deployments are untouched"
    assert prod_volumes == {v["id"] for v in state["volume_instances"].values()}, "prod's volume is untouched"
    assert len(state["custom_domains"]) == 2
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "prod")

    refused = world.cli.run("destroy", "--yes", "--stack", "prod")
    assert refused.returncode != 0
    assert "protect" in refused.stdout + refused.stderr
    assert len(world.state()["services"]) == len(SERVICES), "nothing of prod's database was deleted"
    assert world.state()["volume_instances"], "prod's database volume survives"


def test_a_domain_another_stack_declares_stops_the_up_before_any_request(world):
    world.init_stack("staging")
    domain_key = "mvs:environment.services.frontend.custom_domains[0]"
    world.cli.ok("config", "set", "--path", "--stack", "staging", domain_key, "mvs.example")

    result = world.cli.run("up", "--yes", "--stack", "staging")

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "stacks/Pulumi.staging.yaml" in output
    assert (
        "mvs:environment.services.frontend.custom_domains[0]: found 'mvs.example', which "
        "stacks/Pulumi.prod.yaml also declares at services.frontend.custom_domains[0]" in output
    )
    assert "Traceback" not in output
    assert world.requests() == [], "nothing reached Railway"


def test_a_crashing_deployment_fails_the_up_with_its_status_and_a_rollback_hint(world):
    world.init_stack("staging")
    world.admin("behaviour", {"service": "backend", "outcome": "CRASHED"})
    result = world.cli.run("up", "--yes", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "of service backend ended CRASHED" in output
    assert "To go back to the last good release, run `./mvs rollback staging`" in output
    assert "to investigate, `./mvs logs staging backend` and `./mvs ps staging`" in output
    assert "<stack>" not in output, "every command in the message can be pasted as it is"
    failures = [line for line in output.splitlines() if "ended CRASHED." in line]  # Pulumi shows it twice
    assert failures and all("Its last log lines: " in line for line in failures), failures
    assert "Traceback" not in output
    assert "frontend" not in {
        world.state()["services"][d["serviceId"]]["name"] for d in world.state()["deployments"].values()
    }, "the frontend waits for a healthy backend"


def test_up_converges_through_injected_5xx_and_429_without_duplicates(world):
    world.init_stack("staging")
    world.admin(
        "faults",
        {
            "seed": 7,
            "rules": [
                {"kind": "error", "status": 503, "probability": 0.1},
                {"kind": "rate_limit", "probability": 0.1, "retry_after": 1},
                {"kind": "fail_after_commit", "operations": ["serviceCreate"], "count": 1},
            ],
        },
    )
    for _ in range(3):  # an up may stop on a fault that outlasts the retries; the next one continues
        if world.cli.run("up", "--yes", "--stack", "staging").returncode == 0:
            break
    world.admin("faults", {"rules": []})
    faults = Counter(e["fault"] for e in world.requests() if e["fault"])
    assert faults["error"] > 0 and faults["rate_limit"] > 0 and faults["fail_after_commit"] == 1
    names = [s["name"] for s in world.state()["services"].values()]
    assert sorted(names) == SERVICES, "no duplicate services"
    assert len(world.state()["projects"]) == 1 and len(world.state()["environments"]) == 1
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")


def test_no_token_stops_before_any_request(world):
    world.init_stack("staging")
    del world.cli.env["RAILWAY_API_TOKEN"]
    result = world.cli.run("preview", "--stack", "staging")
    assert result.returncode != 0
    assert "RAILWAY_API_TOKEN" in result.stdout + result.stderr
    assert world.requests() == []


def test_a_wrong_token_names_the_variable_to_fix(world):
    world.init_stack("staging")
    world.cli.env["RAILWAY_API_TOKEN"] = "not-a-real-token"
    result = world.cli.run("up", "--yes", "--stack", "staging")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Not Authorized: check RAILWAY_API_TOKEN" in output
    assert "not-a-real-token" not in output
    assert world.state()["projects"] == {}


VOLUME_SIZE = "mvs:environment.database.volume_size_gb"
RESIZE = "mutation($e: String!, $p: EnvironmentConfig) { environmentPatchCommit(environmentId: $e, patch: $p) }"


def test_prod_volume_grows_with_a_plain_up_and_never_shrinks(world):
    world.init_stack("prod")
    world.cli.ok("up", "--yes", "--stack", "prod")
    (volume,) = world.state()["volume_instances"].values()
    schedules = world.state()["backup_schedules"][volume["id"]]

    # Grown in the declaration: a plain preview plans exactly the volume's update (its protected
    # backup schedules stay: the volume's ids are known in preview), and up sends exactly the resize.
    world.cli.ok("config", "set", "--path", "--stack", "prod", VOLUME_SIZE, "60")
    assert world.changes("prod") == [("update", "prod-database-volume")]
    before = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "prod")
    assert writes(world.requests()[before:]) == ["environmentPatchCommit"]
    (grown,) = world.state()["volume_instances"].values()
    assert (grown["id"], grown["volumeId"], grown["sizeMB"]) == (volume["id"], volume["volumeId"], 60_000)
    assert world.state()["backup_schedules"][volume["id"]] == schedules
    world.cli.ok("preview", "--expect-no-changes", "--stack", "prod")

    # Shrunk in the declaration: preview and up stop before any write, saying what is allowed.
    world.cli.ok("config", "set", "--path", "--stack", "prod", VOLUME_SIZE, "40")
    before = len(world.requests())
    for command in (["preview"], ["up", "--yes"]):
        result = world.cli.run(*command, "--stack", "prod")
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert f"stacks/Pulumi.prod.yaml: {VOLUME_SIZE}: found 40; allowed: 60 or more" in output
        assert "Traceback" not in output
    assert writes(world.requests()[before:]) == []
    assert next(iter(world.state()["volume_instances"].values()))["sizeMB"] == 60_000

    # Grown in the dashboard beyond the declaration: refresh shows it, and the declaration
    # below it is refused in words until it is raised to the volume's size.
    world.cli.ok("config", "set", "--path", "--stack", "prod", VOLUME_SIZE, "60")
    world.dashboard(RESIZE, {"e": volume["environmentId"], "p": {"volumes": {volume["volumeId"]: {"sizeMB": 75_000}}}})
    world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", "prod")
    refreshed = next(r for r in world.cli.resources("prod") if r["urn"].endswith("prod-database-volume"))
    assert refreshed["outputs"]["size_mb"] == 75_000
    before = len(world.requests())
    result = world.cli.run("preview", "--stack", "prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output
    assert "found 60; allowed: 75 or more" in output and f"Set {VOLUME_SIZE} to at least 75." in output
    assert writes(world.requests()[before:]) == []
    world.cli.ok("config", "set", "--path", "--stack", "prod", VOLUME_SIZE, "75")
    world.cli.ok("preview", "--expect-no-changes", "--stack", "prod")

    # The same holds for every parent that updates in place: a project renamed in the declaration
    # is updated alone, and nothing that takes its id (the protected environment) looks replaced.
    world.cli.ok("config", "set", "--path", "--stack", "prod", "mvs:environment.railway.project_name", "mvs-renamed")
    assert world.changes("prod") == [("update", "prod-project")]
    before = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "prod")
    assert writes(world.requests()[before:]) == ["projectUpdate"]
    assert [p["name"] for p in world.state()["projects"].values()] == ["mvs-renamed"]
    world.cli.ok("preview", "--expect-no-changes", "--stack", "prod")
