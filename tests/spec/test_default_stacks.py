"""The default stacks are valid and say what the project promises about each environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.spec import EnvironmentSpec, Sibling, image_problem, parse_environment
from components.spec.images import tag_major
from components.spec.siblings import shares_project
from components.stack_config import load_stack_file

from .conftest import DEFAULT_STACKS, REPO_ROOT, Stack, stack_file

EXPECTED_TARGET = {"dev": "local", "staging": "railway", "prod": "railway"}


def parse(stack: Stack) -> EnvironmentSpec:
    return parse_environment(stack.raw, stack.file)


def test_every_default_stack_parses(default_stack: Stack) -> None:
    spec = parse(default_stack)

    assert isinstance(spec, EnvironmentSpec)
    assert set(spec.services) == {"backend", "frontend"}


@pytest.mark.parametrize("name", DEFAULT_STACKS)
def test_target(load_stack: Callable[[str], Stack], name: str) -> None:
    assert parse(load_stack(name)).target == EXPECTED_TARGET[name]


def test_runs_postgres_15(default_stack: Stack) -> None:
    database = parse(default_stack).database

    assert database.engine == "postgres"
    assert database.version == 15
    if database.image is not None:
        assert tag_major(database.image) == 15


def test_every_stack_names_a_postgres_image_of_its_major(default_stack: Stack) -> None:
    """Railway's own default image is a moving major tag, which the policy pack refuses: every
    default stack names one minor."""
    spec = parse(default_stack)

    assert spec.database.image is not None and tag_major(spec.database.image) == spec.database.version
    assert (spec.target == "railway") == spec.database.image.startswith("ghcr.io/railwayapp-templates/postgres-ssl:")


def test_backend_health_check_and_node_start(default_stack: Stack) -> None:
    backend = parse(default_stack).services["backend"]

    assert backend.health_check.path == "/health"
    assert backend.health_check.probe == "node"
    assert backend.start_command is not None
    assert backend.start_command.split()[0] == "node"
    assert backend.database_url_env == "DATABASE_URL"
    assert "database" in backend.depends_on


def test_prod_is_replicated_and_protected(load_stack: Callable[[str], Stack]) -> None:
    prod = parse(load_stack("prod"))

    assert prod.services["backend"].replicas >= 2
    assert prod.database.protect is True


def test_staging_and_prod_run_the_same_release(load_stack: Callable[[str], Stack]) -> None:
    staging = parse(load_stack("staging"))
    prod = parse(load_stack("prod"))

    assert staging.release.images, "staging names no release images"
    assert prod.release == staging.release
    for service in prod.services:
        assert prod.image_for(service) == staging.image_for(service)


def test_every_image_is_pinned(default_stack: Stack) -> None:
    spec = parse(default_stack)
    images = list(spec.release.images.values())
    if spec.database.image is not None:
        images.append(spec.database.image)

    assert images
    assert {image: image_problem(image) for image in images} == {image: None for image in images}


@pytest.mark.parametrize("name", ["staging", "prod"])
def test_every_railway_service_runs_a_release_image(load_stack: Callable[[str], Stack], name: str) -> None:
    spec = parse(load_stack(name))

    assert spec.target == "railway"
    for service_name, service in spec.services.items():
        assert service.build is None
        assert spec.image_for(service_name) is not None, service_name


def test_default_stacks_order_backend_before_frontend(default_stack: Stack) -> None:
    order = parse(default_stack).startup_order()

    assert sorted(order) == ["backend", "frontend"]
    assert order.index("backend") < order.index("frontend")


def test_startup_order_puts_dependencies_first(load_stack: Callable[[str], Stack]) -> None:
    """A chain whose alphabetical order is the reverse of its dependency order."""
    stack = load_stack("dev")
    services = stack.raw["services"]
    services["backend"]["depends_on"] = ["database", "worker"]
    services["worker"] = {
        "port": 9000,
        "public": False,
        "health_check": {"path": "/ready", "interval_seconds": 10, "timeout_seconds": 5},
        "depends_on": ["database"],
    }
    services["admin"] = {
        "port": 9100,
        "health_check": {"path": "/", "interval_seconds": 10, "timeout_seconds": 5},
        "depends_on": ["frontend"],
    }
    stack.raw["release"]["images"]["worker"] = "ghcr.io/mvs-app/worker:2.0.0"
    stack.raw["release"]["images"]["admin"] = "ghcr.io/mvs-app/admin:2.0.0"

    spec = parse(stack)
    order = spec.startup_order()

    assert sorted(order) == sorted(spec.services)
    for name, service in spec.services.items():
        for dep in service.depends_on:
            if dep in spec.services:
                assert order.index(dep) < order.index(name), f"{dep} must start before {name}: {order}"
    assert order == ["worker", "backend", "frontend", "admin"]


@pytest.mark.parametrize("name", DEFAULT_STACKS)
def test_every_default_stack_passes_beside_the_others(name: str) -> None:
    """The rules across stack files (domains, shared project, environments) accept the default stacks."""
    spec = load_stack_file(REPO_ROOT / stack_file(name), stack_file(name), check_secrets=False)

    assert spec.target == EXPECTED_TARGET[name]


def test_staging_and_prod_share_one_project_in_two_environments(load_stack: Callable[[str], Stack]) -> None:
    staging, prod = load_stack("staging"), load_stack("prod")
    siblings = [Sibling("prod", prod.file, prod.raw)]

    spec = parse_environment(staging.raw, staging.file, None, siblings)

    assert shares_project(spec.railway.model_dump(), parse(prod).railway.model_dump())
    assert spec.railway.environment is None, "each stack's environment is named after the stack"
