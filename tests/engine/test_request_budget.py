"""Railway's request budget with the real `pulumi` CLI against the emulator (issue 13): an up
from empty of prod sends at most 30 requests, a no-op refresh reads each environment once (at
most 3 requests for 28 resources), the same few requests still see every kind of change made in
the dashboard, and a one-variable change costs its write, its deploy and one status read. Counts
come from the emulator's request log and are asserted as upper bounds. One `up` serves the module;
deployments there take a second by the emulator's clock (its time-based lifecycle), as real ones
take time rather than reads, and the providers poll at their default interval, as against Railway."""

from __future__ import annotations

import json

import pytest

from .world import operations, world_up, writes

STACK = "prod"
UP_BUDGET = 30
REFRESH_BUDGET = 3
CHANGE_BUDGET = 3
DEPLOY_SECONDS = 1.0
POLL_SECONDS = 2.0  # the providers' default (components/railway/providers/base.py)
LOG_LEVEL = "mvs:environment.services.backend.env.LOG_LEVEL"
RENAME_SERVICE = "mutation($s: String!, $n: String) { serviceUpdate(id: $s, input: {name: $n}) { id } }"
SCALE = (
    "mutation($s: String!, $e: String!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: {numReplicas: 4}) }"
)
SET_VARIABLES = "mutation($i: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $i) }"
DELETE_DOMAIN = "mutation($id: String!) { serviceDomainDelete(id: $id) }"
SCHEDULES = "mutation($v: String!) { volumeInstanceBackupScheduleUpdate(volumeInstanceId: $v, kinds: [DAILY]) }"


@pytest.fixture(scope="module")
def world(tmp_path_factory, s3_endpoint):
    with world_up(
        tmp_path_factory, s3_endpoint, "budget", STACK, deploy_seconds=DEPLOY_SECONDS, poll_seconds=POLL_SECONDS
    ) as world:
        world.up_from_empty = world.requests()  # what the fixture's first `up` sent
        yield world


def test_up_from_empty_does_not_read_back_what_it_creates(world):
    """A service Railway has just made exists in every environment of the project: nothing asks
    whether this one has it, and the project's environments come from the read that looked for the
    service before creating it (issue 13, point 2)."""
    sent = operations(world.up_from_empty)
    assert sent["serviceCreate"] == 5
    assert sent["serviceInstance"] == 0, sent
    assert sent["environments"] <= 1, "the environment's own lookup only"


def test_up_from_empty_stays_within_its_budget_and_writes_each_service_s_variables_once(world):
    """Each service's create carries its variables, so no `variableCollectionUpsert` follows, and
    Railway holds exactly what each Variables resource declares."""
    sent = operations(world.up_from_empty)
    assert len(world.up_from_empty) <= UP_BUDGET, sent
    assert sent["variableCollectionUpsert"] == 0, sent
    assert sent["serviceCreate"] == 5

    exported = json.loads(world.cli.ok("stack", "export", "--show-secrets", "--stack", STACK))
    held = world.state()["variables"]
    declared = [r["outputs"] for r in exported["deployment"]["resources"] if r["type"].endswith("railway:Variables")]
    assert len(declared) == 5
    for outputs in declared:
        variables = outputs["variables"]
        if "plaintext" in variables:  # a collection holding a secret
            variables = json.loads(variables["plaintext"])
        assert variables, outputs["service_name"]
        assert held[f"{outputs['environment_id']}:{outputs['service_id']}"] == variables, outputs["service_name"]


def refresh(world) -> list[dict]:
    sent = len(world.requests())
    world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", STACK)
    return world.requests()[sent:]


def test_a_no_op_refresh_of_prod_reads_each_environment_once(world):
    resources = [r for r in world.cli.resources(STACK) if r["type"].startswith("pulumi-python:dynamic/railway:")]
    assert len(resources) >= 25, "prod has its whole Railway stack"

    entries = refresh(world)

    assert len(entries) <= REFRESH_BUDGET, operations(entries)
    assert operations(entries)["environmentSnapshot"] == 1
    assert writes(entries) == []


