"""Refresh from one snapshot per environment (issue 13, point 1): the providers' read() calls share
one `environmentSnapshot` request per environment within one provider process, a write makes the
next read ask again, and the emulator answers the snapshot's `config(decryptVariables:)` as the
schema describes. The engine's part (a no-op refresh of prod) is in tests/engine/test_request_budget.py."""

from __future__ import annotations

import threading

import pytest

from components.errors import RailwayUnavailable
from components.railway.client import RetryPolicy
from components.railway.providers import base
from components.railway.providers.deployment import DeploymentProvider
from components.railway.providers.domains import ServiceDomainProvider
from components.railway.providers.environment import EnvironmentProvider
from components.railway.providers.instance import SETTINGS, ServiceInstanceProvider
from components.railway.providers.service import ServiceProvider
from components.railway.providers.variables import VariablesProvider
from components.railway.providers.volume import VolumeProvider
from components.railway.snapshot import SnapshotCache
from railway_emulator.requestlog import read_log

from .test_providers import configured
from .test_providers import world as world  # the fixture

SET_VARIABLES = "mutation($i: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $i) }"


@pytest.fixture
def one_run(monkeypatch) -> SnapshotCache:
    """What a provider process of one engine run has: one cache shared by every read."""
    cache = SnapshotCache()
    monkeypatch.setattr(base, "PROCESS_SNAPSHOTS", cache)
    return cache


def sent(emulator, since: int) -> list[str]:
    return [entry["operation"] for entry in read_log(emulator.log_path)[since:]]


def made(emulator, world) -> dict:
    """Every kind of resource the Railway stack reads, made through the providers."""
    scope = {k: world[k] for k in ("project_id", "environment_id", "service_id")}
    settings = {key: None for key in SETTINGS} | {
        "image": "ghcr.io/mvs/backend:1.0.0",
        "restart_policy_type": "ON_FAILURE",
        "restart_policy_max_retries": 3,
        "num_replicas": 1,
    }
    instance_props = {"service_id": world["service_id"], "environment_id": world["environment_id"], **settings}
    made = {
        "variables": (VariablesProvider, {**scope, "variables": {"A": "1", "REF": "${{Postgres.DATABASE_URL}}"}}),
        "instance": (ServiceInstanceProvider, {**instance_props, "multi_region_config": None}),
        "volume": (VolumeProvider, {**scope, "mount_path": "/data", "size_mb": 5000, "declared_as": None}),
        "domain": (ServiceDomainProvider, {**scope, "target_port": 8080}),
        "deployment": (
            DeploymentProvider,
            {"service_id": world["service_id"], "environment_id": world["environment_id"]}
            | {"service_name": "backend", "fingerprint": "x"},
        ),
    }
    results = {}
    for name, (provider_class, props) in made.items():
        created = configured(provider_class, emulator).create(props)
        results[name] = (provider_class, created.id, created.outs)
    results["service"] = (ServiceProvider, world["service_id"], {**scope, "name": "backend"})
    results["environment"] = (
        EnvironmentProvider,
        world["environment_id"],
        {"project_id": world["project_id"], "name": "staging"},
    )
    return results


def read_all(emulator, resources: dict) -> dict:
    return {
        name: configured(provider_class, emulator).read(id_, outs)
        for name, (provider_class, id_, outs) in resources.items()
    }


def test_every_read_in_one_run_is_served_by_one_request(emulator, world, one_run):
    resources = made(emulator, world)
    before = len(read_log(emulator.log_path))

    results = read_all(emulator, resources)

    assert sent(emulator, before) == ["environmentSnapshot"]
    assert all(result.id == resources[name][1] for name, result in results.items()), "everything is still there"
    assert results["variables"].outs["variables"] == {"A": "1", "REF": "${{Postgres.DATABASE_URL}}"}
    assert results["instance"].outs["image"] == "ghcr.io/mvs/backend:1.0.0"
    assert results["volume"].outs["size_mb"] == 5000
    assert results["deployment"].outs["status"] == "SUCCESS"
    assert results["domain"].outs["domain"] == resources["domain"][2]["domain"]
    assert results["service"].outs["name"] == "backend"


def test_without_a_shared_cache_each_read_asks_for_itself(emulator, world):
    resources = made(emulator, world)
    before = len(read_log(emulator.log_path))
    read_all(emulator, resources)
    assert sent(emulator, before) == ["environmentSnapshot"] * len(resources)


