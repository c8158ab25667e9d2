"""Build the right environment for a declaration's target and export what operators need."""

from __future__ import annotations

from pathlib import Path

import pulumi

from .local import LocalStack
from .spec import EnvironmentSpec
from .stack_config import pulumi_secret


def build_environment(stack: str, spec: EnvironmentSpec, project_root: Path) -> pulumi.ComponentResource:
    """Register the stack's resources and its outputs (secret ones stay secret)."""
    if spec.target != "local":
        raise pulumi.RunError(
            f"stack {stack!r} targets {spec.target}, which this version cannot deploy yet: the Railway "
            "target (client, providers and emulator) is tracked as its own issue. Its declaration is valid; "
            "check it any time with `./mvs validate " + stack + "`."
        )
    environment = LocalStack(stack, spec, pulumi_secret, project_root)
    pulumi.export("target", spec.target)
    pulumi.export("release", spec.release.version)
    pulumi.export("urls", environment.urls)
    pulumi.export("connection_string", environment.connection_string)
    return environment
