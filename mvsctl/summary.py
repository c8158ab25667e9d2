"""`./mvs summary STACK...`: what `up` would change, as one markdown report for a pull-request
comment (issue 11, point 2), or the same data as JSON for machines.

Built from the engine's `pulumi preview --json` document, never its screen text. The preview runs
the policy pack (policies.policy_run), so the findings land in `.state/policies/<stack>.jsonl` as
they do for `./mvs preview`, and the report shows them; `--no-policies` says the pack did not run.

The report puts first what a reviewer must not miss: per stack one line of counts, and a banner
when `up` would delete or replace anything, the resources that hold data (the database, its
volume, backups) named apart from the rest. Then each stack's release (version and images, old ->
new), its policy findings, and the changed resources with their fields (collapsed). Secrets are
`[secret]` in the engine's JSON already; variables are named, and only those the stack file
declares in plain text show their values (`LOG_LEVEL changed: warn → error`). A GitHub comment holds
65,536 characters: the report is cut from the end to fit, so the counts and banners always stay.
More sections (a cost estimate, once one exists) belong in `stack_sections`.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.errors import DeclarationError, ToolError
from components.stack_config import stack_file

from . import policies
from .preview_json import (
    SECRET,
    VARIABLES_TO_APPLY,
    cell,
    changed_fields,
    describe,
    engine_reason,
    inputs,
    preview,
    resource_steps,
    variable_notes,
)
from .pulumi_cli import PROJECT_ROOT

MARKER = "<!-- mvs-summary -->"  # a workflow finds its comment by this and edits it in place
COMMENT_BUDGET = 60_000  # GitHub refuses comments over 65,536 characters; room for what CI adds
TRIMMED = (
    "_(trimmed: the report is longer than a pull-request comment may be; run `./mvs summary {stacks}` for all of it)_"
)
OPS = ("create", "update", "replace", "delete")
DESTRUCTIVE = {"replace", "delete"}
UNCHANGED = {"same", "read"}  # `read` is a lookup of something this stack does not own
RELEASE_TYPE = "release:Release"
# What holds data, by the resource's declaration key within its stack (Railway) or its name (dev):
# each name below is `<stack>-<key>` or `<stack>-<key>-<part>`.
RAILWAY_DATA = {"database": "the Postgres service", "backup-verify": "the backup drill", "backup": "the backup job"}
RAILWAY_PARTS = {"", "settings", "variables", "deployment", "domain"}
DOCKER_DATA = {"database": "the Postgres container", "backup": "the backup container"}
DATA_FIRST = {"railway:Volume": 0, "docker:Volume": 0, "railway:BackupSchedules": 1}  # in the banner
NOT_RELEASED = {*RAILWAY_DATA, "postgres", "backup-runner"}  # their images are no part of the release


@dataclass
class Change:
    """One resource `up` would change: its type, name, what happens, and the fields that change."""

    kind: str
    name: str
    op: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)  # (field, now, after up)
    data: str = ""  # what data it holds, when it holds any


@dataclass
class ReleaseChange:
    """The release before and after `up`: from the stack's release record, else from the declaration
    (`declared`) and the images of the services' steps."""

    old_version: str | None
    new_version: str | None
    images: list[tuple[str, str | None, str | None]]  # (service, before, after), changed ones only
    changed: bool
    source: str  # "recorded" (the release resource) or "declared" (no record to compare with)


@dataclass
class PolicyResult:
    ran: bool
    findings: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the level it binds at, the waivers


@dataclass
class StackSummary:
    stack: str
    counts: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    release: ReleaseChange | None = None
    policies: PolicyResult | None = None
    error: str = ""

    @property
    def destructive(self) -> list[Change]:
        return [c for c in self.changes if c.op in DESTRUCTIVE]


