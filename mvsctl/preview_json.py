"""Reading the engine's `pulumi preview --json` document, for the reports built on it (`./mvs drift`,
`./mvs summary`): never the screen text, which changes between releases and hides nothing secret.

The document is `{config, steps[], diagnostics[], changeSummary}`; a step is `{op, urn, oldState,
newState}` with each side's `inputs`. Secret values are already `[secret]` there. A collection of
variables holding a secret is `[secret]` as a whole, so the variables provider names the variables
that differ in a diagnostic of its own (names only), and the reports take the names from there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from components.errors import ToolError
from components.railway.providers.base import UNKNOWN
from components.railway.providers.variables import differences

from .process import run

SECRET = "[secret]"
REPLACEMENT_PARTS = {"create-replacement", "delete-replaced"}  # shown once, as their `replace`
VARIABLES_NOTE = "railway: variables of "
VARIABLES_CHANGED = " changed outside this stack: "  # said on a refresh (drift)
VARIABLES_TO_APPLY = " to apply: "  # said on a preview of an up
TOO_LONG = 60
OWNED = "owned_"


def preview(stack: str, flags: list[str], events: Path, project: Path) -> dict[str, Any]:
    """`pulumi preview --json` of `stack`. The JSON document lacks the reasons when it fails, so the
    engine's event log (a hidden flag) keeps them: `--event-log EVENTS` is added unless `flags` has one."""
    if "--event-log" not in flags:
        flags = [*flags, "--event-log", str(events)]
    hidden_flags_on = {**os.environ, "PULUMI_DEBUG_COMMANDS": "true"}  # lets --event-log through
    command = ["pulumi", "preview", "--stack", stack, "--json", "--non-interactive", *flags]
    return json.loads(run(command, env=hidden_flags_on, cwd=str(project)))


def resource_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One step per resource: no refresh steps (they only re-read), a replacement once as `replace`."""
    steps = [s for s in document.get("steps") or [] if s.get("op") != "refresh"]
    replaced = {s.get("urn") for s in steps if s.get("op") == "replace"}
    kept, seen = [], set()
    for step in steps:
        op, urn = step.get("op", ""), step.get("urn", "")
        if urn in seen or (urn in replaced and op in REPLACEMENT_PARTS):
            continue
        seen.add(urn)
        kept.append(step)
    return kept


def describe(urn: str) -> tuple[str, str]:
    """`railway:Service`, `staging-frontend` from a URN: the type a person reads, and the name."""
    qualified, name = urn.split("::")[-2:]
    kind = qualified.split("$")[-1]
    return kind.removeprefix("pulumi-python:dynamic/"), name


def inputs(step: dict[str, Any], side: str) -> dict[str, Any]:
    """A step's `old` or `new` inputs (empty when that side does not exist)."""
    return (step.get(f"{side}State") or {}).get("inputs") or {}


# Inputs a reviewer should read in words: the providers' bookkeeping under its own name means nothing to them.
FIELD_WORDS = {
    "adopt_id": "takes over the existing Railway project",
    "sibling_ids": "the project ids other stack files declare",
    "sibling_environments": "the environments other stacks use in this project",
    "fingerprint": "what the deployment runs (a digest of image, settings and variables)",
}
# Bookkeeping that never is a change of its own: what the engine adds, and copies of the
# declaration a provider keeps to word its messages.
LEFT_OUT = {"__provider", "declared_as", "expects", "plain_names"}


