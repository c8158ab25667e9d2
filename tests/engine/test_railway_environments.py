"""Environments end to end (issue 8, points 11 and 13), with the real `pulumi` CLI against the
emulator.

11. On prod, everything the database needs to start again is protected with it: after
    `destroy --exclude-protected` the Postgres service keeps its settings, its variables, its
    volume and its backup schedules, so Railway starts it on its data; everything else is gone, and
    the next `up` takes the rest back without touching the database.
13. staging and prod share one project, so a service is one Railway service with an instance per
    environment: a service removed from staging's declaration loses only staging's instance, comes
    back in staging when declared again, and an instance deleted in the dashboard is recreated by
    the next `up --refresh`; prod's instances are never written to.
"""

from __future__ import annotations

import json

from .world import SECRETS, SERVICES, writes

POSTGRES_VARIABLES = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA", "DATABASE_URL"}
DEPLOY = "mutation($s: String!, $e: String!) { serviceInstanceDeployV2(serviceId: $s, environmentId: $e) }"
DELETE_INSTANCE = "mutation($s: String!, $e: String) { serviceDelete(id: $s, environmentId: $e) }"
DATABASE_RESOURCES = {
    "prod-database",
    "prod-database-settings",
    "prod-database-variables",
    "prod-database-volume",
    "prod-database-deployment",
    "prod-database-backup-schedules",
}


def names_in(values) -> set:
    """Every string found in a request's logged variables (ids, mostly)."""
    if isinstance(values, dict):
        return set().union(*(names_in(v) for v in values.values())) if values else set()
    if isinstance(values, list):
        return set().union(*(names_in(v) for v in values)) if values else set()
    return {values} if isinstance(values, str) else set()


def test_prod_destroy_exclude_protected_leaves_a_database_that_starts_and_up_takes_it_back(world):
    world.init_stack("prod")
    world.cli.ok("up", "--yes", "--stack", "prod")
    before = world.state()
    environment_id, postgres_id = world.environment_id("prod"), world.service_id("Postgres")
    key = f"{environment_id}:{postgres_id}"
    assert len(before["volume_instances"]) == 1
    assert set(before["variables"][key]) == POSTGRES_VARIABLES

    refused = world.mvs("destroy", "prod", "--yes")
    said = refused.stdout + refused.stderr
    assert refused.returncode == 5, said
    assert said.strip().splitlines()[-1].endswith("./mvs destroy prod --exclude-protected"), said
    assert "unprotect" not in said and "Traceback" not in said, "never Pulumi's advice to unprotect prod's database"
    assert world.state() == before, "nothing was changed"

    result = world.cli.run("destroy", "--exclude-protected", "--yes", "--stack", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr

    # What remains on Railway is the database, whole: its settings, variables, volume, schedules.
    after = world.state()
    assert [s["name"] for s in after["services"].values()] == ["Postgres"], "everything else is destroyed"
    assert after["instances"][key] == before["instances"][key], "its settings (image, commands) stay"
    assert after["instances"][key]["source"] == {"image": "ghcr.io/railwayapp-templates/postgres-ssl:15.19"}
    assert after["variables"][key] == before["variables"][key], "its variables stay"
    assert after["variables"][key]["POSTGRES_PASSWORD"] == SECRETS["mvs:dbPassword"]
    assert after["volume_instances"] == before["volume_instances"], "its volume stays, mounted"
    assert after["backup_schedules"] == before["backup_schedules"], "Railway keeps backing it up"
    assert after["custom_domains"] == {} and after["service_domains"] == {}
    # ... and in the stack, the database's resources and what they need (project, environment).
    kept = {
        r["urn"].rsplit("::", 1)[-1] for r in world.cli.resources("prod") if r.get("custom") and "dynamic" in r["type"]
    }
    assert kept == DATABASE_RESOURCES | {"prod-project", "prod-environment"}

    # Railway starts it again on its data: a redeploy runs the same image, variables and volume.
    world.dashboard(DEPLOY, {"s": postgres_id, "e": environment_id})
    restarted = max(
        (d for d in world.state()["deployments"].values() if d["serviceId"] == postgres_id),
        key=lambda d: d["createdAt"],
    )
    assert restarted["_snapshot"]["variables"] == before["variables"][key]
    assert restarted["_snapshot"]["instance"]["source"] == before["instances"][key]["source"]
    (mounted,) = world.state()["volume_instances"].values()
    assert (mounted["serviceId"], mounted["mountPath"]) == (postgres_id, "/var/lib/postgresql/data")
    assert after["variables"][key]["PGDATA"].startswith(mounted["mountPath"] + "/")

    # up takes everything back: the database is adopted as it is, nothing is made twice.
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "prod")
    requests = world.requests()[sent:]
    assert "volumeCreate" not in writes(requests) and "volumeDelete" not in writes(requests)
    assert "serviceDelete" not in writes(requests)
    database_writes = [
        e for e in requests if e["operation"] in writes(requests) and postgres_id in names_in(e["variables"])
    ]
    assert database_writes == [], "the database is neither rewritten nor redeployed"
    final = world.state()
    assert sorted(s["name"] for s in final["services"].values()) == SERVICES, "no duplicates"
    assert world.service_id("Postgres") == postgres_id
    assert final["volume_instances"] == before["volume_instances"]
    assert {d["domain"] for d in final["custom_domains"].values()} == {"api.mvs.example", "mvs.example"}
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "prod")


def test_a_plain_destroy_of_prod_still_refuses_and_deletes_nothing_of_the_database(world):
    world.init_stack("prod")
    world.cli.ok("up", "--yes", "--stack", "prod")
    before = world.state()
    refused = world.cli.run("destroy", "--yes", "--stack", "prod")
    assert refused.returncode != 0 and "protect" in refused.stdout + refused.stderr
    after = world.state()
    key = f"{world.environment_id('prod')}:{world.service_id('Postgres')}"
    assert after["variables"][key] == before["variables"][key]
    assert after["volume_instances"] == before["volume_instances"]


