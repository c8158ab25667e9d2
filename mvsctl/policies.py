"""The policy pack (policies/) on every preview, up and rehearsal: which rules bind which stack,
who waived what, and what the engine reported.

- How hard a stack's rules bind comes from `policies/enforcement.yaml` (advisory on dev,
  mandatory on staging and prod), never from the command line, so a release cannot loosen them.
- A waiver is a key of the stack file, `mvs:policyWaivers`: a list of `{rule, by, reason}`. A
  waived rule still runs and reports, as advisory, with the waiver in its message; every
  preview and up prints the stack's waivers first.
- The engine's event log (`--event-log`) is the only place policy results appear in machine
  form (`preview --json` leaves them out): the violations are kept as JSON lines in
  `.state/policies/<stack>.jsonl` for the pull-request summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.errors import DeclarationError, Problem
from components.stack_config import read_stack_config, stack_file

from .pulumi_cli import PROJECT_ROOT

PACK_DIR = PROJECT_ROOT / "policies"
ENFORCEMENT_FILE = PACK_DIR / "enforcement.yaml"
WAIVERS_KEY = "mvs:policyWaivers"
LEVELS = ("advisory", "mandatory")
NO_POLICIES = "--no-policies"
SKIPPED_BANNER = (
    "!!! POLICIES SKIPPED (--no-policies): this {verb} of {stack} is not checked against policies/. "
    "Say why in the pull request."
)


@dataclass(frozen=True)
class Waiver:
    rule: str
    by: str
    reason: str

    def text(self) -> str:
        return f"waived by {self.by}: {self.reason}"


def enforcement_level(stack: str, path: Path = ENFORCEMENT_FILE) -> str:
    """advisory or mandatory for `stack`; a stack the file does not name gets its `default`."""
    display = path.relative_to(PROJECT_ROOT).as_posix() if path.is_relative_to(PROJECT_ROOT) else str(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise DeclarationError([Problem(display, "(file)", f"unreadable ({error})", "valid YAML")]) from None
    stacks = document.get("stacks") or {}
    level = stacks.get(stack, document.get("default"))
    key = f"stacks.{stack}" if stack in stacks else "default"
    if level not in LEVELS:
        raise DeclarationError([Problem(display, key, repr(level), " or ".join(LEVELS))])
    return level


def read_waivers(stack: str, rules: set[str], project_root: Path = PROJECT_ROOT) -> list[Waiver]:
    """The stack file's waivers, checked: each names a known rule, who waived it and why."""
    display = stack_file(stack)
    config = read_stack_config(project_root / display, display)
    raw = config.get(WAIVERS_KEY, [])
    problems: list[Problem] = []
    waivers: list[Waiver] = []
    if not isinstance(raw, list):
        raise DeclarationError([Problem(display, WAIVERS_KEY, type(raw).__name__, "a list of {rule, by, reason}")])
    for index, entry in enumerate(raw):
        key = f"{WAIVERS_KEY}[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"rule", "by", "reason"}:
            found = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
            problems.append(Problem(display, key, repr(found), "exactly the keys rule, by and reason"))
            continue
        if entry["rule"] not in rules:
            allowed = "one of " + ", ".join(sorted(rules))
            problems.append(Problem(display, f"{key}.rule", repr(entry["rule"]), allowed))
        for field in ("by", "reason"):
            if not isinstance(entry[field], str) or not entry[field].strip():
                problems.append(Problem(display, f"{key}.{field}", repr(entry[field]), "a non-empty text"))
        waivers.append(Waiver(str(entry["rule"]), str(entry["by"]).strip(), str(entry["reason"]).strip()))
    seen = [w.rule for w in waivers]
    for rule in sorted({r for r in seen if seen.count(r) > 1}):
        problems.append(Problem(display, WAIVERS_KEY, f"rule {rule!r} waived twice", "one waiver per rule"))
    if problems:
        raise DeclarationError(problems)
    return waivers


VIOLATION_FIELDS = ("policyName", "policyPackName", "enforcementLevel", "severity", "message", "resourceUrn")


def violations_from_event_log(path: Path) -> list[dict[str, Any]]:
    """Every policy violation in an engine event log (one JSON event per line)."""
    found = []
    if not path.exists():
        return found
    for line in path.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        policy = event.get("policyEvent")
        if isinstance(policy, dict):
            found.append({field: policy.get(field) for field in VIOLATION_FIELDS})
    return found


def record_violations(stack: str, event_log: Path, state_dir: Path) -> tuple[Path, int]:
    """Write the run's violations to `<state_dir>/policies/<stack>.jsonl` (replacing the last run's)."""
    violations = violations_from_event_log(event_log)
    out = state_dir / "policies" / f"{stack}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps({"stack": stack, **v}, sort_keys=True) + "\n" for v in violations))
    return out, len(violations)


@dataclass
class PolicyRun:
    """The pulumi arguments that run the pack for one command, and what to do when it ends."""

    args: list[str]
    stack: str
    event_log: Path | None
    state_dir: Path

    def finish(self, say, kept: bool = True) -> None:
        """Keep the run's violations as JSON lines and say where they are. `kept=False`: the
        state directory is about to go (a rehearsal's), so only the count is said."""
        if self.event_log is None:
            return
        out, count = record_violations(self.stack, self.event_log, self.state_dir)
        if not kept:
            say(f"policies: {count} finding(s) in this run (each is listed above)")
            return
        shown = out.relative_to(PROJECT_ROOT) if out.is_relative_to(PROJECT_ROOT) else out
        say(f"policies: {count} finding(s) recorded in {shown}")


def policy_run(
    stack: str, verb: str, pulumi_args: list[str], say, state_dir: Path = PROJECT_ROOT / ".state"
) -> PolicyRun:
    """The pack for `verb` (preview, up, rehearse) of `stack`, unless `--no-policies` is among the
    arguments: then it is removed from them and a banner says the run is unchecked."""
    if NO_POLICIES in pulumi_args:
        pulumi_args[:] = [arg for arg in pulumi_args if arg != NO_POLICIES]
        say(SKIPPED_BANNER.format(verb=verb, stack=stack))
        return PolicyRun([], stack, None, state_dir)
    from policies.pack_config import RULE_NAMES, pack_config  # the pack's own contract

    level = enforcement_level(stack)
    waivers = read_waivers(stack, set(RULE_NAMES))
    say(f"policies: {len(RULE_NAMES)} rules from policies/, {level} on {stack}")
    for waiver in waivers:
        say(f"policies: WAIVED {waiver.rule} on {stack} ({waiver.text()}), from {stack_file(stack)} {WAIVERS_KEY}")
    directory = state_dir / "policies"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / f"{stack}-config.json"
    config.write_text(
        json.dumps(pack_config(stack, stack_file(stack), level, {w.rule: w.text() for w in waivers}), indent=2)
    )
    event_log = directory / f"{stack}-events.ndjson"
    event_log.unlink(missing_ok=True)
    # --event-log is one of pulumi's hidden flags; this environment variable lets it through.
    os.environ["PULUMI_DEBUG_COMMANDS"] = "true"
    args = ["--policy-pack", str(PACK_DIR), "--policy-pack-config", str(config), "--event-log", str(event_log)]
    return PolicyRun(args, stack, event_log, state_dir)