def summarize(
    stack: str, load_spec: Callable[[str], Any], run_policies: bool = True, project: Path = PROJECT_ROOT
) -> StackSummary:
    """One stack's preview, summarized; or the one-line reason it could not be previewed."""
    try:
        spec = load_spec(stack)
    except DeclarationError as error:
        return StackSummary(
            stack, error=f"its stack file has {len(error.problems)} problem(s); run ./mvs validate {stack}"
        )
    said: list[str] = []
    args = [] if run_policies else [policies.NO_POLICIES]
    try:
        checks = policies.policy_run(stack, "summary", args, say=said.append, state_dir=project / ".state")
    except DeclarationError as error:
        problems = len(error.problems)
        return StackSummary(stack, error=f"its policy settings have {problems} problem(s); run ./mvs preview {stack}")
    with tempfile.TemporaryDirectory(prefix="mvs-summary-") as scratch:
        events = Path(scratch) / "events.ndjson"
        document, failed = None, None
        try:
            document = preview(stack, checks.args, events, project)
        except ToolError as error:
            failed = error
        except ValueError as error:  # stdout that is no JSON document
            unreadable = f"the engine's JSON could not be read ({error}); run ./mvs preview {stack}"
            return StackSummary(stack, error=unreadable)
        checks.finish(say=said.append)
        ran = checks.event_log is not None
        found = PolicyResult(ran, recorded_findings(stack, project / ".state") if ran else [], said)
        if failed is not None:
            return StackSummary(stack, policies=found, error=failure(stack, failed, checks.event_log or events, found))
    result = summary_of(stack, document, declared_release(spec))
    result.policies = found
    return result