def test_every_kind_of_dashboard_change_is_seen_within_the_same_budget(world):
    state = world.state()
    environment_id = world.environment_id(STACK)
    project_id = json.loads(world.cli.ok("stack", "output", "--json", "--stack", STACK))["project_id"]
    backend = world.service_id("backend")
    world.dashboard(RENAME_SERVICE, {"s": world.service_id("frontend"), "n": "web"})
    world.dashboard(SCALE, {"s": backend, "e": environment_id})
    scope = {"projectId": project_id, "environmentId": environment_id, "serviceId": backend}
    world.dashboard(SET_VARIABLES, {"i": {**scope, "variables": {"ADDED_BY_HAND": "1"}, "skipDeploys": True}})
    domain = next(d for d in state["service_domains"].values() if d["serviceId"] == backend)
    world.dashboard(DELETE_DOMAIN, {"id": domain["id"]})
    volume_instance = next(iter(state["volume_instances"].values()))
    world.dashboard(SCHEDULES, {"v": volume_instance["id"]})

    entries = refresh(world)
    assert len(entries) <= REFRESH_BUDGET, operations(entries)

    exported = json.loads(world.cli.ok("stack", "export", "--show-secrets", "--stack", STACK))
    after = {r["urn"].rsplit("::", 1)[-1]: r for r in exported["deployment"]["resources"]}
    assert after[f"{STACK}-frontend"]["outputs"]["name"] == "web"
    assert after[f"{STACK}-backend-settings"]["outputs"]["num_replicas"] == 4
    variables = after[f"{STACK}-backend-variables"]["outputs"]["variables"]  # a secret: {plaintext: JSON}
    assert "ADDED_BY_HAND" in json.loads(variables["plaintext"])
    assert f"{STACK}-backend-domain" not in after, "a domain deleted in the dashboard is gone from the state"
    assert after[f"{STACK}-database-backup-schedules"]["outputs"]["kinds"] == ["DAILY"]

    world.cli.ok("up", "--yes", "--stack", STACK)  # and the next up puts it all back
    world.cli.ok("preview", "--expect-no-changes", "--stack", STACK)


def test_a_one_variable_change_is_its_write_its_deploy_and_one_status_read(world):
    """Nothing is read before the deploy (a lost answer is bounded by Railway's clock instead), and
    the status is first read when the service's last deployment says it should be done."""
    world.cli.ok("config", "set", "--path", "--stack", STACK, LOG_LEVEL, "info")
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", STACK)
    entries = world.requests()[sent:]

    assert len(entries) <= CHANGE_BUDGET, operations(entries)
    assert operations(entries)["variableCollectionUpsert"] == 1
    assert operations(entries)["serviceInstanceDeployV2"] == 1
    assert writes(entries) == ["variableCollectionUpsert", "serviceInstanceDeployV2"]
    backend = world.service_id("backend")
    latest = max(
        (d for d in world.state()["deployments"].values() if d["serviceId"] == backend), key=lambda d: d["createdAt"]
    )
    assert latest["status"] == "SUCCESS" and latest["_snapshot"]["variables"]["LOG_LEVEL"] == "info"


def test_up_from_empty_waits_on_deployments_together(world):
    """Every deployment status is read through the environment's shared watch (one request a round
    for all those running), never one deployment at a time."""
    sent = operations(world.up_from_empty)
    assert sent["deployment"] == 0, sent
    rounds = [e for e in world.up_from_empty if e["operation"] == "deploymentStatuses"]
    assert rounds, sent
    # backend and the two backup jobs deploy together once Postgres is up: one request reads all.
    assert max(len(e["variables"]) for e in rounds) >= 3, [e["variables"] for e in rounds]


RESHAPE = (
    "mutation($s: String!, $e: String!, $i: ServiceInstanceUpdateInput!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $i) }"
)
RENAME_DOMAIN = "mutation($i: ServiceDomainUpdateInput!) { serviceDomainUpdate(input: $i) }"
RENAME_ENVIRONMENT = "mutation($e: String!, $n: String!) { environmentRename(id: $e, input: {name: $n}) { id } }"


def declared_parts(state: dict, environment_id: str) -> dict:
    """What the stack declares, as Railway holds it (ids aside)."""
    instances = {
        key: {k: v for k, v in instance.items() if k in ("region", "numReplicas", "restartPolicyType", "source")}
        for key, instance in state["instances"].items()
        if key.startswith(environment_id)
    }
    return {
        "environment": state["environments"][environment_id]["name"],
        "services": sorted(s["name"] for s in state["services"].values()),
        "instances": instances,
        "variables": {key: value for key, value in state["variables"].items() if key.startswith(environment_id)},
        "domains": sorted((d["serviceId"], d["domain"]) for d in state["service_domains"].values()),
        "schedules": {volume: sorted(s["kind"] for s in kinds) for volume, kinds in state["backup_schedules"].items()},
    }


