"""The one GraphQL request a poll makes, and reading its answer.

`edgeMetrics.graphql` asks for one service. Railway counts requests, not fields, against the
hourly limit, so the exporter asks for every service at once: `document(n)` repeats the file's two
fields for services 0..n-1 under the aliases `s<i>_byStatus` / `s<i>_durations`, with `$serviceId`
renamed `$serviceId<i>` (service names such as `edge-metrics` are not GraphQL names, indexes
are). The result is printed from graphql-core's AST, so it is as valid as the file (tests check
both against Railway's schema).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    parse,
    print_ast,
    visit,
)

OPERATION_FILE = Path(__file__).with_name("edgeMetrics.graphql")
OPERATION_NAME = "edgeMetrics"
SERVICE_VARIABLE = "serviceId"
PERCENTILES = ("p50", "p90", "p95", "p99")


def _operation() -> OperationDefinitionNode:
    (operation,) = [d for d in parse(OPERATION_FILE.read_text()).definitions if isinstance(d, OperationDefinitionNode)]
    return operation


class _RenameServiceVariable(Visitor):
    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def enter_variable(self, node: VariableNode, *_args: Any) -> VariableNode | None:
        if node.name.value == SERVICE_VARIABLE:
            return VariableNode(name=NameNode(value=self.name))
        return None


def service_variable(index: int) -> str:
    return f"{SERVICE_VARIABLE}{index}"


@functools.cache
def document(services: int) -> str:
    """The request for `services` services, as text."""
    operation = _operation()
    shared = [d for d in operation.variable_definitions if d.variable.name.value != SERVICE_VARIABLE]
    (per_service,) = [d for d in operation.variable_definitions if d.variable.name.value == SERVICE_VARIABLE]
    definitions: list[VariableDefinitionNode] = list(shared)
    selections: list[FieldNode] = []
    for index in range(services):
        definitions.append(visit(per_service, _RenameServiceVariable(service_variable(index))))
        for selection in operation.selection_set.selections:
            assert isinstance(selection, FieldNode) and selection.alias is not None, "the file aliases each field"
            renamed = visit(selection, _RenameServiceVariable(service_variable(index)))
            selections.append(dataclasses.replace(renamed, alias=NameNode(value=f"s{index}_{selection.alias.value}")))
    combined = OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=tuple(definitions),
        directives=operation.directives,
        selection_set=type(operation.selection_set)(selections=tuple(selections)),
    )
    return print_ast(DocumentNode(definitions=(combined,)))


def variables(service_ids: list[str], environment_id: str, start: str, end: str, step_seconds: int) -> dict[str, Any]:
    values: dict[str, Any] = {
        "environmentId": environment_id,
        "startDate": start,
        "endDate": end,
        "stepSeconds": step_seconds,
    }
    values.update({service_variable(i): service_id for i, service_id in enumerate(service_ids)})
    return values


@dataclass
class ServiceSamples:
    """One service's answer: requests per status code per sample, and each sample's percentiles (ms)."""

    requests: dict[int, dict[int, float]] = field(default_factory=dict)  # status -> {sample ts -> requests}
    durations: dict[int, dict[str, float]] = field(default_factory=dict)  # sample ts -> {p50: ms, ...}


class AnswerError(ValueError):
    """An answer without the fields the request asked for."""


def read_answer(data: dict[str, Any], names: list[str]) -> dict[str, ServiceSamples]:
    """Each service's samples from the response's `data`, by declared name (in request order)."""
    result = {}
    try:
        for index, name in enumerate(names):
            samples = ServiceSamples()
            for group in data[f"s{index}_byStatus"]:
                samples.requests[int(group["statusCode"])] = {int(s["ts"]): float(s["value"]) for s in group["samples"]}
            for sample in data[f"s{index}_durations"]["samples"]:
                samples.durations[int(sample["ts"])] = {p: float(sample[p]) for p in PERCENTILES}
            result[name] = samples
    except (KeyError, TypeError, ValueError) as error:
        raise AnswerError(f"the answer lacks {error}") from None
    return result
