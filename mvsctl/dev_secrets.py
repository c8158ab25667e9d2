"""Secrets for a local dev stack, made on first use so `./mvs up dev` works out of the box.

Only the local target gets generated secrets: they protect nothing outside the developer's
machine. Staging and prod secrets are set by a person, and a missing one stops the run with the
command to set it.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from components.spec import NAMESPACE, EnvironmentSpec

from .pulumi_cli import PROJECT_ROOT, configured_keys, set_secret
from .shared_secrets import warn_if_unshareable


def _say_err(message: str) -> None:
    print(message, file=sys.stderr)


def ensure_dev_secrets(
    stack: str, spec: EnvironmentSpec, project: Path = PROJECT_ROOT, say: Callable[[str], None] = _say_err
) -> list[str]:
    """Generate every referenced secret the stack lacks; return the names generated. Before writing
    any, say so if other checkouts could not decrypt them (see shared_secrets)."""
    if spec.target != "local":
        raise ValueError("secrets are generated for local stacks only")
    present = configured_keys(stack, project)
    missing = sorted(n for n in spec.secret_names() if f"{NAMESPACE}:{n}" not in present)
    if missing:
        warn_if_unshareable(stack, say, project)
    for name in missing:
        set_secret(stack, f"{NAMESPACE}:{name}", secrets.token_urlsafe(32), project)
    return missing
