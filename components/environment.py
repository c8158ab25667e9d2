"""Build the right environment for a declaration's target and export what operators need."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from .local import LocalStack
from .railway.client import ACCOUNT_TOKEN_ENV, PROJECT_TOKEN_ENV
from .railway.stack import RailwayStack
from .release import Release, current_commit, declared_snapshot, digest_of
from .spec import EnvironmentSpec
from .spec.secret_command import set_secret_advice
from .stack_config import pulumi_secret, read_stack_config, sibling_environments, sibling_project_ids, stack_file


def require_railway_token() -> None:
    """Stop before any request when no Railway token is configured anywhere."""
    if pulumi.Config("railway").get("token") or os.environ.get(ACCOUNT_TOKEN_ENV) or os.environ.get(PROJECT_TOKEN_ENV):
        return
    raise pulumi.RunError(
        f"no Railway token: set {ACCOUNT_TOKEN_ENV} to an account or workspace token (or {PROJECT_TOKEN_ENV} to a "
        f"project token), or store one in the stack: {set_secret_advice(pulumi.get_stack(), 'railway:token')}. "
        "Nothing was changed."
    )


def build_environment(stack: str, spec: EnvironmentSpec, project_root: Path) -> pulumi.ComponentResource:
    """Register the stack's resources and its outputs (secret ones stay secret)."""
    pulumi.export("target", spec.target)
    pulumi.export("release", spec.release.version)
    if spec.target == "railway":
        require_railway_token()
        railway = RailwayStack(
            stack,
            spec,
            pulumi_secret,
            sibling_project_ids(project_root, stack, spec),
            sibling_environments=sibling_environments(project_root, stack, spec),
        )
        pulumi.export("project_id", railway.project.project_id)
        pulumi.export("environment_id", railway.environment.environment_id)
        pulumi.export("service_ids", railway.service_ids)
        pulumi.export("urls", railway.urls)
        pulumi.export("dns_records", railway.dns_records)
        pulumi.export("connection_string", railway.connection_string)
        if railway.backups is not None:
            pulumi.export("backups", railway.backups)
        runs = {name: {"deployment_id": railway.deployments[name].deployment_id} for name in spec.services}
        record_release(stack, spec, project_root, runs, railway)
        return railway
    environment = LocalStack(stack, spec, pulumi_secret, project_root)
    pulumi.export("urls", environment.urls)
    pulumi.export("connection_string", environment.connection_string)
    if environment.backups is not None:
        pulumi.export("backups", environment.backups.summary)
    runs = {name: {"image_id": container.image} for name, container in environment.containers.items()}
    record_release(stack, spec, project_root, runs, environment)
    return environment


def record_release(
    stack: str,
    spec: EnvironmentSpec,
    project_root: Path,
    runs: dict[str, dict[str, pulumi.Input[str]]],
    parent: pulumi.Resource,
) -> Release:
    """The release history's resource, updated after every service it records is live."""
    services = {
        name: {
            "image": spec.image_for(name),
            "digest": digest_of(spec.image_for(name)),
            **run,
        }
        for name, run in runs.items()
    }
    raw_config = read_stack_config(project_root / stack_file(stack), stack_file(stack))
    return Release(
        f"{stack}-release",
        spec.release.version,
        services,
        current_commit(project_root),
        declared_snapshot(spec, raw_config),
        opts=pulumi.ResourceOptions(parent=parent),
    )
