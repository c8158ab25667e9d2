"""How the suite shares the cores, and what the fast tier leaves out.

`./mvs test` runs pytest-xdist with `--dist loadgroup`: each xdist group runs whole on one worker.
`assign` (called from conftest.py's collection hook, before xdist reads the groups) gives every
test one:
- `docker-engine` for every test that uses the Docker engine: there is one daemon on the machine,
  and each worker's `engine` fixture clears the stacks' leftovers from it, so two workers on it at
  once would remove each other's containers;
- otherwise the test's module, so a module-scoped fixture (a stack brought up once, a set of
  monitoring servers) is made once, on one worker, and its tests never wait on another worker's.
Groups are sent to the workers in the order of the collection, so `assign` puts the costly ones
first (longest processing time first): the last group a worker picks up is then a short one, and
the workers finish close together.

Tests that need a real server process, the Docker engine or the Pulumi CLI are marked `slow`:
from the fixtures they use (SLOW_FIXTURES), their folder (SLOW_FOLDERS), or a mark of their own
(`@pytest.mark.slow`, or `pytestmark` for a whole module). `./mvs test --fast` runs the rest
(`-m "not slow"`).
"""

from __future__ import annotations

import pytest

ENGINE_GROUP = "docker-engine"
# tests/docker/conftest.py's `docker_host`, which its `engine` and `ci_bases` use: by this name, not
# by `engine`, which other modules use for stand-ins of their own.
ENGINE_FIXTURES = frozenset({"docker_host"})
# Fixtures that start a server process, build or install something, or run the Pulumi engine.
SLOW_FIXTURES = ENGINE_FIXTURES | {
    "pg_server",  # PostgreSQL 15 (initdb + pg_ctl)
    "own_postgres",
    "s3_endpoint",  # moto's S3 server
    "servers",  # Prometheus, Alertmanager, Pushgateway, postgres_exporter
    "backend_modules",  # npm ci, and then node processes
    "frontend_modules",
    "world",  # the real Pulumi CLI against the emulator
    "exporters",  # the edge-metrics exporter as a process
    "fresh_repo",  # tools/setup on a copy of the repository
}
SLOW_FOLDERS = (
    "tests/engine/",  # the real Pulumi CLI, every test
    "tests/docker/",  # the Docker engine
    "tests/setup/",  # tools/setup on a copy of the repository
)
# Relative cost of one test, to order the groups: a test with a slow fixture costs this many
# plain ones, and the engine's group goes first (it builds images and runs whole stacks).
SLOW_WEIGHT = 50


def is_slow(item: pytest.Item) -> bool:
    return (
        item.get_closest_marker("slow") is not None
        or not SLOW_FIXTURES.isdisjoint(item.fixturenames)
        or item.nodeid.startswith(SLOW_FOLDERS)
    )


def group_of(item: pytest.Item) -> str:
    if not ENGINE_FIXTURES.isdisjoint(item.fixturenames):
        return ENGINE_GROUP
    return item.nodeid.split("::", 1)[0]


def assign(items: list[pytest.Item]) -> None:
    """Mark each test `slow` or not and give it its xdist group; order the groups costly first
    (the engine's group first of all). The sort is stable: the order within a group is kept, and
    a module's tests, collected together, stay together."""
    groups: dict[int, str] = {}
    cost: dict[str, int] = {}
    for item in items:
        slow = is_slow(item)
        if slow and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group_of(item)))
        group = groups[id(item)] = group_name(item)
        cost[group] = cost.get(group, 0) + (SLOW_WEIGHT if slow else 1)
    if ENGINE_GROUP in cost:
        cost[ENGINE_GROUP] = max(cost.values()) + 1
    items.sort(key=lambda item: -cost[groups[id(item)]])


def group_name(item: pytest.Item) -> str:
    """The xdist group a test is in (as xdist reads the mark: its first argument or `name`)."""
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return ""
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
