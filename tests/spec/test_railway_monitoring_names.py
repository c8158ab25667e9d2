"""On Railway, monitoring adds its services beside the declared ones under fixed names: a declared
service with one of those names is refused before anything is registered, with its key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from components.errors import DeclarationError
from components.railway.monitoring import SERVICES
from components.spec import CONFIG_KEY, parse_environment

from .conftest import Stack


@pytest.mark.parametrize("name", SERVICES)
def test_a_declared_service_named_like_a_monitoring_service_is_refused(
    load_stack: Callable[[str], Stack], name: str
) -> None:
    stack = load_stack("staging")
    stack.raw["monitoring"] = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhookUrl"}}
    stack.raw["services"][name] = stack.raw["services"]["frontend"]

    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file)

    (problem,) = [p for p in error.value.problems if p.key == f"{CONFIG_KEY}.services.{name}"]
    assert f"a service named {name!r}, a name the environment gives its own parts" == problem.found
    assert name in problem.allowed


def test_the_monitoring_services_are_exactly_the_six_railway_runs() -> None:
    assert SERVICES == ("prometheus", "alertmanager", "pushgateway", "postgres-exporter", "grafana", "edge-metrics")
