"""A warning before `./mvs` writes secrets into a stack file that other checkouts could not read.

Stack files are tracked by git and shared; their secrets are encrypted by the stack's secrets
provider. With the passphrase provider and no passphrase of the team's (the `mvs` wrapper then
points PULUMI_CONFIG_PASSPHRASE_FILE at this checkout's random `.state/passphrase`), what is written
decrypts here and nowhere else: a teammate's checkout and CI fail on it later.

Contract for commands that write a stack file (dev secrets today; promote, rollback and
`release set` next): call `warn_if_unshareable(stack, say)` once, before the write. It says one
line through `say` when, and only when, all of these hold:

- `stacks/Pulumi.<stack>.yaml` is tracked by git (`git ls-files --error-unmatch`);
- the file names no other secrets provider (no `secretsprovider:` line, or `passphrase`);
- the passphrase is this checkout's generated one: PULUMI_CONFIG_PASSPHRASE is empty or unset, and
  PULUMI_CONFIG_PASSPHRASE_FILE is unset or is `<project>/.state/passphrase`.

It never raises and never stops the command: the write goes ahead (a developer's own stack may
well use a private passphrase); the line names the file and how to share it instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

from components.errors import ToolError
from components.stack_config import stack_file

from .process import run
from .pulumi_cli import PROJECT_ROOT

GENERATED_PASSPHRASE = Path(".state") / "passphrase"  # relative to the project; made by the `mvs` wrapper


def uses_generated_passphrase(env: Mapping[str, str], project: Path = PROJECT_ROOT) -> bool:
    """True when secrets are encrypted with this checkout's `.state/passphrase`, not a team's."""
    if env.get("PULUMI_CONFIG_PASSPHRASE"):
        return False
    given = env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if not given:
        return True
    return Path(given).resolve() == (project / GENERATED_PASSPHRASE).resolve()


def secrets_provider(stack_text: str) -> str:
    """The stack file's `secretsprovider` (`passphrase` when it names none)."""
    try:
        document = yaml.safe_load(stack_text)
    except yaml.YAMLError:
        return "passphrase"
    provider = document.get("secretsprovider") if isinstance(document, dict) else None
    return str(provider) if provider else "passphrase"


def is_unshareable(*, tracked: bool, provider: str, generated_passphrase: bool) -> bool:
    """The decision, on facts already gathered: a shared file, the passphrase provider, a private passphrase."""
    return tracked and provider == "passphrase" and generated_passphrase


def is_tracked(path: str, project: Path = PROJECT_ROOT) -> bool:
    """Whether git tracks `path` (relative to `project`); False outside a repository or without git."""
    try:
        run(["git", "ls-files", "--error-unmatch", "--", path], cwd=str(project))
    except (ToolError, OSError):
        return False
    return True


def warning(path: str, stack: str) -> str:
    return (
        f"warning: {path} is tracked by git, and the secrets written to it now are encrypted with this "
        f"checkout's own passphrase ({GENERATED_PASSPHRASE}): other checkouts and CI cannot decrypt them. "
        "To share it, set PULUMI_CONFIG_PASSPHRASE to the team's passphrase (as CI's repository secret is), "
        f"or use a KMS provider: ./mvs pulumi stack change-secrets-provider --stack {stack} awskms://…"
    )


def warn_if_unshareable(
    stack: str,
    say: Callable[[str], None],
    project: Path = PROJECT_ROOT,
    env: Mapping[str, str] | None = None,
) -> None:
    """Say one line when a write to this stack's file could not be decrypted by other checkouts."""
    path = stack_file(stack)
    try:
        text = (project / path).read_text()
    except OSError:
        return  # no file yet: nothing shared to spoil
    unshareable = is_unshareable(
        tracked=is_tracked(path, project),
        provider=secrets_provider(text),
        generated_passphrase=uses_generated_passphrase(os.environ if env is None else env, project),
    )
    if unshareable:
        say(warning(path, stack))
