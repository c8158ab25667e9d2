"""Build the right environment for a declaration's target and export what operators need."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from .local import LocalStack
from .railway.client import ACCOUNT_TOKEN_ENV, PROJECT_TOKEN_ENV
from .railway.stack import RailwayStack
from .spec import EnvironmentSpec
from .stack_config import pulumi_secret, sibling_environments, sibling_project_ids


def require_railway_token() -> None:
    """Stop before any request when no Railway token is configured anywhere."""
    if pulumi.Config("railway").get("token") or os.environ.get(ACCOUNT_TOKEN_ENV) or os.environ.get(PROJECT_TOKEN_ENV):
        return
    raise pulumi.RunError(
        f"no Railway token: set {ACCOUNT_TOKEN_ENV} to an account or workspace token (or {PROJECT_TOKEN_ENV} to a "
        f"project token), or store one in the stack: `./mvs pulumi config set --secret --stack {pulumi.get_stack()} "
        "railway:token` (it reads the value from stdin). Nothing was changed."
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
        return railway
    environment = LocalStack(stack, spec, pulumi_secret, project_root)
    pulumi.export("urls", environment.urls)
    pulumi.export("connection_string", environment.connection_string)
    if environment.backups is not None:
        pulumi.export("backups", environment.backups.summary)
    return environment
