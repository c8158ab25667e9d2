"""One entry point from raw stack configuration to a validated EnvironmentSpec."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from ..errors import DeclarationError, Problem
from .models import EnvironmentSpec
from .problems import findings_from_validation_error, show
from .references import SecretLookup, check_references
from .siblings import Sibling, check_siblings

NAMESPACE = "mvs"  # the project's config namespace: the declaration and its secrets live here
ENVIRONMENT_KEY = "environment"
CONFIG_KEY = f"{NAMESPACE}:{ENVIRONMENT_KEY}"


def stack_name(file: str) -> str:
    """The stack a file declares: `stacks/Pulumi.prod.yaml` -> `prod`."""
    match = re.search(r"Pulumi\.([^/\\]+)\.ya?ml$", file)
    return match.group(1) if match else file


def parse_environment(
    raw: Any, file: str, secrets: SecretLookup = None, siblings: Sequence[Sibling] = ()
) -> EnvironmentSpec:
    """Validate `raw` (the value of the `mvs:environment` key of `file`).

    Raises DeclarationError listing every problem: per-field ones from the models,
    cross-part ones from references.py and clashes with the `siblings` (the other stacks in
    the same directory) together. `secrets` says how each referenced secret is set; None skips
    those checks (for example when only the shape of a file is being checked).
    """
    if not isinstance(raw, Mapping):
        found = "nothing" if raw is None else show(raw)
        raise DeclarationError(
            [Problem(file, CONFIG_KEY, found, "a mapping with target, release, database and services")]
        )
    findings = []
    spec = None
    try:
        spec = EnvironmentSpec.model_validate(raw)
    except ValidationError as error:
        findings += findings_from_validation_error(raw, error)
    findings += check_references(raw, secrets, stack_name(file))
    findings += check_siblings(raw, stack_name(file), siblings)
    if findings:
        raise DeclarationError(
            [Problem(file, f"{CONFIG_KEY}.{key}", found, allowed) for key, found, allowed in findings]
        )
    assert spec is not None
    return spec
