"""The program (__main__.py) under Pulumi mocks: validation comes before any registration."""

from __future__ import annotations

import json
import runpy

import pulumi
import pytest

from tests.components.conftest import ROOT, SECRETS, dev_raw


def configure(raw: dict) -> None:
    pulumi.runtime.set_all_config({**SECRETS, "mvs:environment": json.dumps(raw)}, list(SECRETS))


def test_an_invalid_declaration_registers_no_resource(monitor):
    raw = dev_raw()
    raw["services"]["backend"]["port"] = 0
    raw["database"]["image"] = "postgres:latest"
    configure(raw)
    with pytest.raises(pulumi.RunError) as error:
        runpy.run_path(str(ROOT / "__main__.py"))
    message = str(error.value)
    assert "Invalid declaration in stacks/Pulumi.dev.yaml (2 problems)" in message
    assert "mvs:environment.services.backend.port: found 0" in message
    assert "mvs:environment.database.image" in message
    assert monitor.registrations == []


def test_a_missing_secret_registers_no_resource(monitor):
    pulumi.runtime.set_all_config({"mvs:environment": json.dumps(dev_raw())}, [])
    with pytest.raises(pulumi.RunError) as error:
        runpy.run_path(str(ROOT / "__main__.py"))
    assert "secret 'dbPassword', which is not set" in str(error.value)
    assert monitor.registrations == []


def test_a_valid_declaration_builds_the_local_stack(monitor):
    configure(dev_raw())

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(ROOT / "__main__.py"))

    program()
    types = [r.type for r in monitor.registrations]
    assert types.count("mvs:local:Stack") == 1
    assert types.count("pulumi-python:dynamic/docker:Container") == 4  # database, backend, frontend, backup
