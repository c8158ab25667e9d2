"""Identity is the id, not the name, end to end (issue 8, point 9): services and the environment
renamed in the dashboard are renamed back by the next `up`, in place. Nothing is replaced or
deleted, so the database volume, the domains and the URLs stay; on prod, where the database is
protected, a plain preview and up work."""

from __future__ import annotations

import json

from .world import writes

RENAME_SERVICE = "mutation($s: String!, $n: String) { serviceUpdate(id: $s, input: {name: $n}) { id } }"
RENAME_ENVIRONMENT = "mutation($e: String!, $n: String!) { environmentRename(id: $e, input: {name: $n}) { id } }"
GONE = {"serviceDelete", "serviceCreate", "volumeDelete", "volumeCreate", "environmentDelete", "environmentCreate"}
GONE |= {"serviceDomainDelete", "serviceDomainCreate", "customDomainDelete", "customDomainCreate"}


def test_dashboard_renames_are_undone_in_place_and_nothing_is_replaced(world):
    stack = "prod"
    world.init_stack(stack)
    world.cli.ok("up", "--yes", "--stack", stack)
    before = world.state()
    postgres_id, backend_id = world.service_id("Postgres"), world.service_id("backend")
    environment_id = world.environment_id(stack)
    urls = json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))["urls"]

    world.dashboard(RENAME_SERVICE, {"s": postgres_id, "n": "db-renamed-by-hand"})
    world.dashboard(RENAME_SERVICE, {"s": backend_id, "n": "api"})
    world.dashboard(RENAME_ENVIRONMENT, {"e": environment_id, "n": "production"})
    world.cli.ok("refresh", "--yes", "--skip-preview", "--stack", stack)

    changes = world.changes(stack)
    assert ("update", f"{stack}-database") in changes and ("update", f"{stack}-backend") in changes
    assert ("update", f"{stack}-environment") in changes
    assert not [c for c in changes if c[0] not in ("update", "same")], f"only updates in place: {changes}"

    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", stack)  # plain: the protected database is not in the way
    assert not GONE & set(writes(world.requests()[sent:])), "nothing deleted or made again"
    after = world.state()
    assert after["services"][postgres_id]["name"] == "Postgres" and after["services"][backend_id]["name"] == "backend"
    assert after["environments"][environment_id]["name"] == stack
    assert after["volume_instances"] == before["volume_instances"], "the database volume is the same one"
    assert after["service_domains"].keys() == before["service_domains"].keys()
    assert json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))["urls"] == urls
    world.cli.ok("preview", "--refresh", "--expect-no-changes", "--stack", stack)


def test_a_new_port_keeps_the_public_url(world):
    stack = "staging"
    world.init_stack(stack)
    world.cli.ok("up", "--yes", "--stack", stack)
    urls = json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))["urls"]

    world.cli.ok("config", "set", "--path", "--stack", stack, "mvs:environment.services.backend.port", "8081")
    assert ("update", f"{stack}-backend-domain") in world.changes(stack)
    sent = len(world.requests())
    world.cli.ok("up", "--yes", "--stack", stack)
    assert "serviceDomainUpdate" in writes(world.requests()[sent:])
    assert not GONE & set(writes(world.requests()[sent:]))
    assert json.loads(world.cli.ok("stack", "output", "--json", "--stack", stack))["urls"] == urls
    (domain,) = [d for d in world.state()["service_domains"].values() if d["serviceId"] == world.service_id("backend")]
    assert domain["targetPort"] == 8081
