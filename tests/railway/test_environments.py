"""Services per environment (issue 8, point 13), in the emulator and the Service provider.

A Railway service lives at project level with one instance per environment: serviceDelete with
an environment removes that environment's instance only; an environment patch with `isCreated`
gives the service an instance again (`isDeleted` removes it); a service left with no instance is
deleted. The provider adopts a service another environment still uses and adds its own instance,
and a service it creates appears only in its own environment.
"""

from __future__ import annotations

import pytest

from components.railway.providers.service import ServiceProvider

from .conftest import create_environment, create_project, create_service
from .test_providers import configured

PATCH = "mutation($e: String!, $p: EnvironmentConfig) { environmentPatchCommit(environmentId: $e, patch: $p) }"
DELETE = "mutation($s: String!, $e: String) { serviceDelete(id: $s, environmentId: $e) }"


@pytest.fixture
def shared(client):
    """One project, staging and prod, and a frontend service with an instance in each."""
    project = create_project(client)
    staging = create_environment(client, project.id, "staging")
    prod = create_environment(client, project.id, "prod")
    frontend = create_service(client, project.id, "frontend", environment_id=staging)
    return {"project": project.id, "staging": staging, "prod": prod, "frontend": frontend}


def instances_of(state: dict, service_id: str) -> set[str]:
    return {i["environmentId"] for i in state["instances"].values() if i["serviceId"] == service_id}


def test_deleting_one_environments_instance_keeps_the_others_and_the_last_one_deletes_the_service(
    emulator, client, shared
):
    before = set(instances_of(emulator.state(), shared["frontend"]))
    assert {shared["staging"], shared["prod"]} <= before
    assert emulator.dashboard(DELETE, {"s": shared["frontend"], "e": shared["staging"]})["errors"] == []
    state = emulator.state()
    assert instances_of(state, shared["frontend"]) == before - {shared["staging"]}
    assert shared["frontend"] in state["services"]

    for environment in before - {shared["staging"]}:
        emulator.dashboard(DELETE, {"s": shared["frontend"], "e": environment})
    assert shared["frontend"] not in emulator.state()["services"], "no instance left: the service is gone"


def test_an_environment_patch_adds_and_removes_one_environments_instance(emulator, client, shared):
    frontend, staging, prod = shared["frontend"], shared["staging"], shared["prod"]
    emulator.dashboard(DELETE, {"s": frontend, "e": staging})
    prod_instance = emulator.state()["instances"][f"{prod}:{frontend}"]

    patch = {"services": {frontend: {"isCreated": True, "source": {"image": "nginx:1"}, "deploy": {"numReplicas": 2}}}}
    client.execute("environmentPatchCommit", {"environmentId": staging, "patch": patch})
    state = emulator.state()
    added = state["instances"][f"{staging}:{frontend}"]
    assert (added["source"], added["numReplicas"]) == ({"image": "nginx:1"}, 2)
    assert state["instances"][f"{prod}:{frontend}"] == prod_instance, "prod's instance is untouched"
    client.execute("environmentPatchCommit", {"environmentId": staging, "patch": patch})
    assert emulator.state()["instances"][f"{staging}:{frontend}"]["id"] == added["id"], "committed twice, one"

    removal = {"services": {frontend: {"isDeleted": True}}}
    client.execute("environmentPatchCommit", {"environmentId": staging, "patch": removal})
    assert (
        instances_of(emulator.state(), frontend) >= {prod}
        and f"{staging}:{frontend}" not in (emulator.state()["instances"])
    )
    other = create_project(client, "other")
    result = emulator.dashboard(PATCH, {"e": other.production, "p": {"services": {frontend: {"isCreated": True}}}})
    assert result["errors"] == ["Service not found"], "a service of another project cannot join"


def test_the_provider_adopts_a_service_another_environment_uses_and_adds_its_instance(emulator, client, shared):
    frontend, staging, prod = shared["frontend"], shared["staging"], shared["prod"]
    emulator.dashboard(DELETE, {"s": frontend, "e": staging})
    prod_instance = emulator.state()["instances"][f"{prod}:{frontend}"]

    created = configured(ServiceProvider, emulator).create(
        {"project_id": shared["project"], "environment_id": staging, "name": "frontend"}
    )
    state = emulator.state()
    assert created.id == frontend, "adopted, not a second service"
    assert [s["name"] for s in state["services"].values()] == ["frontend"]
    assert f"{staging}:{frontend}" in state["instances"]
    assert state["instances"][f"{prod}:{frontend}"] == prod_instance


def test_a_service_the_provider_creates_appears_only_in_its_environment(emulator, client, shared):
    created = configured(ServiceProvider, emulator).create(
        {"project_id": shared["project"], "environment_id": shared["staging"], "name": "worker"}
    )
    assert instances_of(emulator.state(), created.id) == {shared["staging"]}

    # Instances another environment has started to use (a source, a deployment) are never removed.
    used = create_service(client, shared["project"], "api", image="nginx:1", environment_id=shared["prod"])
    scope = {"project_id": shared["project"], "environment_id": shared["staging"]}
    ServiceProvider._leave_others(client, used, scope, [shared["staging"], shared["prod"]])
    assert {shared["staging"], shared["prod"]} <= instances_of(emulator.state(), used)
