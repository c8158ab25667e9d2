"""What `./mvs destroy` would refuse to delete, said before Pulumi is asked.

A stack with `database.protect: true` (prod) protects its database and everything it needs to
start. Asked to destroy it, Pulumi refuses and advises `pulumi state unprotect` for each resource:
advice that, followed on prod, deletes the production database. So `./mvs destroy` reads the state
first and, when protected resources would be in the way, stops before anything changes with one
line whose next step is safe: `--exclude-protected`, which removes everything else and keeps a
database that starts on its own data.
"""

from __future__ import annotations

import json
from pathlib import Path

from components.errors import MvsError

from .pulumi_cli import PROJECT_ROOT, pulumi

EXCLUDE_PROTECTED = "--exclude-protected"


def protected_resources(stack: str, project: Path = PROJECT_ROOT) -> list[str]:
    """The names of the stack's protected resources, as its state records them (none when the
    state cannot be read: Pulumi then says what is wrong itself)."""
    try:
        exported = json.loads(pulumi("stack", "export", "--stack", stack, project=project) or "{}")
    except (MvsError, ValueError):
        return []
    resources = (exported.get("deployment") or {}).get("resources") or []
    return [resource["urn"].rsplit("::", 1)[-1] for resource in resources if resource.get("protect")]


def refusal(stack: str, protected: list[str], stack_file: str) -> str:
    shown = ", ".join(protected[:3]) + (f" and {len(protected) - 3} more" if len(protected) > 3 else "")
    return (
        f"error: {stack} protects its database ({shown}: database.protect in {stack_file}), so destroy would stop "
        f"halfway; nothing was changed. To remove everything else and keep a database that starts on its own data: "
        f"./mvs destroy {stack} {EXCLUDE_PROTECTED}"
    )
