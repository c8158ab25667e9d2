"""The GraphQL documents the project sends, one `.graphql` file per operation.

Each file starts with a header line saying whether the operation is a query or a mutation and,
for mutations, whether repeating it is safe (`retry-safe`). The client retries only what is safe:
a retried `serviceCreate` could make a second service, a retried `serviceInstanceUpdate` cannot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from graphql import OperationDefinitionNode, parse

OPERATIONS_DIR = Path(__file__).resolve().parent / "operations"


@dataclass(frozen=True)
class Operation:
    name: str
    document: str
    is_mutation: bool
    retry_safe: bool

    @property
    def path(self) -> Path:
        return OPERATIONS_DIR / f"{self.name}.graphql"


def _load(path: Path) -> Operation:
    text = path.read_text()
    header = text.splitlines()[0] if text else ""
    if not header.startswith("# mvs:"):
        raise ValueError(f"{path.name}: the first line must be '# mvs: query' or '# mvs: mutation, ...'")
    definitions = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    if len(definitions) != 1 or definitions[0].name is None or definitions[0].name.value != path.stem:
        raise ValueError(f"{path.name}: must hold exactly one operation, named {path.stem}")
    is_mutation = definitions[0].operation.value == "mutation"
    if ("mutation" in header) != is_mutation:
        raise ValueError(f"{path.name}: the header says {header!r} but the document is not")
    retry_safe = not is_mutation or any(part.strip().startswith("retry-safe") for part in header.split(",")[1:])
    return Operation(path.stem, text, is_mutation, retry_safe)


@functools.cache
def operations() -> dict[str, Operation]:
    return {path.stem: _load(path) for path in sorted(OPERATIONS_DIR.glob("*.graphql"))}


def operation(name: str) -> Operation:
    try:
        return operations()[name]
    except KeyError:
        raise KeyError(f"no GraphQL operation {name!r} in {OPERATIONS_DIR}") from None
