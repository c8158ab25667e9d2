"""`./mvs railway-schema`: fetch Railway's live schema by introspection and re-check every
operation this project sends against it.

The tests check the operations against the schema the repository carries (Railway's published
one); this command lets a user with a real token check them against the API as it is today, and
with `--write` make the live schema the one the repository carries, its notice rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from graphql import parse, validate

from components.railway.client import DEFAULT_ENDPOINT, ENDPOINT_ENV, RailwayClient, RailwayToken
from components.railway.operations import operations
from components.railway.schema import DEFAULT_SCHEMA, NOTICE, load_schema


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


NOTICE_TEMPLATE = """# Railway's GraphQL schema

`schema.json` is the introspection result of Railway's public GraphQL API that the Railway
emulator, the operation contract tests and the offline rehearsal validate every request against.
It is carried in the repository so that a clone needs nothing beside it.

| | |
| --- | --- |
| source | {source} |
| version | {version} |
| licence | {licence} |
| sha256 | `{sha256}` |
| size | {size} bytes |

To refresh it from the live API (needs a Railway account or workspace token in
`RAILWAY_API_TOKEN`), run `./mvs railway-schema --write`: it introspects the API, writes the
result here, re-checks every operation the project sends against it, and rewrites this notice
with the new source, date and sha256.
"""


def write_carried_schema(
    endpoint: str | None = None, schema_file: Path = DEFAULT_SCHEMA, notice: Path = NOTICE
) -> Path:
    """Introspect the live API into the schema the repository carries, and say so in its notice."""
    fetch_schema(schema_file, endpoint)
    data = schema_file.read_bytes()
    notice.write_text(
        NOTICE_TEMPLATE.format(
            source=f"introspection of {endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT}",
            version=f"fetched {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            licence="Railway's public API schema, as the API itself serves it",
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
    )
    return schema_file