def environment_part(state: dict, environment_id: str) -> dict:
    """Everything of one environment in the emulator's model."""
    part = {
        table: {k: v for k, v in rows.items() if k.startswith(f"{environment_id}:")}
        for table, rows in state.items()
        if table in ("instances", "variables")
    }
    for table in ("deployments", "volume_instances", "service_domains", "custom_domains"):
        part[table] = {k: v for k, v in state[table].items() if v["environmentId"] == environment_id}
    return part


def writes_to(world, since: int, environment_id: str) -> list[str]:
    """The writes since request number `since` that name the environment."""
    entries = world.requests()[since:]
    mutations = set(writes(entries))
    return [
        e["operation"] for e in entries if e["operation"] in mutations and environment_id in names_in(e["variables"])
    ]


def test_a_service_removed_from_staging_comes_back_while_prod_keeps_it(world):
    environments = world.share_a_project()
    staging, prod = environments["staging"], environments["prod"]
    frontend = world.service_id("frontend")
    prod_before = environment_part(world.state(), prod)
    stack_file = world.cli.workdir / "stacks" / "Pulumi.staging.yaml"
    declared = stack_file.read_text()

    # Removed from staging's declaration: staging's instance goes, the service stays for prod.
    for key in ("services.frontend", "release.images.frontend"):
        world.cli.ok("config", "rm", "--path", "--stack", "staging", f"mvs:environment.{key}")
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "staging")
    state = world.state()
    assert f"{staging}:{frontend}" not in state["instances"]
    assert f"{prod}:{frontend}" in state["instances"] and world.service_id("frontend") == frontend
    assert writes_to(world, sent, prod) == []
    assert environment_part(state, prod) == prod_before, "prod is untouched"

    # Declared again: it comes back in staging, configured and deployed; prod still untouched.
    stack_file.write_text(declared)
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", "staging")
    state = world.state()
    assert world.service_id("frontend") == frontend, "the same service, not a second one"
    assert sorted(s["name"] for s in state["services"].values()) == SERVICES
    instance = state["instances"][f"{staging}:{frontend}"]
    assert instance["source"] == {"image": "ghcr.io/mvs-app/frontend:2.0.0"}
    assert instance["healthcheckPath"] == "/health"
    assert state["variables"][f"{staging}:{frontend}"]["BACKEND_URL"] == "http://backend.railway.internal:3000"
    latest = max(
        (d for d in state["deployments"].values() if (d["serviceId"], d["environmentId"]) == (frontend, staging)),
        key=lambda d: d["createdAt"],
    )
    assert latest["status"] == "SUCCESS"
    assert writes_to(world, sent, prod) == []
    assert environment_part(state, prod) == prod_before, "prod is untouched"
    for stack in ("staging", "prod"):
        world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)


def test_an_instance_deleted_in_the_dashboard_is_recreated_in_its_environment_only(world):
    environments = world.share_a_project()
    staging, prod = environments["staging"], environments["prod"]
    backend = world.service_id("backend")
    prod_before = environment_part(world.state(), prod)

    world.dashboard(DELETE_INSTANCE, {"s": backend, "e": staging})
    assert f"{prod}:{backend}" in world.state()["instances"], "the service lives on in prod"
    sent = len(world.requests())
    result = world.cli.run("up", "--yes", "--refresh", "--stack", "staging")
    assert result.returncode == 0, result.stdout + result.stderr
    state = world.state()
    assert world.service_id("backend") == backend and sorted(s["name"] for s in state["services"].values()) == SERVICES
    instance = state["instances"][f"{staging}:{backend}"]
    assert instance["source"] == {"image": "ghcr.io/mvs-app/backend:2.0.0"} and instance["numReplicas"] == 1
    assert state["variables"][f"{staging}:{backend}"]["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
    assert writes_to(world, sent, prod) == []
    assert environment_part(state, prod) == prod_before, "prod is untouched"
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")

    # The other way round: prod's instance vanishes, prod's up brings it back, staging is untouched.
    staging_before = environment_part(state, staging)
    world.dashboard(DELETE_INSTANCE, {"s": backend, "e": prod})
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--refresh", "--stack", "prod")
    state = world.state()
    assert state["instances"][f"{prod}:{backend}"]["numReplicas"] == 2
    assert writes_to(world, sent, staging) == []
    assert environment_part(state, staging) == staging_before, "staging is untouched"
    for stack in ("staging", "prod"):
        world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)


def test_a_service_only_prod_declares_never_appears_in_staging(world):
    world.init_stack("staging")
    for key in ("services.frontend", "release.images.frontend"):
        world.cli.ok("config", "rm", "--path", "--stack", "staging", f"mvs:environment.{key}")
    world.cli.ok("up", "--yes", "--stack", "staging")
    project_id = json.loads(world.cli.ok("stack", "output", "--json", "--stack", "staging"))["project_id"]
    staging = world.environment_id("staging")
    staging_before = environment_part(world.state(), staging)

    # prod makes the frontend: Railway makes it in every environment, prod keeps it to itself.
    world.init_stack("prod")
    world.cli.ok("config", "set", "--path", "--stack", "prod", "mvs:environment.railway.project_id", project_id)
    world.cli.ok("up", "--yes", "--stack", "prod")
    state = world.state()
    frontend = world.service_id("frontend")
    assert {i["environmentId"] for i in state["instances"].values() if i["serviceId"] == frontend} == {
        world.environment_id("prod")
    }
    assert environment_part(state, staging) == staging_before, "staging is as it was"
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", "staging")
