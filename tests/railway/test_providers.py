"""The dynamic providers called directly against the emulator (the engine's part is in
tests/engine): token handling, adoption after lost answers, drift, and the volume size rule."""

from __future__ import annotations

import pickle

import dill
import pytest
from pulumi.dynamic import ConfigureRequest

from components.railway.providers.base import UNKNOWN
from components.railway.providers.deployment import DeploymentFailed, DeploymentProvider
from components.railway.providers.environment import EnvironmentProvider
from components.railway.providers.instance import SETTINGS, ServiceInstanceProvider, placement
from components.railway.providers.project import ProjectProvider
from components.railway.providers.service import ServiceProvider
from components.railway.providers.variables import VariablesProvider
from components.railway.providers.volume import VolumeCannotShrink, VolumeProvider
from railway_emulator.requestlog import read_log

from .conftest import ACCOUNT_TOKEN


class StackConfig:
    """What the engine hands configure(): the whole stack config, secrets decrypted."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    def get(self, key: str):
        return self.values.get(key)


def configured(provider_class, emulator):
    provider = provider_class()
    config = {"railway:token": ACCOUNT_TOKEN, "railway:endpoint": emulator.url, "railway:pollSeconds": "0"}
    provider.configure(ConfigureRequest(StackConfig(config)))
    return provider


@pytest.fixture
def world(emulator):
    """A project with a staging environment and a backend service, made through the providers."""
    project = configured(ProjectProvider, emulator).create(
        {"adopt_id": None, "name": "mvs", "description": "", "first_environment": "staging"}
    )
    environment = configured(EnvironmentProvider, emulator).create({"project_id": project.id, "name": "staging"})
    service = configured(ServiceProvider, emulator).create(
        {"project_id": project.id, "environment_id": environment.id, "name": "backend"}
    )
    return {"project_id": project.id, "environment_id": environment.id, "service_id": service.id}


def test_the_token_is_never_pickled_into_state(emulator):
    provider = configured(ServiceProvider, emulator)
    for dumped in (dill.dumps(provider, recurse=True), pickle.dumps(provider)):
        assert ACCOUNT_TOKEN.encode() not in dumped
    assert configured(ServiceProvider, emulator).client() is not None


def test_without_a_token_the_environment_is_used_and_its_absence_is_named(emulator, monkeypatch):
    provider = ServiceProvider()
    provider.configure(ConfigureRequest(StackConfig({"railway:endpoint": emulator.url})))
    monkeypatch.delenv("RAILWAY_API_TOKEN", raising=False)
    monkeypatch.delenv("RAILWAY_TOKEN", raising=False)
    with pytest.raises(Exception, match="RAILWAY_API_TOKEN"):
        provider.client()
    monkeypatch.setenv("RAILWAY_API_TOKEN", ACCOUNT_TOKEN)
    assert provider.lookup("projects")["edges"] == []


def test_a_service_create_whose_answer_is_lost_adopts_instead_of_duplicating(emulator, world):
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceCreate"], "count": 1})
    created = configured(ServiceProvider, emulator).create({**world, "name": "frontend"})
    services = [s["name"] for s in emulator.state()["services"].values()]
    assert sorted(services) == ["backend", "frontend"]
    assert created.id == next(i for i, s in emulator.state()["services"].items() if s["name"] == "frontend")


def test_a_service_create_refused_before_it_made_anything_is_asked_again(emulator, world):
    """A 5xx on a create that made nothing (nothing to adopt): repeating it is safe, so one such
    fault costs a request, not the whole up."""
    emulator.faults({"kind": "error", "status": 503, "operations": ["serviceCreate"], "count": 1})
    before = len(read_log(emulator.log_path))
    created = configured(ServiceProvider, emulator).create({**world, "name": "frontend"})
    services = {i: s["name"] for i, s in emulator.state()["services"].items()}
    assert sorted(services.values()) == ["backend", "frontend"] and services[created.id] == "frontend"
    sent = [e["operation"] for e in read_log(emulator.log_path)[before:]]
    assert sent.count("serviceCreate") == 2


def test_a_deployment_whose_answer_is_lost_is_adopted_not_repeated(emulator, world):
    emulator.faults({"kind": "fail_after_commit", "operations": ["serviceInstanceDeployV2"], "count": 1})
    props = {**{k: world[k] for k in ("service_id", "environment_id")}, "service_name": "backend", "fingerprint": "x"}
    result = configured(DeploymentProvider, emulator).create(props)
    deployments = emulator.state()["deployments"]
    assert list(deployments) == [result.id] and result.outs["status"] == "SUCCESS"


def test_a_failed_health_check_fails_the_deployment_with_a_rollback_hint(emulator, world):
    emulator.behaviour("backend", "FAILED")
    props = {**{k: world[k] for k in ("service_id", "environment_id")}, "service_name": "backend", "fingerprint": "x"}
    with pytest.raises(DeploymentFailed, match=r"ended FAILED.*keeps serving.*\./mvs rollback <stack>"):
        configured(DeploymentProvider, emulator).create(props)


def test_variables_read_shows_drift_and_a_deleted_service_reads_as_gone(emulator, world):
    provider = configured(VariablesProvider, emulator)
    props = {**world, "variables": {"A": "1", "REF": "${{Postgres.DATABASE_URL}}"}}
    created = provider.create(props)
    emulator.dashboard(
        "mutation($i: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $i) }",
        {"i": {**{k[0:-3] + "Id": v for k, v in world.items()}, "variables": {"B": "added by hand"}}},
    )
    drifted = provider.read(created.id, created.outs)
    assert drifted.outs["variables"] == {"A": "1", "REF": "${{Postgres.DATABASE_URL}}", "B": "added by hand"}
    assert provider.diff(created.id, drifted.outs, props).changes is True

    emulator.dashboard("mutation($s: String!) { serviceDelete(id: $s) }", {"s": world["service_id"]})
    gone = configured(ServiceProvider, emulator).read(world["service_id"], {**world, "name": "backend"})
    assert gone.id is None


def test_diff_replaces_only_what_railway_cannot_update(emulator):
    provider = ServiceProvider()
    olds = {"project_id": "p", "environment_id": "e", "name": "backend"}
    assert provider.diff("id", olds, dict(olds)).changes is False
    renamed = provider.diff("id", olds, {**olds, "name": "api"})
    assert renamed.changes and renamed.replaces == [], "a name is renamed in place (see test_identity.py)"
    moved = provider.diff("id", olds, {**olds, "environment_id": "other"})
    assert moved.replaces == ["environment_id"]
    unknown = VariablesProvider().diff("id", {"variables": {"A": "1"}}, {"variables": UNKNOWN})
    assert unknown.changes and unknown.replaces == []


def test_a_volume_grows_but_never_shrinks(emulator, world):
    provider = configured(VolumeProvider, emulator)
    props = {**world, "mount_path": "/var/lib/postgresql/data", "size_mb": 8000}
    created = provider.create(props)
    assert created.outs["size_mb"] == 8000
    (instance,) = emulator.state()["volume_instances"].values()
    assert instance["sizeMB"] == 8000 and instance["mountPath"] == "/var/lib/postgresql/data"
    grown = provider.update(created.id, created.outs, {**props, "size_mb": 12000})
    assert grown.outs["size_mb"] == 12000
    with pytest.raises(VolumeCannotShrink, match=r"found 4000; allowed: 12000 or more.*never shrink"):
        provider.update(created.id, grown.outs, {**props, "size_mb": 4000})
    assert next(iter(emulator.state()["volume_instances"].values()))["sizeMB"] == 12000


DATABASE_SIZE = {"file": "stacks/Pulumi.prod.yaml", "key": "mvs:environment.database.volume_size_gb", "unit_mb": 1000}
GROW = "mutation($e: String!, $p: EnvironmentConfig) { environmentPatchCommit(environmentId: $e, patch: $p) }"


def test_a_volume_resize_is_checked_before_any_write_against_its_size_on_railway(emulator, world):
    """check() runs in preview: a grow carries the volume's ids (what the engine shows as its
    outputs while it previews the update), a shrink below the size on Railway is refused in the
    declaration's terms, with reads only."""
    provider = configured(VolumeProvider, emulator)
    props = {**world, "mount_path": "/var/lib/postgresql/data", "size_mb": 50_000, "declared_as": DATABASE_SIZE}
    stored = provider.check({}, props).inputs  # a create: nothing to look up
    created = provider.create(stored)
    (instance,) = emulator.state()["volume_instances"].values()

    requests = len(read_log(emulator.log_path))
    unchanged = provider.check(stored, dict(props))
    assert (unchanged.inputs, unchanged.failures) == (props, [])
    assert len(read_log(emulator.log_path)) == requests, "an unchanged volume costs no request"

    grow = provider.check(stored, {**props, "size_mb": 60_000})
    assert grow.failures == []
    assert (grow.inputs["volume_id"], grow.inputs["volume_instance_id"]) == (created.id, instance["id"])

    shrink = provider.check(stored, {**props, "size_mb": 40_000})
    (failure,) = shrink.failures
    assert failure.property == "size_mb"
    assert failure.reason.startswith(
        "stacks/Pulumi.prod.yaml: mvs:environment.database.volume_size_gb: found 40; allowed: 50 or more."
    )

    # Grown in the dashboard beyond the declaration: the next resize must reach that size.
    emulator.dashboard(GROW, {"e": world["environment_id"], "p": {"volumes": {created.id: {"sizeMB": 75_500}}}})
    (failure,) = provider.check(stored, {**props, "size_mb": 60_000}).failures
    assert "found 60; allowed: 76 or more" in failure.reason
    assert "Set mvs:environment.database.volume_size_gb to at least 76." in failure.reason
    assert provider.check(stored, {**props, "size_mb": 76_000}).failures == []
    sent = [e["operation"] for e in read_log(emulator.log_path)[requests:]]
    assert set(sent) == {"environmentVolumes"}, "check() only reads"
    assert next(iter(emulator.state()["volume_instances"].values()))["sizeMB"] == 75_500