def changed_fields(step: dict[str, Any], notes: dict[str, str], for_up: bool = False) -> list[tuple[str, str, str]]:
    """Each input whose old value differs from the new one: (field, old, new).

    For drift (a refresh), old is what runs and new what is declared; a provider's read returns only
    the inputs it compares, so a declared input missing from the refreshed ones is no drift. For a
    preview of `up` (`for_up`), old is the state and new the declaration: every input counts, and
    variables are named by what `up` does to them. Two `[secret]`s cannot be told apart: variables
    are named from the provider's note, other secret fields listed only when nothing else explains
    the step."""
    old, new = inputs(step, "old"), inputs(step, "new")
    # A value the stack owns but does not declare (a generated domain name) is kept by its provider
    # as `owned_<field>`: that is what `up` puts back, so drift shows it as the declared side.
    owned = {
        k.removeprefix(OWNED): v
        for k, v in ((step.get("oldState") or {}).get("outputs") or {}).items()
        if k.startswith(OWNED)
    }
    new = {**{k: v for k, v in owned.items() if k in old}, **new}
    variable_note = notes.get(f"service {new.get('service_name') or new.get('service_id')}")
    keys = set(old) | set(new) if for_up else set(old)
    rows, hidden = [], []
    for key in sorted(keys - LEFT_OUT):
        before, after = old.get(key), new.get(key)
        if key in FIELD_WORDS:
            if before != after:
                rows.append((FIELD_WORDS[key], shown(before, key in old), shown(after, key in new)))
            continue
        if key == "variables" and (before != after or variable_note):
            plain = new.get("plain_names") or old.get("plain_names") or ()
            names = variable_names(before, after, variable_note, for_up, plain)
            rows.append((key, names, "(values not shown)"))
        elif before == after == SECRET:
            hidden.append((key, SECRET, f"{SECRET} (may differ)"))
        elif before != after or after == UNKNOWN:
            rows.append((key, shown(before, key in old), shown(after, key in new)))
    return rows or hidden


def variable_names(old: Any, new: Any, note: str | None, for_up: bool = False, plain: Any = ()) -> str:
    """Which variables differ, by name: from the values when they are plain, else from what the
    provider said on the run (a collection holding a secret reaches us only as `[secret]`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        # drift: the provider's words (added/removed in reality); up: what up adds and removes
        return ", ".join(differences(old, new, plain) if for_up else differences(new, old, plain)) or "differ"
    return note or f"differ (names not known: the collection is {SECRET})"


def variable_notes(diagnostics: list[dict[str, Any]], phrase: str = VARIABLES_CHANGED) -> dict[str, str]:
    """What the variables provider said (names only), by the service it named (`service backend`):
    its lines carry no URN. `phrase` picks the drift note or the preview's note."""
    notes = {}
    for diagnostic in diagnostics:
        message = diagnostic.get("message", "")
        if message.startswith(VARIABLES_NOTE) and phrase in message:
            who, found = message.removeprefix(VARIABLES_NOTE).split(phrase, 1)
            notes[who] = found.strip()
    return notes


def shown(value: Any, present: bool) -> str:
    if not present or value is None:
        return "(not set)"
    if value == UNKNOWN:
        return "(known after up)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= TOO_LONG else text[: TOO_LONG - 1] + "…"


GENERIC_FAILURES = ("an unhandled error occurred", "update failed", "preview failed")  # they say only that it failed


def engine_reason(error: ToolError, events: Path) -> str:
    """The first reason the engine gave for a failed preview (from its event log, else its last line
    on stderr), without the provider's `up` hint."""
    reasons = []
    if events.exists():
        for line in events.read_text().splitlines():
            try:
                diagnostic = json.loads(line).get("diagnosticEvent") or {}
            except json.JSONDecodeError:
                continue
            message = str(diagnostic.get("message") or "").strip()
            if diagnostic.get("severity") == "error" and message and not message.startswith(GENERIC_FAILURES):
                reasons.append(message.splitlines()[0])  # a program's own error has no URN
    said = error.stderr.strip().splitlines() or [f"pulumi exited with code {error.exit_code}"]
    text = reasons[0] if reasons else said[-1]
    text = text.split(" Next: ", 1)[0].removeprefix("error: ").removeprefix("Preview failed: ").strip()
    return text.removesuffix("Nothing was changed.").strip()  # the caller says so itself


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