def test_concurrent_reads_wait_for_one_fetch(emulator, world, one_run):
    resources = made(emulator, world)
    emulator.faults({"kind": "latency", "latency_ms": 300, "operations": ["environmentSnapshot"]})
    before = len(read_log(emulator.log_path))
    results: dict = {}

    def read(name: str) -> None:
        provider_class, id_, outs = resources[name]
        results[name] = configured(provider_class, emulator).read(id_, outs)

    threads = [threading.Thread(target=read, args=(name,)) for name in resources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sent(emulator, before) == ["environmentSnapshot"]
    assert sorted(results) == sorted(resources) and all(r.id is not None for r in results.values())


def test_a_write_in_the_run_makes_the_next_read_see_it(emulator, world, one_run):
    provider = configured(VariablesProvider, emulator)
    scope = {k: world[k] for k in ("project_id", "environment_id", "service_id")}
    created = provider.create({**scope, "variables": {"A": "1"}})
    assert provider.read(created.id, created.outs).outs["variables"] == {"A": "1"}

    updated = provider.update(created.id, created.outs, {**created.outs, "variables": {"A": "2", "B": "3"}})
    before = len(read_log(emulator.log_path))
    again = provider.read(created.id, updated.outs)

    assert again.outs["variables"] == {"A": "2", "B": "3"}, "never the snapshot from before the write"
    assert sent(emulator, before) == ["environmentSnapshot"]


def test_within_one_run_without_writes_the_snapshot_is_kept(emulator, world, one_run):
    """One run reads each resource once, so a change made while it runs is seen by the next run:
    the cache lives as long as the provider process, never longer (the test's out-of-band change
    is seen after the cache is gone)."""
    provider = configured(VariablesProvider, emulator)
    scope = {k: world[k] for k in ("project_id", "environment_id", "service_id")}
    created = provider.create({**scope, "variables": {"A": "1"}})
    provider.read(created.id, created.outs)
    changed = {"projectId": world["project_id"], "environmentId": world["environment_id"]}
    emulator.dashboard(SET_VARIABLES, {"i": {**changed, "serviceId": world["service_id"], "variables": {"A": "9"}}})

    assert provider.read(created.id, created.outs).outs["variables"] == {"A": "1"}
    one_run.invalidate()
    assert provider.read(created.id, created.outs).outs["variables"] == {"A": "9"}


def test_a_gone_environment_reads_everything_in_it_as_gone_with_one_request(emulator, world, one_run):
    resources = made(emulator, world)
    emulator.dashboard("mutation($id: String!) { environmentDelete(id: $id) }", {"id": world["environment_id"]})
    before = len(read_log(emulator.log_path))

    results = read_all(emulator, resources)

    assert {name: result.id for name, result in results.items()} == dict.fromkeys(resources)
    assert sent(emulator, before) == ["environmentSnapshot"]


def test_a_failed_snapshot_is_not_kept(emulator, world, one_run):
    provider = configured(EnvironmentProvider, emulator)
    props = {"project_id": world["project_id"], "name": "staging"}
    attempts = RetryPolicy().max_attempts  # what one read tries before it gives up
    emulator.faults({"kind": "error", "status": 503, "operations": ["environmentSnapshot"], "count": attempts})
    with pytest.raises(RailwayUnavailable):
        provider.read(world["environment_id"], props)
    assert provider.read(world["environment_id"], props).id == world["environment_id"]


def test_the_emulator_gives_variable_values_only_when_asked_to_decrypt(emulator, world):
    scope = {"projectId": world["project_id"], "environmentId": world["environment_id"]}
    emulator.dashboard(SET_VARIABLES, {"i": {**scope, "serviceId": world["service_id"], "variables": {"K": "v"}}})
    query = "query($id: String!, $d: Boolean) { environment(id: $id) { config(decryptVariables: $d) } }"
    configs = {
        decrypt: emulator.post(query, {"id": world["environment_id"], "d": decrypt}).json()["data"]["environment"]
        for decrypt in (True, False)
    }
    service = world["service_id"]
    assert configs[True]["config"]["services"][service]["variables"] == {"K": {"value": "v"}}
    assert configs[False]["config"]["services"][service]["variables"] == {"K": {}}
