"""Where a declaration comes from: the running stack's config, or a stack file on disk.

The program reads the declaration through Pulumi's config (so `--config`, `config set --path`
and secrets all work); the command line and the tests read the same stack files directly. Both
paths end in `parse_environment`, so they accept and refuse exactly the same things, and both give
it the other stack files of the directory, whose clashes with this one Railway would refuse halfway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import FILE_KEY, DeclarationError, Problem
from .spec import (
    CONFIG_KEY,
    ENVIRONMENT_KEY,
    NAMESPACE,
    EnvironmentSpec,
    SecretLookup,
    SecretState,
    Sibling,
    parse_environment,
    shared_environments,
    shared_project_ids,
)

STACKS_DIR = "stacks"


def stack_file(stack: str) -> str:
    """The stack file's path relative to the project root, as error messages name it."""
    return f"{STACKS_DIR}/Pulumi.{stack}.yaml"


def _unreadable(display: str, found: str, allowed: str = "a readable UTF-8 YAML stack file") -> DeclarationError:
    return DeclarationError([Problem(display, FILE_KEY, found, allowed)])


def read_stack_config(path: Path, display: str | None = None) -> Mapping[str, Any]:
    """The `config:` mapping of a stack file, or a DeclarationError naming the file: whatever is
    wrong with the file itself (missing, a directory, not readable, not UTF-8, not YAML) is one
    line about that file, never a traceback, and never stops the other stacks."""
    display = display or str(path)
    try:
        document = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise _unreadable(display, "no such file", "an existing stack file") from None
    except IsADirectoryError:
        raise _unreadable(display, "a directory") from None
    except PermissionError:
        raise _unreadable(display, "a file this user may not read (permission denied)") from None
    except OSError as error:
        raise _unreadable(display, f"a file that cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise _unreadable(display, f"bytes that are not UTF-8 (at byte {error.start})") from None
    except yaml.YAMLError as error:
        problem = " ".join(str(error).split())
        raise _unreadable(display, f"invalid YAML ({problem})", "valid YAML") from None
    config = document.get("config") if isinstance(document, Mapping) else None
    if not isinstance(config, Mapping):
        raise DeclarationError([Problem(display, "config", "nothing", f"a mapping holding {CONFIG_KEY}")])
    return config


def file_secret_lookup(config: Mapping[str, Any], missing_is_fine: bool = False) -> SecretLookup:
    """How each secret is set in a stack file: `secure:` values are encrypted secrets.
    `missing_is_fine`: only plaintext is a problem (dev, whose `up` generates missing secrets)."""

    def lookup(name: str) -> SecretState:
        value = config.get(f"{NAMESPACE}:{name}")
        if value is None:
            return "secret" if missing_is_fine else "missing"
        return "secret" if isinstance(value, Mapping) and "secure" in value else "plaintext"

    return lookup


Say = Callable[[str], None]


def sibling_stacks(
    directory: Path, stack: str, display_dir: str | None = None, say: Say | None = None
) -> list[Sibling]:
    """The declarations of the other stack files in `directory`. A sibling that cannot be read is
    left out: its own validation reports it, this stack's is not blamed for it, and `say` is told
    which one the checks across stack files could not include."""
    siblings = []
    for path in sorted(directory.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi.") : -len(".yaml")]
        if name == stack:
            continue
        display = f"{display_dir}/{path.name}" if display_dir else str(path)
        try:
            config = read_stack_config(path, display)
        except DeclarationError as error:
            if say:
                say(f"note: the checks across stack files left out {error}")
            continue
        siblings.append(Sibling(name, display, config.get(CONFIG_KEY)))
    return siblings


def load_stack_file(
    path: Path,
    display: str | None = None,
    check_secrets: bool = True,
    say: Say | None = None,
    missing_secrets_are_fine: bool = False,
) -> EnvironmentSpec:
    """Validate one stack file without Pulumi running (for `mvs validate` and the tests): its
    shape, its secrets and its clashes with the other stack files, all in one pass."""
    config = read_stack_config(path, display)
    secrets = file_secret_lookup(config, missing_secrets_are_fine) if check_secrets else None
    display = display or str(path)
    stack = path.name[len("Pulumi.") : -len(".yaml")] if path.name.startswith("Pulumi.") else path.stem
    display_dir = display.rsplit("/", 1)[0] if "/" in display else None
    siblings = sibling_stacks(path.parent, stack, display_dir, say)
    return parse_environment(config.get(CONFIG_KEY), display, secrets, siblings)


def sibling_project_ids(project_root: Path, stack: str, spec: EnvironmentSpec) -> dict[str, str]:
    """The project ids the other stack files declare for the Railway project this stack shares with
    them (id -> stack file): candidates when this stack looks for its project instead of creating one."""
    siblings = sibling_stacks(project_root / STACKS_DIR, stack, STACKS_DIR)
    return shared_project_ids(spec.railway.model_dump(), siblings)


def sibling_environments(project_root: Path, stack: str, spec: EnvironmentSpec) -> dict[str, str]:
    """The Railway environment each other stack file sharing this stack's project uses (file -> name):
    the Environment resource carries it, so policies see two stacks about to meet in one environment."""
    siblings = sibling_stacks(project_root / STACKS_DIR, stack, STACKS_DIR)
    return shared_environments(spec.railway.model_dump(), siblings)


def pulumi_secret_lookup(name: str) -> SecretState:
    """How a secret is set in the running stack's config."""
    from pulumi.runtime.config import get_config, is_config_secret

    key = f"{NAMESPACE}:{name}"
    if get_config(key) is None:
        return "missing"
    return "secret" if is_config_secret(key) else "plaintext"


def load_from_pulumi(project_root: Path) -> EnvironmentSpec:
    """Validate the running stack's declaration; called before any resource is registered."""
    import pulumi

    stack = pulumi.get_stack()
    raw = pulumi.Config(NAMESPACE).get_object(ENVIRONMENT_KEY)
    siblings = sibling_stacks(project_root / STACKS_DIR, stack, STACKS_DIR, say=pulumi.log.warn)
    return parse_environment(raw, stack_file(stack), pulumi_secret_lookup, siblings)


def pulumi_secret(name: str) -> Any:
    """The value of a declared secret as a secret Output (never a plain string)."""
    import pulumi

    return pulumi.Config(NAMESPACE).require_secret(name)
