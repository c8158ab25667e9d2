"""The request log: one JSON line per request, with secret values redacted.

Variables maps (`variables: {NAME: value}`) and any field whose name says it holds a secret
(value, password, token, secret) are replaced by "[redacted]", so a log can be shared.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

REDACTED = "[redacted]"
_SECRET_FIELD = re.compile(r"(value|password|token|secret)", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "variables":
            return {name: REDACTED for name in value}
        return {
            k: REDACTED if _SECRET_FIELD.search(k) and isinstance(v, str) else redact(v, k) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item, key) for item in value]
    return value


def redact_maps(variables: Any, document: Any) -> Any:
    """Redact operation variables typed EnvironmentVariables too, whatever the client named them."""
    if not isinstance(variables, dict):
        return variables
    names = set()
    for definition in document.definitions:
        for node in getattr(definition, "variable_definitions", None) or ():
            type_node = node.type
            while hasattr(type_node, "type"):  # unwrap NonNull and List
                type_node = type_node.type
            if type_node.name.value == "EnvironmentVariables":
                names.add(node.variable.name.value)
    return {k: redact(v, "variables") if k in names and isinstance(v, dict) else v for k, v in variables.items()}


class RequestLog:
    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        line = json.dumps({"ts": round(time.time(), 3), **entry}, sort_keys=True)
        with self._lock, self.path.open("a") as handle:
            handle.write(line + "\n")


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
