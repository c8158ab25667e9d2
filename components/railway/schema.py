"""Railway's published GraphQL schema, loaded for validating documents and for the emulator.

The schema is data, not code: it is read from a path (Railway's published schema beside the
repo, or one fetched from the live API by introspection; see MVS_RAILWAY_SCHEMA).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, validate_schema

from ..errors import MvsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCHEMA = PROJECT_ROOT.parent / "shared" / "railway" / "schema.json"
SCHEMA_ENV = "MVS_RAILWAY_SCHEMA"


def schema_path() -> Path:
    return Path(os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA)


@functools.cache
def load_schema(path: Path | None = None) -> GraphQLSchema:
    """Build the schema from an introspection result ({"data": {"__schema": ...}} or {"__schema": ...}).

    The published schema has one known flaw that graphql-core's strict check rejects: Team.id is
    deprecated although the Node.id it implements is not. That one flag is cleared in memory;
    any other schema error is reported.
    """
    path = path or schema_path()
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise MvsError(f"Railway schema not found at {path}; set {SCHEMA_ENV} to its path") from None
    schema = build_client_schema(document.get("data", document))
    team = schema.type_map.get("Team")
    if team is not None and "id" in getattr(team, "fields", {}):
        team.fields["id"].deprecation_reason = None
    errors = validate_schema(schema)
    if errors:
        raise MvsError(f"the Railway schema at {path} is invalid: {errors[0].message}")
    return schema