def recorded_findings(stack: str, state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / "policies" / f"{stack}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def failure(stack: str, error: ToolError, events: Path, found: PolicyResult) -> str:
    mandatory = [f for f in found.findings if f.get("enforcementLevel") == "mandatory"]
    if mandatory:
        return (
            f"the policy pack refuses it: {len(mandatory)} mandatory finding(s), listed in the report; "
            f"fix them (or waive them in {stack_file(stack)}) and run ./mvs summary {stack} again"
        )
    text = engine_reason(error, events)
    if "no stack named" in text:
        return f"the stack has no state here ({text}); bring it up first with ./mvs up {stack}"
    return f"could not preview it ({text}); nothing was changed: fix that and run ./mvs summary {stack} again"


def declared_release(spec: Any) -> dict[str, Any]:
    release = getattr(spec, "release", None)
    return {"version": release.version, "images": dict(release.images)} if release is not None else {}


def summary_of(stack: str, document: dict[str, Any], declared: dict[str, Any] | None = None) -> StackSummary:
    """What a `preview --json` document says `up` would do to `stack`."""
    notes = variable_notes(document.get("diagnostics") or [], VARIABLES_TO_APPLY)
    result = StackSummary(stack)
    steps = resource_steps(document)
    result.unchanged = (document.get("changeSummary") or {}).get("same", 0)  # unchanged steps are not listed
    for step in steps:
        op = step.get("op", "")
        if op in UNCHANGED:
            continue
        kind, name = describe(step.get("urn", ""))
        fields = [] if kind.endswith(RELEASE_TYPE) or op in {"create", "delete"} else changed_fields(step, notes, True)
        if any(f == "variables" for f, _, _ in fields):
            fields = [variables_row(row, step) if row[0] == "variables" else row for row in fields]
        result.changes.append(Change(kind, name, op, fields, holds_data(stack, kind, name)))
    counted = Counter(c.op for c in result.changes)
    result.counts = {op: counted.get(op, 0) for op in OPS}
    result.release = release_change(stack, steps, declared or {})
    return result


def variables_row(row: tuple[str, str, str], step: dict[str, Any]) -> tuple[str, str, str]:
    """Variables by name, never by value, and which of them hold a secret (`SESSION_SECRET changed [secret]`)."""
    secret_names = set(inputs(step, "new").get("secret_names") or inputs(step, "old").get("secret_names") or [])
    named = [f"{part} {SECRET}" if part.split(" ", 1)[0] in secret_names else part for part in row[1].split(", ")]
    return row[0], "(secret values not shown)", ", ".join(named)


def holds_data(stack: str, kind: str, name: str) -> str:
    """What data a resource holds (or runs), in words; empty when it holds none."""
    if kind == "railway:Volume":
        return "the database volume" if name == f"{stack}-database-volume" else "a volume"
    if kind == "railway:BackupSchedules":
        return "the database volume's backup schedules"
    if kind.startswith("docker:") and kind.endswith(":Volume"):
        return "a Docker volume (database or backup data)"
    rest = name.removeprefix(f"{stack}-")
    if kind.startswith("railway:"):
        for key, what in RAILWAY_DATA.items():
            if rest == key or (rest.startswith(f"{key}-") and rest[len(key) + 1 :] in RAILWAY_PARTS):
                part = rest[len(key) + 1 :]
                return f"{what}, {part}" if part else what
    if kind.startswith("docker:") and kind.endswith(":Container"):
        return DOCKER_DATA.get(rest, "")
    return ""


def release_change(stack: str, steps: list[dict[str, Any]], declared: dict[str, Any]) -> ReleaseChange:
    """The release old -> new: from the release resource's step (`<stack>-release`) when it shows a
    change; otherwise the declared release, with the images the services' steps change."""
    step = next((s for s in steps if describe(s.get("urn", ""))[0].endswith(RELEASE_TYPE)), None)
    running, wanted = service_images(stack, steps)
    if step is not None and step.get("op") not in UNCHANGED:
        old, new = inputs(step, "old"), inputs(step, "new")
        before, after = release_images(old), release_images(new)
        if not old:
            before = {**running, **before}  # the first record: what runs now is the old side
        images = [
            (s, before.get(s), after.get(s)) for s in sorted(set(before) | set(after)) if before.get(s) != after.get(s)
        ]
        # A new commit or note alone updates the record but changes no release: not announced as one.
        changed = bool(images) or old.get("version") != new.get("version")
        return ReleaseChange(old.get("version"), new.get("version"), images, changed, "recorded")
    images = [
        (s, running.get(s), wanted.get(s))
        for s in sorted(set(running) | set(wanted))
        if running.get(s) != wanted.get(s)
    ]
    if step is not None:  # recorded and unchanged
        version = inputs(step, "new").get("version") or inputs(step, "old").get("version")
        return ReleaseChange(version, version, images, bool(images), "recorded")
    version = declared.get("version")
    return ReleaseChange(None, version, images, bool(images), "declared")


def release_images(release_inputs: dict[str, Any]) -> dict[str, str]:
    """service -> image of a release record: its `images`, or each of its `services`' `image`."""
    images = release_inputs.get("images")
    if isinstance(images, dict):
        return {k: v for k, v in images.items() if isinstance(v, str)}
    services = release_inputs.get("services")
    if isinstance(services, dict):
        return {k: v["image"] for k, v in services.items() if isinstance(v, dict) and isinstance(v.get("image"), str)}
    return {}


def service_images(stack: str, steps: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """service -> image before and after `up`, from the steps that carry an image: a Railway
    service's settings (`<stack>-<service>-settings`) or a Docker image (`<stack>-<service>-image`)."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for step in steps:
        kind, name = describe(step.get("urn", ""))
        rest = name.removeprefix(f"{stack}-")
        if kind == "railway:ServiceInstance" and rest.endswith("-settings"):
            service, key = rest.removesuffix("-settings"), "image"
        elif kind == "docker:Image" and rest.endswith("-image"):
            service, key = rest.removesuffix("-image"), "name"
        else:
            continue
        if service in NOT_RELEASED:
            continue
        for side, found in (("old", before), ("new", after)):
            image = inputs(step, side).get(key)
            if isinstance(image, str) and image != SECRET:
                found[service] = image
    return before, after


# ---- markdown ----


def render(results: list[StackSummary], budget: int = COMMENT_BUDGET) -> str:
    """The report: a marker, then per stack its counts and banner (always kept), then per stack its
    release, policy findings and changed resources; cut from the end to fit `budget`."""
    head = [MARKER, "## What `up` would change", ""]
    for result in results:
        head += [counts_line(result), *banner(result), ""]
    body: list[str] = []
    for result in results:
        if result.error and result.policies is None:
            continue
        body += [f"### {result.stack}", ""]
        for section in stack_sections:
            body += section(result)
    stacks = " ".join(r.stack for r in results)
    return fit("\n".join(head), body, budget, TRIMMED.format(stacks=stacks))


def counts_line(result: StackSummary) -> str:
    if result.error:
        return f"**{result.stack}**: not previewed: {result.error}"
    if not result.changes:
        return f"**{result.stack}**: no changes ({result.unchanged} resources unchanged)."
    counts = ", ".join(f"{result.counts.get(op, 0)} to {op}" for op in OPS)
    return f"**{result.stack}**: {counts} ({result.unchanged} unchanged)."


def banner(result: StackSummary) -> list[str]:
    """A GitHub alert when `up` would delete or replace anything: what holds data first, by name."""
    destructive = result.destructive
    if not destructive:
        return []
    data = sorted((c for c in destructive if c.data), key=lambda c: DATA_FIRST.get(c.kind, len(DATA_FIRST)))
    others = len(destructive) - len(data)
    if data:
        lines = [
            "",
            "> [!CAUTION]",
            f"> **{result.stack}: `up` would delete or replace {len(destructive)} resource(s); "
            f"{len(data)} of them hold data (database, volumes, backups):**",
        ]
        lines += [f"> - {c.op} {c.kind} `{c.name}`: {c.data}" for c in data]
        if others:
            lines.append(f"> - and {others} other resource(s) (listed below)")
        lines.append(">")
        lines.append("> Take a backup first (`python -m backup_runner run`) and make sure this is meant.")
        return lines
    names = ", ".join(f"{c.kind} `{c.name}`" for c in destructive[:10])
    more = f" and {len(destructive) - 10} more" if len(destructive) > 10 else ""
    return [
        "",
        "> [!WARNING]",
        f"> **{result.stack}: `up` would delete or replace {len(destructive)} resource(s)** (none holds data): "
        f"{names}{more}.",
    ]


def release_section(result: StackSummary) -> list[str]:
    release = result.release
    if release is None:
        return []
    if not release.changed:
        return [f"**Release**: release unchanged ({release.new_version}).", ""]
    if release.source == "recorded":
        line = f"**Release**: {release.old_version or '(none recorded)'} -> {release.new_version}"
    else:
        line = f"**Release**: {release.new_version} as declared (the stack keeps no record of the one before)"
    lines = [line]
    lines += [f"- {s}: `{old or '(none)'}` -> `{new or '(none)'}`" for s, old, new in release.images]
    if not release.images:
        lines.append("- images unchanged")
    return [*lines, ""]


def policies_section(result: StackSummary) -> list[str]:
    found = result.policies
    if found is None:
        return []
    if not found.ran:
        return ["**Policies**: the policy pack did not run (`--no-policies`); this change is not checked.", ""]
    if result.error and not found.findings:
        return ["**Policies**: not checked: the stack could not be previewed (above).", ""]
    level = next((n.removeprefix("policies: ") for n in found.notes if " rules from policies/" in n), "")
    count = f"{len(found.findings)} finding(s)" if found.findings else "no findings"
    lines = [f"**Policies**: {count}{f' ({level})' if level else ''}."]
    lines += [f"- {n.removeprefix('policies: ')}" for n in found.notes if n.startswith("policies: WAIVED")]
    if found.findings:
        lines += ["", "| rule | level | resource | message |", "| --- | --- | --- | --- |"]
        waived: dict[str, list[dict[str, Any]]] = {}
        for f in found.findings:
            message = str(f.get("message") or "").strip()
            if message.startswith("WAIVED ("):
                waived.setdefault(str(f.get("policyName")), []).append(f)
                continue
            lines.append(f"| {f.get('policyName')} | {f.get('enforcementLevel')} | {where(f)} | {cell(message)} |")
        for rule, folded in waived.items():  # one line per waived rule: the waiver is the news
            waiver, _, first = str(folded[0].get("message") or "").partition("): ")
            more = f" (and {len(folded) - 1} more like it)" if len(folded) > 1 else ""
            places = where(folded[0]) if len(folded) == 1 else f"{len(folded)} resources"
            lines.append(f"| {rule} | waived | {places} | {cell(waiver.strip() + ')')}: {cell(first)}{more} |")
    return [*lines, ""]


def where(finding: dict[str, Any]) -> str:
    urn = finding.get("resourceUrn") or ""
    return f"`{describe(urn)[1]}`" if "::" in urn else "(stack)"


def changes_section(result: StackSummary) -> list[str]:
    if not result.changes:
        return []
    lines = [f"<details><summary>{len(result.changes)} resource(s) change</summary>", ""]
    for c in result.changes:
        lines.append(f"#### {c.op} {c.kind} `{c.name}`" + (f" ({c.data})" if c.data else ""))
        lines.append("")
        if c.kind.endswith(RELEASE_TYPE):
            lines += ["The release record (see **Release** above).", ""]
        elif c.fields:
            lines += ["| field | now | after up |", "| --- | --- | --- |"]
            lines += [f"| {f} | {cell(now)} | {cell(after)} |" for f, now, after in c.fields]
            lines.append("")
    return [*lines, "</details>", ""]


# What each stack's part of the report holds, in order: the seam for more (a cost estimate).
stack_sections: tuple[Callable[[StackSummary], list[str]], ...] = (release_section, policies_section, changes_section)


def fit(head: str, body: list[str], budget: int, trimmed: str) -> str:
    """`head` and as much of `body` as fits `budget` (in UTF-8 bytes, which is never fewer than
    characters), cut at a line, any `<details>` left open closed."""
    whole = "\n".join([head, *body])
    if size(whole) <= budget:
        return whole
    room = budget - size(head) - size(trimmed) - 40  # the closing tags and newlines
    kept, used, open_details = [], 0, 0
    for line in body:
        if used + size(line) + 1 > room:
            break
        kept.append(line)
        used += size(line) + 1
        open_details += line.startswith("<details>") - line.startswith("</details>")
    return "\n".join([head, *kept, *["", "</details>"] * open_details, "", trimmed, ""])


def size(text: str) -> int:
    return len(text.encode())


# ---- json ----


def as_json(results: list[StackSummary]) -> str:
    """The same data for machines: per stack the counts, what holds data among the deleted or
    replaced, the release, the policy findings and each change with its fields."""
    stacks = []
    for r in results:
        stacks.append(
            {
                "stack": r.stack,
                "error": r.error or None,
                "counts": r.counts,
                "unchanged": r.unchanged,
                "data_at_risk": [
                    {"op": c.op, "type": c.kind, "name": c.name, "holds": c.data} for c in r.destructive if c.data
                ],
                "release": asdict(r.release) if r.release else None,
                "policies": asdict(r.policies) if r.policies else None,
                "changes": [
                    {**asdict(c), "fields": [{"field": f, "now": a, "after_up": b} for f, a, b in c.fields]}
                    for c in r.changes
                ],
            }
        )
    return json.dumps({"stacks": stacks}, indent=2, sort_keys=True) + "\n"


def exit_code(results: list[StackSummary]) -> int:
    return 1 if any(r.error for r in results) else 0
