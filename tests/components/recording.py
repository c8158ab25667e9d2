"""Pulumi mocks that record everything a component registers.

Pulumi's own Mocks see only a resource's inputs; the monitor also sees what tests of a
component care about: dependencies, protection, parents and which inputs are secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

# Pulumi marks a secret value in an RPC payload as {SIG_KEY: SECRET_SIG, "value": ...}.
SIG_KEY = rpc._special_sig_key
SECRET_SIG = rpc._special_secret_sig


def _is_secret(value) -> bool:
    return (
        value.HasField("struct_value")
        and value.struct_value.fields.get(SIG_KEY) is not None
        and (value.struct_value.fields[SIG_KEY].string_value == SECRET_SIG)
    )


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    protect: bool
    parent: str
    retain_on_delete: bool = False
    secret_inputs: set[str] = field(default_factory=set)
    secret_outputs: set[str] = field(default_factory=set)


COMPUTED_BY_PROVIDERS = (
    "project_id",
    "environment_id",
    "service_id",
    "volume_id",
    "volume_instance_id",
    "domain",
    "domain_id",
    "applied_at",
    "deployment_id",
    "status",
    "latest_started_at",
)


class RecordingMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "pulumi-python:dynamic/docker:Image":
            outputs["image_id"] = f"sha256:{'0' * 56}{len(args.name):08x}"  # the id the engine reports
        if args.typ.startswith("pulumi-python:dynamic"):
            # What a Railway provider would compute (ids, domains, timestamps): a value named after it.
            for key in COMPUTED_BY_PROVIDERS:
                if outputs.get(key) is None:
                    outputs[key] = f"{args.name}:{key}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        secret_inputs = {key for key, value in request.object.fields.items() if _is_secret(value)}
        self.registrations.append(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                inputs={k: rpc.unwrap_rpc_secret(v) for k, v in rpc.deserialize_properties(request.object).items()},
                dependencies=list(request.dependencies),
                property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                protect=request.protect,
                parent=request.parent,
                retain_on_delete=request.retainOnDelete,
                secret_inputs=secret_inputs,
                secret_outputs=set(request.additionalSecretOutputs),
            )
        )
        return response

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]


@dataclass
class Declared:
    """Everything a stack's components register, by type and name."""

    registrations: list[Registration]
    stack: str = "dev"

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        (found,) = [r for r in self.registrations if r.name == name]
        return found


def declare(raw: dict, secrets: dict[str, str], project_root: Path, stack: str = "dev") -> Declared:
    """Everything the components register for the declaration `raw`, under Pulumi mocks."""
    from components.environment import build_environment
    from components.spec import parse_environment

    pulumi.runtime.set_all_config(secrets, list(secrets))
    monitor = RecordingMonitor(RecordingMocks())
    pulumi.runtime.set_mocks(RecordingMocks(), project="mvs", stack=stack, preview=False, monitor=monitor)
    spec = parse_environment(raw, f"stacks/Pulumi.{stack}.yaml")

    @pulumi.runtime.test
    def run():
        environment = build_environment(stack, spec, project_root)
        return pulumi.Output.all(environment.urls, environment.connection_string)

    try:
        run()
    finally:
        pulumi.runtime.set_all_config({}, [])
    return Declared(list(monitor.registrations), stack)
