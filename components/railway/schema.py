"""Railway's published GraphQL schema, loaded for validating documents and for the emulator.

The schema is data, not code: it is read from a path. By default that is the copy the repository
carries (schema/railway/schema.json, Railway's published schema; its NOTICE.md says where it
comes from), so a clone needs nothing beside it; MVS_RAILWAY_SCHEMA points at another one, such
as a schema fetched from the live API by `./mvs railway-schema`.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, validate_schema

from ..errors import MvsError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = PROJECT_ROOT / "schema" / "railway"
DEFAULT_SCHEMA = SCHEMA_DIR / "schema.json"
NOTICE = SCHEMA_DIR / "NOTICE.md"
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
