"""`./mvs secrets set STACK NAME` and `./mvs secrets list STACK`: a stack's secrets, from a fresh clone.

`pulumi config set --secret --stack staging …` fails on a fresh clone (there is no stack `staging`
in this checkout's state yet), and `./mvs up staging` stops on the very secrets it cannot set: a
loop. `secrets set` breaks it. It

- checks the name against the declaration first (a typo is refused, with the names it uses);
- reads the value from stdin (a pipe or a file), or asks for it twice at a terminal; never from the
  command line, where the process list and the shell history would keep it;
- creates the stack's state when there is none yet (`pulumi stack init`, with the secrets provider
  the stack file names), then lets Pulumi encrypt the value;
- warns, before writing, when the value is encrypted with this checkout's own passphrase and the
  file is shared (see shared_secrets);
- keeps the stack file as it was outside the keys Pulumi added: Pulumi rewrites the whole file (it
  moves inline comments, for one), so its text is put back and only the new keys are written into it.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from components.errors import SettingInvalid, ToolError
from components.railway.client import CONFIG_TOKEN
from components.spec import NAMESPACE, EnvironmentSpec
from components.spec.secret_command import set_secret_command
from components.stack_config import load_stack_file, read_stack_config, stack_file

from .pulumi_cli import PROJECT_ROOT, pulumi
from .shared_secrets import secrets_provider, warn_if_unshareable
from .stack_edit import edit_stack_document

Say = Callable[[str], None]


def _say_err(message: str) -> None:
    print(message, file=sys.stderr)


def config_key(name: str) -> str:
    """`dbPassword` -> `mvs:dbPassword`; a namespaced key (`railway:token`) stays as it is."""
    return name if ":" in name else f"{NAMESPACE}:{name}"


def settable_names(spec: EnvironmentSpec) -> list[str]:
    """The secrets a person sets for this stack: every one the declaration names, and on Railway
    the token the stack may keep instead of RAILWAY_API_TOKEN."""
    return sorted(spec.secret_names()) + ([CONFIG_TOKEN] if spec.target == "railway" else [])


@dataclass(frozen=True)
class SecretStatus:
    name: str
    state: str  # "set", "not set yet", "plaintext"
    needed_before_up: bool


def statuses(stack: str, project: Path = PROJECT_ROOT) -> list[SecretStatus]:
    """How each secret the stack may set is set in its stack file (read from the file alone)."""
    path = project / stack_file(stack)
    spec = load_stack_file(path, stack_file(stack), check_secrets=False)
    config = read_stack_config(path, stack_file(stack))
    generated = spec.target == "local"  # `./mvs up dev` makes what is missing
    return [
        SecretStatus(name, _state(config.get(config_key(name))), needed_before_up=not generated and ":" not in name)
        for name in settable_names(spec)
    ]


def _state(value: Any) -> str:
    if value is None:
        return "not set yet"
    return "set" if isinstance(value, Mapping) and "secure" in value else "plaintext"


def unset_before_up(stack: str, project: Path = PROJECT_ROOT) -> list[str]:
    """The secrets `up` will ask for: declared, needed (not generated on dev) and not set yet."""
    return [s.name for s in statuses(stack, project) if s.needed_before_up and s.state == "not set yet"]


def read_value(name: str, stream: TextIO | None = None, ask: Callable[[str], str] = getpass.getpass) -> str:
    """The value: all of stdin when it is not a terminal (one trailing newline dropped, as `echo`
    and editors add one), otherwise typed twice without echo."""
    stream = sys.stdin if stream is None else stream
    if stream.isatty():
        value = ask(f"value for {name} (not shown): ")
        if ask(f"{name} again: ") != value:
            raise SettingInvalid(f"the two values typed for {name} differ; nothing was changed")
    else:
        value = stream.read()
        value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value:
        raise SettingInvalid(f"the value for {name} is empty; nothing was changed")
    return value


def settable_key(stack: str, name: str, project: Path = PROJECT_ROOT) -> str:
    """The config key for secret `name` of `stack`; SettingInvalid (before any value is asked for)
    when there is no such stack file or its declaration uses no such secret."""
    path = project / stack_file(stack)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in path.parent.glob("Pulumi.*.yaml"))
        raise SettingInvalid(f"no stack file {stack_file(stack)}; stacks here: {', '.join(known) or 'none'}")
    spec = load_stack_file(path, stack_file(stack), check_secrets=False)
    allowed = settable_names(spec)
    if name.removeprefix(f"{NAMESPACE}:") not in allowed:
        raise SettingInvalid(
            f"{stack_file(stack)} uses no secret named {name!r}; allowed: {', '.join(allowed)} "
            "(declare it first, e.g. services.<service>.secrets.<VARIABLE>: <secret name>); nothing was changed"
        )
    return config_key(name.removeprefix(f"{NAMESPACE}:"))


def set_secret(stack: str, name: str, value: str, project: Path = PROJECT_ROOT, say: Say = _say_err) -> None:
    """Encrypt `value` into the stack file as secret `name`, creating the stack's state if needed."""
    key = settable_key(stack, name, project)
    path = project / stack_file(stack)
    warn_if_unshareable(stack, say, project)
    before = path.read_text()
    try:
        if _ensure_stack(stack, before, project):
            say(f"created stack {stack!r} in this checkout's state backend (it had none yet)")
        pulumi("config", "set", "--secret", "--stack", stack, key, input_text=value, project=project)
    except ToolError as error:
        if "incorrect passphrase" not in str(error):
            raise
        raise SettingInvalid(
            f"the passphrase in use does not decrypt {stack_file(stack)} (its secrets were encrypted with another "
            "one): set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the team's passphrase and "
            "run this again; nothing was changed"
        ) from None
    finally:
        _keep_file_text(stack, before, key, project)
    say(f"{key} is set for {stack}, encrypted in {stack_file(stack)}; commit that file to share it")


