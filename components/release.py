"""The stack's release history, kept in its own state (issue 11, point 1).

Every successful `up` that changes what the app services run appends a record: the release
version, each service's image (with its registry digest when the reference names one), what runs
it (the Railway deployment id, or the local image id), the git commit and the time. The record
also keeps what `./mvs rollback` needs to make the declaration true again for that release: the
stack file's `release` block, each app service's `env` and `secrets` names, and the encrypted
values of those secrets exactly as the stack file holds them (ciphertext, never plaintext).

The history lives in a resource's outputs, so it is wherever the state is (a file backend, a
bucket CI shares) and it is written by the same update that made the release live: an `up` whose
deployment fails never records its release. Only the version and what runs each service decide
whether a new record is due; the commit, the time and the note ride along, so a new commit with
nothing new to run leaves `preview --expect-no-changes` clean.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from .provider_process import prepare
from .spec import NAMESPACE, EnvironmentSpec

prepare()  # this module is loaded into provider processes: see provider_process.py

HISTORY_LIMIT = 30
DECIDING = ("version", "services")  # what makes a new record; the rest rides along
NOTE_ENV = "MVS_RELEASE_NOTE"  # set by ./mvs rollback and promote: how this release came to be
COMMIT_ENV = "MVS_RELEASE_COMMIT"  # CI may name the commit; otherwise git is asked
RESOURCE_TYPE = "pulumi-python:dynamic/release:Release"


def digest_of(image: str | None) -> str | None:
    """The registry digest an image reference pins (`name@sha256:…`), else None."""
    if image and "@" in image:
        return image.rsplit("@", 1)[1]
    return None


def current_commit(project_root: Path) -> str | None:
    """The commit the program runs from, `+dirty` when tracked files differ from it."""
    named = os.environ.get(COMMIT_ENV) or os.environ.get("GITHUB_SHA")
    if named:
        return named
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=project_root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=project_root, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty.returncode == 1 else head


def declared_snapshot(spec: EnvironmentSpec, raw_config: Mapping[str, Any]) -> dict[str, Any]:
    """What a rollback writes back to the stack file for this release (secrets as ciphertext)."""
    services = {
        name: {"env": dict(service.env), "secrets": dict(service.secrets)} for name, service in spec.services.items()
    }
    keys = sorted({f"{NAMESPACE}:{ref}" for service in spec.services.values() for ref in service.secrets.values()})
    return {
        "release": spec.release.model_dump(mode="json"),
        "services": services,
        "secrets": {key: raw_config[key] for key in keys if key in raw_config},
    }


class ReleaseProvider(ResourceProvider):
    """No API behind it: the record is made from the inputs when the release changes."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in DECIDING if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("release", self._recorded(props, []))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._recorded(news, olds.get("history") or []))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The history is the state's own: nothing outside it to read."""
        return ReadResult(id_, props)

    @staticmethod
    def _recorded(props: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
        record = {
            "version": props["version"],
            "services": props["services"],
            "commit": props.get("commit"),
            "note": props.get("note"),
            "declared": props.get("declared"),
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        return {**props, "history": [record, *history][:HISTORY_LIMIT]}


class Release(Resource, module="release", name="Release"):
    """The release a stack runs, and the ones it ran before (newest first, in `history`)."""

    history: pulumi.Output[list]

    def __init__(
        self,
        name: str,
        version: str,
        services: Mapping[str, Mapping[str, pulumi.Input[str | None]]],
        commit: str | None,
        declared: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {
            "version": version,
            "services": dict(services),
            "commit": commit,
            "note": os.environ.get(NOTE_ENV),
            "declared": declared,
            "history": None,
        }
        super().__init__(ReleaseProvider(), name, props, opts)
