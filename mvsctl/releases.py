"""`./mvs releases STACK`: the releases a stack ran, newest first, and which one is live.

The history is read from the stack's state (the release resource's outputs, see
components/release.py), so it is the same on every checkout that shares the backend. Which record
is live comes from the last update: after a successful `up` (or rollback) the newest record runs
everywhere; after a failed one some services may already run something newer, and the listing
says so instead of guessing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.errors import StackNotUp, ToolError
from components.release import RESOURCE_TYPE
from components.spec import ENVIRONMENT_KEY, NAMESPACE

from .everyday.table import table
from .pulumi_cli import PROJECT_ROOT, pulumi

NO_STACK = "no stack named"


@dataclass
class Releases:
    stack: str
    history: list[dict[str, Any]] = field(default_factory=list)
    last_update: str | None = None  # "succeeded", "failed", … of the newest update; None before any
    failed_version: str | None = None  # the release the newest update declared, when that update failed

    @property
    def live(self) -> dict[str, Any] | None:
        return self.history[0] if self.history and self.last_update == "succeeded" else None

    def find(self, version: str) -> dict[str, Any] | None:
        """The newest record of `version`."""
        return next((record for record in self.history if record["version"] == version), None)

    def previous(self) -> dict[str, Any] | None:
        """The newest record that runs something other than the live one: where a rollback goes."""
        if not self.history:
            return None
        newest = self.history[0]
        return next((r for r in self.history[1:] if r["services"] != newest["services"]), None)


def read(stack: str, project: Path = PROJECT_ROOT, with_outcome: bool = True) -> Releases:
    """The stack's release history and the outcome of its last update; StackNotUp before any `up`.
    `with_outcome=False` leaves out the outcome (one `pulumi` call less, for `ps` when every
    service's latest deployment succeeded)."""
    try:
        exported = json.loads(pulumi("stack", "export", "--stack", stack, project=project) or "{}")
        history_args = ("stack", "history", "--stack", stack, "--output", "json", "--page-size", "20")
        updates = json.loads(pulumi(*history_args, project=project) or "[]") if with_outcome else []
    except ToolError as error:
        if NO_STACK not in error.stderr:
            raise
        raise StackNotUp(
            f"there is no stack {stack} in this state backend yet: bring it up with ./mvs up {stack}"
        ) from None
    resources = (exported.get("deployment") or {}).get("resources") or []
    found = next((r for r in resources if r.get("type") == RESOURCE_TYPE), None)
    history = list(((found or {}).get("outputs") or {}).get("history") or [])
    last = next((u for u in updates if u.get("kind") == "update"), {})  # refreshes change no release
    failed = declared_version(last) if last.get("result") == "failed" else None
    return Releases(stack, history, last.get("result"), failed)


def declared_version(update: dict[str, Any]) -> str | None:
    """The release an update declared, from the stack config Pulumi keeps with each update."""
    raw = ((update.get("config") or {}).get(f"{NAMESPACE}:{ENVIRONMENT_KEY}") or {}).get("value")
    try:
        version = json.loads(raw)["release"]["version"]
    except (TypeError, ValueError, KeyError):
        return None
    return version if isinstance(version, str) else None


def rollback_note(releases: Releases, target: str) -> str:
    """What a rollback's record says it did: from the failed release when the last update failed
    (the newest record is then the last good one, not what was running into trouble)."""
    if releases.last_update == "failed" and releases.failed_version:
        return f"rolled back from {releases.failed_version}, failed, to {target}"
    live = releases.history[0]["version"] if releases.history else "nothing"
    return f"rolled back from {live} to {target}"


def short(image: str) -> str:
    """An image reference short enough for a table: the name's last part and a short digest."""
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" in name:
        base, digest = name.split("@sha256:", 1)
        return f"{base}@{digest[:12]}"
    return name


def runs(service: dict[str, Any]) -> str:
    return service.get("deployment_id") or (service.get("image_id") or "")[:19] or "-"


def render(releases: Releases) -> str:
    if not releases.history:
        return f"{releases.stack}: no release recorded yet (every successful ./mvs up {releases.stack} records one)"
    rows = [["", "VERSION", "RECORDED (UTC)", "COMMIT", "SERVICES", "NOTE"]]
    if releases.last_update == "failed" and releases.failed_version:
        rows.append(["failed", releases.failed_version, "-", "-", "-", "the last update; not recorded"])
    for index, record in enumerate(releases.history):
        marker = ("live" if releases.live else "last good") if index == 0 else ""
        services = ", ".join(
            f"{name}={short(service.get('image') or 'built here')} ({runs(service)})"
            for name, service in sorted(record["services"].items())
        )
        commit = (record.get("commit") or "-")[:12] + (
            "+dirty" if (record.get("commit") or "").endswith("+dirty") else ""
        )
        rows.append([marker, record["version"], record["recorded_at"], commit, services, record.get("note") or ""])
    lines = [table(rows)]
    if releases.last_update and releases.last_update != "succeeded":
        tried = f" (release {releases.failed_version})" if releases.failed_version else ""
        lines.append(
            f"\nThe last update of {releases.stack}{tried} {releases.last_update}: services may run a newer release "
            f"than the last good one. Check with ./mvs ps {releases.stack}; ./mvs rollback {releases.stack} goes back "
            "to the last good one."
        )
    return "\n".join(lines)
