"""Secrets: no variable that looks like a secret is stored in plaintext.

Policies see every value decrypted, so which variables hold a declared secret comes from the
resource: a Railway service's Variables name them (`secret_names`, from `secrets:` and the
database password); any other variable is plaintext in the stack file and is judged by its name
and its value. A Docker container's environment is one list that does not say which entries came
from secrets (dev's own secrets are random strings), so there only values in a well-known
credential format count. Messages name the variable and why it looks secret, never its value.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components.spec.secret_command import set_secret_advice

from ..contract import Context, resource_context, resource_policy
from ..declaration import DOCKER_CONTAINER, VARIABLES, Part, part_of
from ..secret_shapes import credential_kind, is_reference, looks_secret_by_name, secret_value_kind
from ..values import known, plain


def _report(ctx: Context, part: Part, name: str, why: str, where: str) -> None:
    if part.declared:
        ctx.report(
            part.key(f"env.{name}"),
            f"looks like a secret ({why}) and is stored in plaintext; set it as a secret instead: "
            f"{part.key('secrets')}.{name}: <secret name>, then {set_secret_advice(ctx.stack, '<secret name>')}",
        )
    else:
        ctx.report(
            part.key(),
            f"puts {name} into {where} in plaintext, and it looks like a secret ({why}); the components must pass it "
            "as a secret",
        )


def no_plaintext_secrets(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    ctx = resource_context(args, report_violation)
    props = plain(args.props)
    part = part_of(args.resource_type, args.name, ctx.stack, props)
    if part is None:
        return
    if args.resource_type == VARIABLES:
        variables, secret_names = props.get("variables"), props.get("secret_names") or []
        if not isinstance(variables, dict) or not known(secret_names):
            return
        for name, value in sorted(variables.items()):
            if name in secret_names or not known(value) or is_reference(str(value)):
                continue
            kind = secret_value_kind(str(value))
            why = f"its value looks like {kind}" if kind else "by its name" if looks_secret_by_name(name) else None
            if why:
                _report(ctx, part, name, why, f"the variables of {args.name}")
    elif args.resource_type == DOCKER_CONTAINER and isinstance(props.get("env"), list):
        for entry in props["env"]:
            if not known(entry):
                continue
            name, _, value = str(entry).partition("=")
            kind = credential_kind(value)
            if kind:
                _report(ctx, part, name, f"its value looks like {kind}", f"the environment of container {args.name}")


POLICIES = [
    resource_policy(
        "no-plaintext-secrets",
        "No variable that looks like a secret, by its name or its value, is stored in plaintext.",
        Severity.CRITICAL,
        no_plaintext_secrets,
    ),
]
