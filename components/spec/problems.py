"""Turning pydantic's validation errors into Problems a person can act on.

pydantic knows what failed; this module adds what the user needs next: the key path as
`pulumi config set --path` spells it, what was actually found, and what would be accepted
(for an unknown key, the keys that are known there).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from .models import (
    EMAIL_PATTERN,
    HOSTNAME_PATTERN,
    SLACK_CHANNEL_PATTERN,
    SMARTHOST_PATTERN,
    UUID_PATTERN,
    EnvironmentSpec,
)

# Friendlier words for the name patterns used in models.py.
PATTERN_HELP = {
    r"^[a-z][a-z0-9-]{0,31}$": "a name of lowercase letters, digits and '-', starting with a letter (max 32)",
    r"^[A-Z_][A-Z0-9_]{0,127}$": "an environment variable name: uppercase letters, digits and '_'",
    r"^[A-Za-z][A-Za-z0-9_-]{0,63}$": "a secret name: letters, digits, '_' and '-', starting with a letter",
    r"^[a-z_][a-z0-9_]{0,62}$": "a SQL identifier: lowercase letters, digits and '_' (max 63)",
    r"^/[^\s]*$": "a path starting with '/' and without spaces",
    r"^v?\d+\.\d+\.\d+(?:[-+][A-Za-z0-9.-]+)?$": "a semantic version such as 2.0.3",
    HOSTNAME_PATTERN: "a lowercase DNS name such as api.mvs.example",
    UUID_PATTERN: "a Railway id: a lowercase UUID such as 0b5e2b6c-3f1a-4c2e-9d1e-2a7c5b8e9f10",
    r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$": "a project name of letters, digits, ' ', '_' and '-' (max 64)",
    EMAIL_PATTERN: "an e-mail address such as ops@mvs.example",
    SLACK_CHANNEL_PATTERN: "a Slack channel such as #mvs-alerts (lowercase, starting with '#')",
    SMARTHOST_PATTERN: "an SMTP relay as host:port, such as smtp.mvs.example:587",
}


# Keys whose value names a secret: what is found there is never echoed, since a value pasted in
# place of the name would be printed back.
SECRET_NAME_KEY = re.compile(r"(?:^|\.)(?:\w+_secret|secrets\.[^.]+)$")


def show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(raw: Any, loc: tuple[int | str, ...]) -> tuple[str, Any, bool]:
    """Key path of `loc` through `raw` (dropping pydantic's type tags), the value there, and
    whether the error is about a mapping key rather than a value."""
    parts: list[str] = []
    node: Any = raw
    about_key = False
    for seg in loc:
        if seg == "[key]":
            about_key = True
            continue
        if isinstance(node, Mapping) and seg in node:
            parts.append(str(seg))
            node = node[seg]
        elif isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            parts[-1] = f"{parts[-1]}[{seg}]" if parts else f"[{seg}]"
            node = node[seg]
        elif isinstance(seg, str) and not _is_type_tag(seg):
            parts.append(seg)  # a missing key: it has no value in raw
            node = None
    return ".".join(parts), node, about_key


def _is_type_tag(seg: str) -> bool:
    return "[" in seg or seg in {"int", "str", "bool", "float", "constrained-str", "list", "dict"}


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class whose keys are valid at `loc` (for 'unknown key' errors)."""
    annotation: Any = EnvironmentSpec
    for seg in loc:
        model = _as_model(annotation)
        fields = {f.alias or name: f for name, f in model.model_fields.items()} if model is not None else {}
        if isinstance(seg, str) and seg in fields:
            annotation = fields[seg].annotation
            continue
        origin = typing.get_origin(_strip(annotation))
        if origin in (dict, list) and typing.get_args(_strip(annotation)):
            annotation = typing.get_args(_strip(annotation))[-1]
            continue
        return None
    return _as_model(annotation)


def _strip(annotation: Any) -> Any:
    """Remove Optional and Annotated wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _allowed(error: ErrorDetails) -> str:
    kind, msg, ctx = error["type"], error["msg"], error.get("ctx") or {}
    if kind == "missing":
        return "a value: this key is required"
    if kind == "extra_forbidden":
        parent = _model_at(error["loc"][:-1])
        if parent is None:
            return "no such key"
        return f"one of the keys {', '.join(f.alias or name for name, f in parent.model_fields.items())}"
    if kind == "string_pattern_mismatch":
        return PATTERN_HELP.get(ctx.get("pattern", ""), msg)
    for prefix in ("Value error, ", "Input should be ", "Input should have "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg[0].lower() + msg[1:]


def findings_from_validation_error(raw: Mapping[str, Any], error: ValidationError) -> list[tuple[str, str, str]]:
    """(key path, found, allowed) for every error pydantic reported."""
    findings = []
    for detail in error.errors(include_url=False):
        key, value, about_key = _path(raw, detail["loc"])
        if detail["type"] == "missing":
            found = "nothing"
        elif detail["type"] == "extra_forbidden":
            found = f"unknown key {key.rsplit('.', 1)[-1]!r}"
        elif about_key:
            found = f"the name {show(detail['input'])}"
        elif SECRET_NAME_KEY.search(key):
            found = "a text that is not a secret's name (not shown: it may be the secret itself)"
        else:
            found = show(value if value is not None else detail["input"])
        findings.append((key or "(top level)", found, _allowed(detail)))
    return findings
