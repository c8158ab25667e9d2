"""The JSON Schema of a stack file, so editors can check stack files as they are typed.

Written to schema/stack.schema.json; each stack file names it in its first line
(`# yaml-language-server: $schema=../schema/stack.schema.json`).
"""

from __future__ import annotations

import json
from pathlib import Path

from components.spec import CONFIG_KEY, EnvironmentSpec

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "stack.schema.json"


def stack_file_schema() -> dict:
    spec_schema = EnvironmentSpec.model_json_schema()
    definitions = spec_schema.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "MVS stack file (stacks/Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": {CONFIG_KEY: spec_schema},
                "required": [CONFIG_KEY],
                "additionalProperties": True,
            },
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
        },
        "required": ["config"],
        "$defs": definitions,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


def write(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    return path