def _ensure_stack(stack: str, stack_text: str, project: Path) -> bool:
    """Select the stack, or create it (with the file's secrets provider); True when it was created."""
    try:
        pulumi("stack", "select", stack, project=project)
        return False
    except ToolError:
        pass
    provider = secrets_provider(stack_text)
    extra = [] if provider == "passphrase" else ["--secrets-provider", provider]
    pulumi("stack", "init", stack, *extra, project=project)
    return True


def _keep_file_text(stack: str, before: str, key: str, project: Path) -> None:
    """Put the file's own text back, with only what Pulumi added or changed: the secret's key and
    the top-level keys of the secrets provider (`encryptionsalt`, `encryptedkey`, ...)."""
    path = project / stack_file(stack)
    written = yaml.safe_load(path.read_text()) or {}
    original = yaml.safe_load(before) or {}

    def apply(document: Any) -> None:
        for top, value in written.items():
            if top != "config" and original.get(top) != value:
                document[top] = value
        secure = (written.get("config") or {}).get(key)
        if secure is not None and (original.get("config") or {}).get(key) != secure:
            document["config"][key] = secure

    edit_stack_document(stack, apply, project, before=before)


def render_list(stack: str, found: list[SecretStatus]) -> str:
    """One line per secret: its name, how it is set, and what to do about it."""
    width = max((len(s.name) for s in found), default=0)
    lines = [f"secrets of {stack_file(stack)}:"]
    for status in found:
        lines.append(f"  {status.name:<{width}}  {status.state:<11}  {_next_step(stack, status)}".rstrip())
    return "\n".join(lines)


def _next_step(stack: str, status: SecretStatus) -> str:
    command = set_secret_command(stack, status.name)
    if status.state == "plaintext":
        return f"stored in plaintext: set it again with {command}"
    if status.state == "set":
        return ""
    if status.needed_before_up:
        return f"needed before up: {command}"
    if status.name == CONFIG_TOKEN:
        return f"optional: RAILWAY_API_TOKEN or RAILWAY_TOKEN in the environment does instead ({command})"
    return "generated by ./mvs up"