def test_the_simulated_health_check_fails_a_deployment_at_a_path_the_image_does_not_serve(emulator, world):
    emulator.admin("behaviour", {"service": "backend", "healthy_paths": ["/health"]})
    scope = {k: world[k] for k in ("service_id", "environment_id")}
    instance_input = {"serviceId": scope["service_id"], "environmentId": scope["environment_id"]}
    props = {**scope, "service_name": "backend", "fingerprint": "x"}

    emulator.dashboard(
        "mutation($s: String!, $e: String) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, "
        'input: {healthcheckPath: "/health"}) }',
        {"s": instance_input["serviceId"], "e": instance_input["environmentId"]},
    )
    assert configured(DeploymentProvider, emulator).create(props).outs["status"] == "SUCCESS"

    emulator.dashboard(
        "mutation($s: String!, $e: String) { serviceInstanceUpdate(serviceId: $s, environmentId: $e, "
        'input: {healthcheckPath: "/healthz"}) }',
        {"s": instance_input["serviceId"], "e": instance_input["environmentId"]},
    )
    with pytest.raises(DeploymentFailed, match="ended FAILED"):
        configured(DeploymentProvider, emulator).create(props)
    failed = [d for d in emulator.state()["deployments"].values() if d["status"] == "FAILED"]
    assert failed[0]["meta"]["reason"] == "Healthcheck failed at path /healthz"


