"""What prod protects (issue 8, point 11), under Pulumi mocks: the database and everything it needs
to start again (settings, variables, the deployment that runs it, the volume and its backup
schedules) with the environment; nothing else, so `destroy --exclude-protected` removes the rest.
Staging protects nothing. The engine run is in tests/engine/test_railway_environments.py."""

from __future__ import annotations

import copy

import pulumi
import pytest
import yaml

from components.railway.stack import RailwayStack
from components.spec import parse_environment
from tests.components.conftest import ROOT
from tests.components.test_railway_stack import SECRETS, registered

DATABASE = {"settings", "variables", "deployment", "volume", "backup-schedules"}


def build(stack: str) -> RailwayStack:
    raw = yaml.safe_load((ROOT / f"stacks/Pulumi.{stack}.yaml").read_text())["config"]["mvs:environment"]
    spec = parse_environment(copy.deepcopy(raw), f"stacks/Pulumi.{stack}.yaml")
    pulumi.runtime.set_all_config(SECRETS, list(SECRETS))
    return RailwayStack(stack, spec, lambda name: pulumi.Config("mvs").require_secret(name))


@pytest.mark.parametrize("stack", ["prod", "staging"])
@pulumi.runtime.test
def test_the_database_is_protected_with_everything_it_needs_to_start(monitor, stack):
    railway = build(stack)
    expected = {f"{stack}-environment", f"{stack}-database"} | {f"{stack}-database-{part}" for part in DATABASE}

    def check(_):
        protected = {r.name for r in monitor.registrations if r.protect}
        assert protected == (expected if stack == "prod" else set())

    return registered(railway).apply(check)
