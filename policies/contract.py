"""The contract between the pack and whoever runs it: the config every rule takes, and how a
finding is worded.

Every rule accepts the same three settings (CONFIG_SCHEMA), which `./mvs` writes per stack into
the file it passes with `--policy-pack-config` (README.md here shows the exact JSON):

- `stack`: the stack's name; without it, the stack in the resource's URN;
- `file`: the stack file as messages name it; without it, `stacks/Pulumi.<stack>.yaml`;
- `waiver`: `waived by <who>: <why>`. A waived rule still reports everything it finds, each
  message prefixed `WAIVED (<waiver>): `, and the wiring makes it advisory: the waiver is then
  shown in every preview instead of silently switching the rule off.

A finding names the stack file and the declaration key to change, never a URN and never a
secret's value: `stacks/Pulumi.prod.yaml: mvs:environment.services.backend.replicas is 1; ...`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.spec import CONFIG_KEY
from components.stack_config import stack_file
from components.urns import stack_of

PROD_STACKS = frozenset({"prod"})  # the stacks held to prod's rules
WAIVER_PATTERN = r"^waived by [^:]+: .+$"

CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "stack": {"type": "string", "minLength": 1, "description": "the stack's name (default: from the URN)"},
        "file": {"type": "string", "minLength": 1, "description": "the stack file, as messages name it"},
        "waiver": {
            "type": "string",
            "pattern": WAIVER_PATTERN,
            "description": "who waived this rule for the stack and why: `waived by <who>: <why>`",
        },
    }
)


@dataclass(frozen=True)
class Context:
    """One rule's run on one stack: where it reports, and in whose words."""

    stack: str
    file: str
    waiver: str | None
    report_violation: ReportViolation

    @property
    def prod(self) -> bool:
        return self.stack in PROD_STACKS

    def message(self, key: str, text: str) -> str:
        """`<file>: mvs:environment.<key> <text>`, prefixed when the rule is waived."""
        message = f"{self.file}: {CONFIG_KEY}.{key} {text}"
        return f"WAIVED ({self.waiver}): {message}" if self.waiver else message

    def report(self, key: str, text: str, urn: str | None = None) -> None:
        """One finding. `urn` only places a stack rule's finding under its resource in the output."""
        self.report_violation(self.message(key, text), urn)


def _context(config: Mapping[str, Any], urns: Iterable[str], report_violation: ReportViolation) -> Context:
    stack = config.get("stack") or next((s for s in map(stack_of, urns) if s), "")
    return Context(stack, config.get("file") or stack_file(stack), config.get("waiver") or None, report_violation)


def resource_context(args: ResourceValidationArgs, report_violation: ReportViolation) -> Context:
    return _context(args.get_config(), [args.urn], report_violation)


def stack_context(args: StackValidationArgs, report_violation: ReportViolation) -> Context:
    return _context(args.get_config(), (r.urn for r in args.resources), report_violation)


ResourceRule = Callable[[ResourceValidationArgs, ReportViolation], None]
StackRule = Callable[[StackValidationArgs, ReportViolation], None]


def resource_policy(
    name: str, description: str, severity: Severity, validate: ResourceRule
) -> ResourceValidationPolicy:
    """A rule on each resource's inputs (what the program registered), with the shared config."""
    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, severity=severity, config_schema=CONFIG_SCHEMA
    )


def stack_policy(name: str, description: str, severity: Severity, validate: StackRule) -> StackValidationPolicy:
    """A rule across the stack's resources (their outputs, or inputs while previewing a change)."""
    return StackValidationPolicy(
        name=name, description=description, validate=validate, severity=severity, config_schema=CONFIG_SCHEMA
    )