def test_a_volume_made_by_an_unrecorded_earlier_run_is_adopted(emulator, world):
    props = {**world, "mount_path": "/var/lib/postgresql/data", "size_mb": 5000}
    first = configured(VolumeProvider, emulator).create(props)  # its state was lost, say
    emulator.faults({"kind": "fail_after_commit", "operations": ["volumeCreate"], "count": 1})
    again = configured(VolumeProvider, emulator).create(props)
    assert again.id == first.id
    assert len(emulator.state()["volumes"]) == 1, "no second volume"


def settings_props(world: dict, region: str | None, replicas: int) -> dict:
    """What ServiceInstance hands its provider for a service declared in `region` with `replicas`."""
    settings = {**dict.fromkeys(SETTINGS), "image": "ghcr.io/mvs-app/backend:2.0.0", "region": region}
    settings.update(num_replicas=replicas, restart_policy_type="ON_FAILURE", restart_policy_max_retries=10)
    scope = {k: world[k] for k in ("service_id", "environment_id")}
    return {**scope, **settings, "multi_region_config": placement(region, replicas)}


def dashboard_scale(emulator, world: dict, change: dict) -> None:
    result = emulator.dashboard(
        "mutation($s: String!, $e: String, $i: ServiceInstanceUpdateInput!) { "
        "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $i) }",
        {"s": world["service_id"], "e": world["environment_id"], "i": change},
    )
    assert result["errors"] == []


def test_a_region_changed_in_the_dashboard_reads_as_drift_of_region_and_placement(emulator, world):
    provider = configured(ServiceInstanceProvider, emulator)
    props = settings_props(world, "europe-west4-drams3a", 2)
    created = provider.create(props)

    dashboard_scale(emulator, world, {"region": "us-west2"})
    drifted = provider.read(created.id, created.outs)

    assert (drifted.outs["region"], drifted.outs["num_replicas"]) == ("us-west2", 2)
    assert drifted.outs["multi_region_config"] == {"us-west2": {"numReplicas": 2}}
    assert provider.diff(created.id, drifted.outs, props).changes is True
    provider.update(created.id, drifted.outs, props)
    assert provider.read(created.id, created.outs).inputs == {k: props[k] for k in provider.inputs if k != "applied_at"}


def test_a_second_region_added_in_the_dashboard_reads_as_drift_though_region_and_total_stay(emulator, world):
    provider = configured(ServiceInstanceProvider, emulator)
    props = settings_props(world, "europe-west4-drams3a", 2)
    created = provider.create(props)

    split = {"europe-west4-drams3a": {"numReplicas": 1}, "us-west2": {"numReplicas": 1}}
    dashboard_scale(emulator, world, {"multiRegionConfig": split})
    drifted = provider.read(created.id, created.outs)

    assert (drifted.outs["region"], drifted.outs["num_replicas"]) == ("europe-west4-drams3a", 2)
    assert drifted.outs["multi_region_config"] == split
    diff = provider.diff(created.id, drifted.outs, props)
    assert diff.changes is True and diff.replaces == []


def test_placement_is_untracked_where_no_region_is_declared_and_in_older_state(emulator, world):
    provider = configured(ServiceInstanceProvider, emulator)
    props = settings_props(world, None, 1)
    created = provider.create(props)
    assert provider.read(created.id, created.outs).outs["multi_region_config"] is None

    declared = settings_props(world, "europe-west4-drams3a", 1)
    older_state = {k: v for k, v in declared.items() if k != "multi_region_config"}
    assert provider.diff(created.id, older_state, declared).changes is False
