"""Policy arguments as the engine builds them, from hand-written properties or from everything the
components register for a declaration (under Pulumi mocks), and a report that collects.

Properties go through pulumi_policy's unknown-checking proxy, as the engine's do, so a rule that
touched a preview's unknown value would raise here too. The PolicyPack itself is never built: it
starts a server.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.rules import POLICIES
from tests.components.recording import Registration, declare

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "mvs:dbPassword": "db-Never-In-A-Message-1",
    "mvs:sessionSecret": "session-Never-In-A-Message-2",
    "mvs:backupAccessKey": "access-Never-In-A-Message-3",
    "mvs:backupSecretKey": "key-Never-In-A-Message-4",
    "mvs:grafanaAdminPassword": "grafana-Never-In-A-Message-5",
    "railway:token": "token-Never-In-A-Message-6",
}
RULES = {policy.name: policy for policy in POLICIES}


@dataclass
class Report:
    """A report_violation that keeps every message (and the URN a stack rule attaches)."""

    messages: list[str] = field(default_factory=list)
    urns: list[str | None] = field(default_factory=list)

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.messages.append(message)
        self.urns.append(urn)


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def urn_of(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::mvs::{type_}::{name}"


def resource_args(
    type_: str, name: str, props: dict[str, Any], stack: str = "prod", protect: bool = False, config: dict | None = None
) -> ResourceValidationArgs:
    proxied = unknown_checking_proxy(copy.deepcopy(props))
    return ResourceValidationArgs(type_, proxied, urn_of(stack, type_, name), name, options(protect), None, config)


def policy_resource(type_: str, name: str, props: dict[str, Any], stack: str = "prod", protect: bool = False):
    proxied = unknown_checking_proxy(copy.deepcopy(props))
    return PolicyResource(type_, proxied, urn_of(stack, type_, name), name, options(protect), None, None, [], {})


def stack_args(resources: list[PolicyResource], config: dict | None = None) -> StackValidationArgs:
    return StackValidationArgs(resources, config)


def check(rule, args) -> list[str]:
    """Call one rule's validate function directly; its messages."""
    report = Report()
    rule(args, report)
    return report.messages


def raw_declaration(stack: str) -> dict:
    document = yaml.safe_load((ROOT / f"stacks/Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(document["config"]["mvs:environment"])


def registered(stack: str, raw: dict | None = None) -> list[Registration]:
    """Everything the components register for `raw` (default: the stack file's declaration)."""
    return declare(raw if raw is not None else raw_declaration(stack), SECRETS, ROOT, stack).registrations


def named(registrations: list[Registration], name: str) -> Registration:
    (found,) = [r for r in registrations if r.name == name]
    return found


def findings(registrations: list[Registration], config: dict | None = None) -> dict[str, list[str]]:
    """Every rule's messages on these registrations, as the engine would run them (resource rules on
    each resource's inputs, stack rules once on all of them), by rule name; rules with none left out."""
    found: dict[str, list[str]] = defaultdict(list)
    resources = [r for r in registrations if not r.type.startswith("pulumi:pulumi:")]
    for name, policy in RULES.items():
        report = Report()
        if isinstance(policy, ResourceValidationPolicy):
            for r in resources:
                props = unknown_checking_proxy(copy.deepcopy(r.inputs))
                args = ResourceValidationArgs(r.type, props, r.urn, r.name, options(r.protect), None, config)
                policy.validate(args, report)
        else:
            listed = [
                PolicyResource(
                    r.type,
                    unknown_checking_proxy(copy.deepcopy(r.inputs)),
                    r.urn,
                    r.name,
                    options(r.protect),
                    None,
                    None,
                    [],
                    {},
                )
                for r in resources
            ]
            policy.validate(StackValidationArgs(listed, config), report)
        if report.messages:
            found[name] = report.messages
    return dict(found)