def test_a_plain_mvs_up_brings_back_every_dashboard_change_and_a_renamed_domain_shows_as_drift(world):
    environment_id = world.environment_id(STACK)
    before = world.state()
    declared = declared_parts(before, environment_id)
    project_id = json.loads(world.cli.ok("stack", "output", "--json", "--stack", STACK))["project_id"]
    backend, frontend = world.service_id("backend"), world.service_id("frontend")
    frontend_domain = next(d for d in before["service_domains"].values() if d["serviceId"] == frontend)
    backend_domain = next(d for d in before["service_domains"].values() if d["serviceId"] == backend)
    renamed = f"renamed-by-hand.{frontend_domain['suffix']}"
    world.dashboard(RENAME_ENVIRONMENT, {"e": environment_id, "n": "production-by-hand"})
    world.dashboard(RENAME_SERVICE, {"s": frontend, "n": "web"})
    change = {"numReplicas": 4, "region": "us-west2", "restartPolicyType": "ALWAYS"}
    world.dashboard(RESHAPE, {"s": backend, "e": environment_id, "i": change})
    scope = {"projectId": project_id, "environmentId": environment_id, "serviceId": backend}
    world.dashboard(SET_VARIABLES, {"i": {**scope, "variables": {"ADDED_BY_HAND": "1"}, "skipDeploys": True}})
    domain_change = {"serviceDomainId": frontend_domain["id"], "domain": renamed, "serviceId": frontend}
    world.dashboard(RENAME_DOMAIN, {"i": {**domain_change, "environmentId": environment_id}})
    world.dashboard(DELETE_DOMAIN, {"id": backend_domain["id"]})
    world.dashboard(SCHEDULES, {"v": next(iter(before["volume_instances"].values()))["id"]})
    assert declared_parts(world.state(), environment_id) != declared

    drift = world.mvs("drift", STACK)
    assert drift.returncode == 2, drift.stdout + drift.stderr
    assert renamed in drift.stdout and frontend_domain["domain"] in drift.stdout, "the renamed domain is drift"

    sent = len(world.requests())
    result = world.mvs("up", STACK, "--yes")  # no --refresh: ./mvs up reads first by itself
    assert result.returncode == 0, result.stdout + result.stderr
    entries = world.requests()[sent:]

    after = declared_parts(world.state(), environment_id)
    for part in ("environment", "services", "instances", "variables", "schedules"):
        assert after[part] == declared[part], part
    assert (frontend, frontend_domain["domain"]) in after["domains"], "the generated name is the stack's again"
    assert any(service == backend for service, _ in after["domains"]), "the deleted domain is back"
    urls = json.loads(world.cli.ok("stack", "output", "--json", "--stack", STACK))["urls"]
    live = {d["domain"] for d in world.state()["service_domains"].values()}
    assert {url.removeprefix("https://").split("/")[0] for url in urls.values() if ".up.railway.app" in url} <= live
    counted = operations(entries)
    assert counted["environmentSnapshot"] <= 2, counted  # the refresh's read, and one after the writes
    assert sorted(writes(entries)) == sorted(
        [
            "environmentRename",
            "serviceUpdate",
            "serviceInstanceUpdate",
            "variableDelete",
            "serviceDomainUpdate",
            "serviceDomainCreate",
            "volumeInstanceBackupScheduleUpdate",
            "serviceInstanceDeployV2",
        ]
    ), "each change undone by one write, and one deploy of the service whose settings changed"
    world.cli.ok("preview", "--expect-no-changes", "--stack", STACK)


def test_a_plain_mvs_up_of_a_stack_in_line_stays_within_the_refresh_budget(world):
    world.cli.ok("up", "--yes", "--refresh", "--stack", STACK)  # in line first, whatever ran before
    sent = len(world.requests())
    result = world.mvs("up", STACK, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    entries = world.requests()[sent:]
    assert len(entries) <= REFRESH_BUDGET, operations(entries)
    assert writes(entries) == []
