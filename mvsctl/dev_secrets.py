"""Secrets for a local dev stack, made on first use so `./mvs up dev` works out of the box.

Only the local target gets generated secrets: they protect nothing outside the developer's
machine. Staging and prod secrets are set by a person, and a missing one stops the run with the
command to set it.
"""

from __future__ import annotations

import secrets

from components.spec import EnvironmentSpec

from .pulumi_cli import configured_keys, set_secret

NAMESPACE = "mvs"


def ensure_dev_secrets(stack: str, spec: EnvironmentSpec) -> list[str]:
    """Generate every referenced secret the stack lacks; return the names generated."""
    if spec.target != "local":
        raise ValueError("secrets are generated for local stacks only")
    present = configured_keys(stack)
    missing = sorted(n for n in spec.secret_names() if f"{NAMESPACE}:{n}" not in present)
    for name in missing:
        set_secret(stack, f"{NAMESPACE}:{name}", secrets.token_urlsafe(32))
    return missing
