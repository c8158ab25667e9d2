"""The stack file JSON Schema that editors use."""

from __future__ import annotations

import json

from mvsctl.schema import SCHEMA_PATH, render, stack_file_schema


def test_schema_describes_the_environment_under_its_config_key():
    schema = stack_file_schema()
    environment = schema["properties"]["config"]["properties"]["mvs:environment"]
    assert set(environment["required"]) == {"target", "release", "database", "services"}
    assert environment["properties"]["target"]["enum"] == ["local", "railway"]
    assert environment["additionalProperties"] is False
    service = schema["$defs"]["Service"]
    assert "health_check" in service["required"] and service["additionalProperties"] is False


def test_the_committed_schema_matches_the_models():
    assert json.loads(SCHEMA_PATH.read_text()) == json.loads(render())


def test_every_stack_file_points_editors_at_the_schema():
    stacks = SCHEMA_PATH.parent.parent / "stacks"
    for path in sorted(stacks.glob("Pulumi.*.yaml")):
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=../schema/stack.schema.json"
