"""Changes `./mvs` writes to a stack file itself (a release, a promotion, a rollback).

The file is edited in place with a round-trip YAML parser, so its comments, key order and quoting
survive and the change reads in a pull request as the few lines it is. The edited file is checked
the way `./mvs validate` checks it before it replaces the old one: a change that would make the
declaration invalid is refused and the file is left as it was.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from components.spec import CONFIG_KEY
from components.stack_config import load_stack_file, stack_file

from .pulumi_cli import PROJECT_ROOT

Edit = Callable[[Any], None]  # changes the `config:` mapping of the loaded file in place


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the file did not fold
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def edit_stack_file(stack: str, edit: Edit, project: Path = PROJECT_ROOT) -> str:
    """Apply `edit` to the stack file's `config:`; return the unified diff of the change ("" when none)."""
    return edit_stack_document(stack, lambda document: edit(document["config"]), project)


def edit_stack_document(stack: str, edit: Edit, project: Path = PROJECT_ROOT, before: str | None = None) -> str:
    """Apply `edit` to the whole stack file (top-level keys too, such as Pulumi's `encryptionsalt`);
    return the unified diff. `before`: the text to edit, when the file on disk is not it."""
    relative = stack_file(stack)
    path = project / relative
    before = path.read_text() if before is None else before
    yaml = _yaml()
    document = yaml.load(before)
    edit(document)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    after = buffer.getvalue()
    if after != path.read_text():
        _check(path, after, relative)
        _replace(path, after)
    if after == before:
        return ""
    return "".join(
        difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{relative}", f"b/{relative}")
    )


def _check(path: Path, text: str, display: str) -> None:
    """Validate the edited file as `./mvs validate` would, beside copies of its sibling stack files."""
    with tempfile.TemporaryDirectory(prefix="mvs-check-") as scratch:
        for sibling in path.parent.glob("Pulumi.*.yaml"):
            with contextlib.suppress(OSError):  # one it cannot copy is left out, as validation leaves it out
                (Path(scratch) / sibling.name).write_bytes(sibling.read_bytes())
        probe = Path(scratch) / path.name
        probe.write_text(text)
        load_stack_file(probe, display, check_secrets=False)


def _replace(path: Path, text: str) -> None:
    """Write beside the file, then rename over it: a crash leaves the old file or the new one."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".", suffix=".tmp", delete=False) as tmp:
        tmp.write(text)
    os.chmod(tmp.name, path.stat().st_mode & 0o777)
    os.replace(tmp.name, path)


def sync(mapping: Any, wanted: dict[str, Any]) -> None:
    """Make `mapping` hold exactly `wanted`, in place: kept keys keep their place and comments."""
    for key in [k for k in mapping if k not in wanted]:
        del mapping[key]
    for key, value in wanted.items():
        if isinstance(value, dict) and isinstance(mapping.get(key), dict):
            sync(mapping[key], value)
        elif mapping.get(key) != value:
            mapping[key] = value


def set_release(version: str, images: dict[str, str], replace_images: bool) -> Edit:
    """An edit setting `release.version` and the named images (only those when `replace_images`)."""

    def edit(config: Any) -> None:
        release = config[CONFIG_KEY]["release"]
        current = dict(release.get("images") or {}) if not replace_images else {}
        sync(release, {"version": version, "images": {**current, **images}})

    return edit


def restore_release(declared: dict[str, Any]) -> Edit:
    """An edit putting back what a recorded release declared (components/release.py): the release
    block, each app service's variables and secret names, and the secrets' ciphertext."""

    def edit(config: Any) -> None:
        environment = config[CONFIG_KEY]
        sync(environment["release"], declared["release"])
        for name, wanted in declared["services"].items():
            service = (environment.get("services") or {}).get(name)
            if service is None:
                continue  # removed from the declaration since: not brought back by a rollback
            for key in ("env", "secrets"):
                if wanted[key]:
                    if isinstance(service.get(key), dict):
                        sync(service[key], wanted[key])
                    else:
                        service[key] = wanted[key]
                elif key in service:
                    del service[key]
        sync(config, {**config, **declared["secrets"]})

    return edit


def set_base(base: str) -> Edit:
    """An edit setting the local stack's `base` (components/local/debian.py), next to `target`."""

    def edit(config: Any) -> None:
        environment = config[CONFIG_KEY]
        if "base" in environment:
            environment["base"] = base
        else:
            environment.insert(list(environment).index("target") + 1, "base", base)

    return edit
