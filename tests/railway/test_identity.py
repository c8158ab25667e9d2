"""Identity is the id, not the name (issue 8, point 9): what the dashboard renames is renamed back
in place, never replaced, so nothing that hangs off it (volume, domains, URL) goes."""

from __future__ import annotations

from components.railway.providers.domains import ServiceDomainProvider
from components.railway.providers.environment import EnvironmentProvider
from components.railway.providers.service import ServiceProvider

from .test_providers import configured, world  # noqa: F401  (world is a fixture)

RENAME_SERVICE = "mutation($s: String!, $n: String) { serviceUpdate(id: $s, input: {name: $n}) { id } }"
RENAME_ENVIRONMENT = "mutation($e: String!, $n: String!) { environmentRename(id: $e, input: {name: $n}) { id } }"


def test_a_service_renamed_in_the_dashboard_is_renamed_back_in_place(emulator, world):  # noqa: F811
    provider = configured(ServiceProvider, emulator)
    declared = {**world, "name": "backend"}
    state = provider.read(world["service_id"], declared).outs
    emulator.dashboard(RENAME_SERVICE, {"s": world["service_id"], "n": "backend-old"})

    drifted = provider.read(world["service_id"], state)
    assert drifted.id == world["service_id"] and drifted.outs["name"] == "backend-old"
    plan = provider.diff(world["service_id"], drifted.inputs, declared)
    assert plan.changes and not plan.replaces, "never a new service: the volume and domains hang off this one"

    updated = provider.update(world["service_id"], drifted.outs, declared)
    assert updated.outs["service_id"] == world["service_id"]
    assert emulator.state()["services"][world["service_id"]]["name"] == "backend"


def test_an_environment_renamed_in_the_dashboard_is_renamed_back_in_place(emulator, world):  # noqa: F811
    provider = configured(EnvironmentProvider, emulator)
    declared = {"project_id": world["project_id"], "name": "staging"}
    emulator.dashboard(RENAME_ENVIRONMENT, {"e": world["environment_id"], "n": "staging-2"})

    drifted = provider.read(world["environment_id"], declared)
    assert drifted.outs["name"] == "staging-2"
    plan = provider.diff(world["environment_id"], drifted.inputs, declared)
    assert plan.changes and not plan.replaces, "replacing an environment deletes everything in it"

    updated = provider.update(world["environment_id"], drifted.outs, declared)
    assert updated.outs == {**declared, "environment_id": world["environment_id"]}
    assert emulator.state()["environments"][world["environment_id"]]["name"] == "staging"


def test_a_new_port_keeps_the_services_url(emulator, world):  # noqa: F811
    provider = configured(ServiceDomainProvider, emulator)
    created = provider.create({**world, "target_port": 3000})
    plan = provider.diff(created.id, created.outs, {**world, "target_port": 8080})
    assert plan.changes and not plan.replaces

    updated = provider.update(created.id, created.outs, {**world, "target_port": 8080})
    assert updated.outs["domain"] == created.outs["domain"]
    read = provider.read(created.id, updated.outs)
    assert (read.outs["domain"], read.outs["target_port"]) == (created.outs["domain"], 8080)


def test_a_volume_replacement_is_said_in_words_and_an_update_is_not(capsys):
    from components.railway.providers.base import UNKNOWN
    from components.railway.providers.volume import VolumeProvider

    declared = {"file": "stacks/Pulumi.staging.yaml", "key": "mvs:environment.database.volume_size_gb", "unit_mb": 1000}
    olds = {
        "project_id": "p",
        "environment_id": "e",
        "service_id": "s",
        "mount_path": "/data",
        "size_mb": 5000,
        "declared_as": declared,
    }
    grown = VolumeProvider().diff("v", olds, {**olds, "size_mb": 6000})
    assert grown.changes and not grown.replaces
    assert capsys.readouterr().err == ""

    moved = VolumeProvider().diff("v", olds, {**olds, "project_id": UNKNOWN, "environment_id": UNKNOWN})
    assert moved.replaces == ["project_id", "environment_id"]
    said = capsys.readouterr().err
    assert "WARNING: the database volume of stacks/Pulumi.staging.yaml would be REPLACED" in said
    assert "deleted with all its data. Take a backup first" in said
