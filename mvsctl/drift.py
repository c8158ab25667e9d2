"""`./mvs drift STACK...`: does what runs match what the stacks declare? (issue 11, point 5)

Each stack gets `pulumi preview --refresh --json`: a preview reads reality and compares it with
the declaration, and never writes the state, so the check is safe to run on a schedule. The policy
pack stays out: drift is about reality against the declaration, not about policy.

Exit codes follow `terraform plan -detailed-exitcode`, so CI can tell the cases apart: 0 every
stack is in line, 2 something drifted, 1 a stack could not be checked (an error wins over drift).
The report is markdown (a heading per stack, a line of counts, a table per drifted resource).
Values come from the engine's JSON, which already shows secrets as `[secret]`; variables are
named, never shown, because a plain-looking variable may still be a credential.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.errors import DeclarationError, ToolError

from .preview_json import cell, changed_fields, describe, engine_reason, preview, resource_steps, variable_notes
from .pulumi_cli import PROJECT_ROOT

EXIT_CLEAN, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
IN_LINE = {"same", "read"}  # `read` is a lookup of something this stack does not own
OP_MEANING = {
    "update": "differs from the declaration; `up` would change it back",
    "replace": "differs in a field that cannot change in place; `up` would replace it",
    "create": "declared but missing; `up` would create it",
    "delete": "exists but is no longer declared; `up` would delete it",
}


@dataclass
class Drifted:
    """One resource whose reality differs from its declaration: what `up` would do, and where."""

    kind: str
    name: str
    op: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (field, in reality, declared)


@dataclass
class StackDrift:
    stack: str
    checked: int = 0
    drifted: list[Drifted] = field(default_factory=list)
    error: str = ""

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if self.error else EXIT_DRIFT if self.drifted else EXIT_CLEAN


def check(stack: str, load_spec: Callable[[str], Any], project: Path = PROJECT_ROOT) -> StackDrift:
    """One stack's drift, or the one-line reason it could not be checked."""
    try:
        load_spec(stack)
    except DeclarationError as error:
        problems = len(error.problems)
        return StackDrift(stack, error=f"its stack file has {problems} problem(s); run ./mvs validate {stack}")
    with tempfile.TemporaryDirectory(prefix="mvs-drift-") as scratch:
        events = Path(scratch) / "events.ndjson"
        try:
            document = preview(stack, ["--refresh"], events, project)
        except ToolError as error:
            return StackDrift(stack, error=failure(stack, error, events))
    return drift_of(stack, document)


def drift_of(stack: str, preview: dict[str, Any]) -> StackDrift:
    """The drift a `preview --refresh --json` document shows."""
    notes = variable_notes(preview.get("diagnostics") or [])
    result = StackDrift(stack)
    for step in resource_steps(preview):
        if step.get("op", "") not in IN_LINE:
            kind, name = describe(step.get("urn", ""))
            result.drifted.append(Drifted(kind, name, step.get("op", ""), changed_fields(step, notes)))
    result.checked = len({s.get("urn") for s in preview.get("steps") or []})
    return result


def failure(stack: str, error: ToolError, events: Path) -> str:
    """One line: the first reason the engine gave, without the provider's `up` hint (this is no up)."""
    text = engine_reason(error, events)
    if "no stack named" in text:
        return f"the stack has no state here ({text}); nothing was changed: bring it up first with ./mvs up {stack}"
    return f"could not read what runs ({text}); nothing was changed: fix that and run ./mvs drift {stack} again"


def render(results: list[StackDrift]) -> str:
    """The markdown report: a heading per stack, one line of counts, a table per drifted resource."""
    lines: list[str] = []
    for result in results:
        lines.append(f"## Drift: {result.stack}")
        lines.append("")
        if result.error:
            lines.append(f"**Not checked**: {result.error}")
        elif not result.drifted:
            lines.append(f"{result.checked} resources checked: no drift.")
        else:
            ops = Counter(d.op for d in result.drifted)
            counts = ", ".join(f"{n} {op}" for op, n in sorted(ops.items()))
            lines.append(f"{result.checked} resources checked: {len(result.drifted)} drifted ({counts}).")
            for d in result.drifted:
                lines += ["", f"### {d.kind} `{d.name}`", "", f"{OP_MEANING.get(d.op, d.op)}.", ""]
                if d.fields:
                    lines += ["| field | in reality | declared |", "| --- | --- | --- |"]
                    lines += [f"| {f} | {cell(now)} | {cell(want)} |" for f, now, want in d.fields]
        lines.append("")
    return "\n".join(lines)


def exit_code(results: list[StackDrift]) -> int:
    codes = {r.exit_code for r in results}
    return EXIT_ERROR if EXIT_ERROR in codes else EXIT_DRIFT if EXIT_DRIFT in codes else EXIT_CLEAN
