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

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.errors import DeclarationError, ToolError
from components.railway.providers.base import UNKNOWN
from components.railway.providers.variables import differences

from .process import run
from .pulumi_cli import PROJECT_ROOT

EXIT_CLEAN, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2
SECRET = "[secret]"
IN_LINE = {"same", "read"}  # `read` is a lookup of something this stack does not own
REPLACEMENT_PARTS = {"create-replacement", "delete-replaced"}  # shown once, as their `replace`
OP_MEANING = {
    "update": "differs from the declaration; `up` would change it back",
    "replace": "differs in a field that cannot change in place; `up` would replace it",
    "create": "declared but missing; `up` would create it",
    "delete": "exists but is no longer declared; `up` would delete it",
}
VARIABLES_NOTE = "railway: variables of "
VARIABLES_CHANGED = " changed outside this stack: "
TOO_LONG = 60


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
            hidden_flags_on = {**os.environ, "PULUMI_DEBUG_COMMANDS": "true"}  # lets --event-log through
            preview = json.loads(run(preview_command(stack, events), env=hidden_flags_on, cwd=str(project)))
        except ToolError as error:
            return StackDrift(stack, error=failure(stack, error, events))
    return drift_of(stack, preview)


def preview_command(stack: str, events: Path) -> list[str]:
    """A refresh preview: reads reality, compares it with the declaration, writes no state. The JSON
    document lacks the reasons when it fails, so the engine's event log (a hidden flag) keeps them."""
    flags = ["--refresh", "--json", "--non-interactive", "--event-log", str(events)]
    return ["pulumi", "preview", "--stack", stack, *flags]


def drift_of(stack: str, preview: dict[str, Any]) -> StackDrift:
    """The drift a `preview --refresh --json` document shows."""
    notes = variable_notes(preview.get("diagnostics") or [])
    every = preview.get("steps") or []
    steps = [s for s in every if s.get("op") != "refresh"]  # a refresh step only re-reads
    replaced = {s.get("urn") for s in steps if s.get("op") == "replace"}
    result = StackDrift(stack)
    seen: set[str] = set()
    for step in steps:
        op, urn = step.get("op", ""), step.get("urn", "")
        if urn in seen or (urn in replaced and op in REPLACEMENT_PARTS):
            continue
        seen.add(urn)
        if op not in IN_LINE:
            kind, name = describe(urn)
            result.drifted.append(Drifted(kind, name, op, changed_fields(step, notes)))
    result.checked = len({s.get("urn") for s in every})
    return result


def describe(urn: str) -> tuple[str, str]:
    """`railway:Service`, `staging-frontend` from a URN: the type a person reads, and the name."""
    qualified, name = urn.split("::")[-2:]
    kind = qualified.split("$")[-1]
    return kind.removeprefix("pulumi-python:dynamic/"), name


def changed_fields(step: dict[str, Any], notes: dict[str, str]) -> list[tuple[str, str, str]]:
    """Each compared input whose refreshed value differs from the declared one: (field, in reality,
    declared). A provider's read returns only the inputs it compares, so a declared input missing
    from the refreshed ones (a name kept for messages) is no drift. Two `[secret]`s cannot be told
    apart: variables are named from the provider's note, other secret fields listed only when
    nothing else explains the step."""
    old = (step.get("oldState") or {}).get("inputs") or {}
    new = (step.get("newState") or {}).get("inputs") or {}
    variable_note = notes.get(f"service {new.get('service_name') or new.get('service_id')}")
    rows, hidden = [], []
    for key in sorted(set(old) - {"__provider"}):
        before, after = old[key], new.get(key)
        if key == "variables" and (before != after or variable_note):
            rows.append((key, variable_names(before, after, variable_note), "(values not shown)"))
        elif before == after == SECRET:
            hidden.append((key, SECRET, f"{SECRET} (may differ)"))
        elif before != after or after == UNKNOWN:
            rows.append((key, shown(before, True), shown(after, key in new)))
    return rows or hidden


def variable_names(old: Any, new: Any, note: str | None) -> str:
    """Which variables differ, by name: from the values when they are plain, else from what the
    provider said on the run (a collection holding a secret reaches us only as `[secret]`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return ", ".join(differences(new, old)) or "differ"  # the provider's words: added/removed in reality
    return note or f"differ (names not known: the collection is {SECRET})"


def variable_notes(diagnostics: list[dict[str, Any]]) -> dict[str, str]:
    """What the variables provider said about out-of-band changes (names only), by the service it
    named (`service backend`): its lines carry no URN."""
    notes = {}
    for diagnostic in diagnostics:
        message = diagnostic.get("message", "")
        if message.startswith(VARIABLES_NOTE) and VARIABLES_CHANGED in message:
            who, found = message.removeprefix(VARIABLES_NOTE).split(VARIABLES_CHANGED, 1)
            notes[who] = found.strip()
    return notes


def shown(value: Any, present: bool) -> str:
    if not present or value is None:
        return "(not set)"
    if value == UNKNOWN:
        return "(known after up)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= TOO_LONG else text[: TOO_LONG - 1] + "…"


def failure(stack: str, error: ToolError, events: Path) -> str:
    """One line: the first reason the engine gave, without the provider's `up` hint (this is no up)."""
    reasons = []
    if events.exists():
        for line in events.read_text().splitlines():
            try:
                diagnostic = json.loads(line).get("diagnosticEvent") or {}
            except json.JSONDecodeError:
                continue
            if diagnostic.get("severity") == "error" and diagnostic.get("urn"):
                reasons.append(diagnostic.get("message", ""))
    said = error.stderr.strip().splitlines() or [f"pulumi exited with code {error.exit_code}"]
    text = reasons[0] if reasons else said[-1]
    text = text.split(" Next: ", 1)[0].removeprefix("error: ").removeprefix("Preview failed: ").strip()
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


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def exit_code(results: list[StackDrift]) -> int:
    codes = {r.exit_code for r in results}
    return EXIT_ERROR if EXIT_ERROR in codes else EXIT_DRIFT if EXIT_DRIFT in codes else EXIT_CLEAN
