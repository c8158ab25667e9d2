"""The project's GraphQL documents fit Railway's published schema, and their headers tell the truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate

from components.railway.operations import OPERATIONS_DIR, _load, operation, operations
from components.railway.schema import load_schema

DOCUMENTS = sorted(OPERATIONS_DIR.glob("*.graphql"))
NAMES = [path.stem for path in DOCUMENTS]
CREATING = [*sorted(n for n in NAMES if n.endswith("Create")), "deploymentRollback", "serviceInstanceDeployV2"]


def operation_type(path: Path) -> str:
    (definition,) = [d for d in parse(path.read_text()).definitions if isinstance(d, OperationDefinitionNode)]
    return definition.operation.value


def test_there_are_documents_and_the_loader_finds_every_one():
    assert len(DOCUMENTS) >= 20
    assert sorted(operations()) == NAMES


@pytest.mark.parametrize("path", DOCUMENTS, ids=NAMES)
def test_document_validates_against_the_published_schema(path: Path):
    errors = validate(load_schema(), parse(path.read_text()))
    assert errors == [], [error.message for error in errors]


@pytest.mark.parametrize("path", DOCUMENTS, ids=NAMES)
def test_header_line_names_the_operation_type(path: Path):
    header = path.read_text().splitlines()[0]
    assert header.startswith("# mvs: ")
    declared = header.removeprefix("# mvs: ").split(",")[0].split()[0]
    assert declared == operation_type(path)
    assert operation(path.stem).is_mutation == (declared == "mutation")


def test_the_creating_mutations_exist():
    assert {"projectCreate", "environmentCreate", "serviceCreate"} <= set(CREATING)
    assert set(CREATING) <= set(NAMES)


@pytest.mark.parametrize("name", CREATING)
def test_mutations_that_create_things_are_not_retry_safe(name: str):
    op = operation(name)
    assert op.is_mutation
    assert op.retry_safe is False


@pytest.mark.parametrize("name", [p.stem for p in DOCUMENTS if operation_type(p) == "query"])
def test_queries_are_retry_safe(name: str):
    op = operation(name)
    assert not op.is_mutation
    assert op.retry_safe is True


def test_setting_mutations_are_retry_safe():
    for name in ("serviceInstanceUpdate", "variableCollectionUpsert", "projectUpdate", "serviceDelete"):
        assert operation(name).retry_safe is True, name


def test_the_schema_is_railways():
    schema = load_schema()
    assert len(schema.type_map) > 600
    assert schema.query_type is not None and "project" in schema.query_type.fields
    assert schema.mutation_type is not None and "serviceInstanceDeployV2" in schema.mutation_type.fields


def test_unknown_operation_names_the_directory():
    with pytest.raises(KeyError, match="operations"):
        operation("noSuchOperation")


# ---- the header grammar, on documents written to a temporary directory ------------------


def write(tmp_path: Path, name: str, header: str, body: str) -> Path:
    path = tmp_path / f"{name}.graphql"
    path.write_text(f"{header}\n{body}\n")
    return path


def test_a_header_that_contradicts_the_document_is_refused(tmp_path: Path):
    path = write(tmp_path, "me", "# mvs: mutation, retry-safe", "query me { me { id } }")
    with pytest.raises(ValueError, match="header"):
        _load(path)


def test_a_missing_header_is_refused(tmp_path: Path):
    path = write(tmp_path, "me", "# a query", "query me { me { id } }")
    with pytest.raises(ValueError, match="first line"):
        _load(path)


def test_a_document_named_unlike_its_file_is_refused(tmp_path: Path):
    path = write(tmp_path, "whoami", "# mvs: query", "query me { me { id } }")
    with pytest.raises(ValueError, match="named whoami"):
        _load(path)


def test_a_mutation_is_retry_safe_only_when_its_header_says_so(tmp_path: Path):
    body = 'mutation projectDelete { projectDelete(id: "x") }'
    assert _load(write(tmp_path, "projectDelete", "# mvs: mutation, retry-safe", body)).retry_safe is True
    assert _load(write(tmp_path, "projectDelete", "# mvs: mutation, not retried", body)).retry_safe is False
    assert _load(write(tmp_path, "projectDelete", "# mvs: mutation", body)).retry_safe is False


def test_a_header_saying_not_retry_safe_is_not_retry_safe(tmp_path: Path):
    # Fails open today: "retry-safe" is looked for as a substring, and "not retry-safe" contains it.
    body = 'mutation projectDelete { projectDelete(id: "x") }'
    assert _load(write(tmp_path, "projectDelete", "# mvs: mutation, not retry-safe", body)).retry_safe is False
