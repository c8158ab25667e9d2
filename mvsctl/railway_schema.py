"""`./mvs railway-schema`: fetch Railway's live schema by introspection and re-check every
operation this project sends against it.

The tests check the operations against the schema Railway published; this command lets a user
with a real token check them against the API as it is today.
"""

from __future__ import annotations

import json
from pathlib import Path

from graphql import parse, validate

from components.railway.client import RailwayClient, RailwayToken
from components.railway.operations import operations
from components.railway.schema import load_schema


def fetch_schema(out: Path, endpoint: str | None = None) -> Path:
    with RailwayClient(RailwayToken.from_env(), endpoint=endpoint) as client:
        data = client.execute("IntrospectionQuery")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": data}, indent=1, sort_keys=True) + "\n")
    return out


def operation_problems(schema_file: Path) -> list[str]:
    """Every way the project's operations do not fit the schema in `schema_file`."""
    schema = load_schema.__wrapped__(schema_file)  # a fresh load, not the cached published schema
    return [
        f"{name}.graphql: {error.message}"
        for name, op in operations().items()
        for error in validate(schema, parse(op.document))
    ]
