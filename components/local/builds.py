"""Images the dev stack builds from this repository: the app's services and the backup runner.

Two things make a local build behave:
- The image's tag is a digest of what the build reads (the files the context's `.dockerignore`
  lets through, the Dockerfile and the build options). An edit to the code gives a new tag, so
  the image is rebuilt and every container on it is replaced; an untouched tree gives the same
  tag, so `preview --expect-no-changes` passes. Files outside the context (`.state/`, `venv/`,
  `node_modules/`) never reach the daemon and never cause a rebuild.
- Containers run the image by its id, as the Image provider read it back from the engine: the
  engine reports a container's image as an id, so naming it by tag would differ on every read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pulumi
from docker.utils.build import exclude_paths

from ..spec import BuildOptions
from .providers.image import Image

DIGEST_LENGTH = 12


def dockerignore_patterns(context: Path) -> list[str]:
    """The context's .dockerignore, as the engine reads it (comments and blank lines dropped)."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(context: Path, dockerfile: Path) -> list[str]:
    """The files of `context` that a build sends to the engine, relative and sorted."""
    relative_dockerfile = dockerfile.resolve().relative_to(context.resolve()).as_posix()
    included = exclude_paths(str(context), dockerignore_patterns(context), dockerfile=relative_dockerfile)
    return sorted(p for p in included if (context / p).is_file())


def build_digest(
    context: Path, dockerfile: Path, options: BuildOptions, extra_files: dict[str, str] | None = None
) -> str:
    """A short digest of everything a build depends on: what it reads (the context, and any files
    added to it) and how it is told to build."""
    digest = hashlib.sha256()
    for relative, text in sorted((extra_files or {}).items()):
        digest.update(b"+" + relative.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
    for relative in context_files(context, dockerfile):
        path = context / relative
        digest.update(relative.encode() + b"\0")
        digest.update(b"x" if path.stat().st_mode & 0o111 else b"-")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    settings = {"dockerfile": dockerfile.resolve().relative_to(context.resolve()).as_posix(), **options.model_dump()}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def build_options(
    context: Path, dockerfile: Path, options: BuildOptions, extra_files: dict[str, str] | None = None
) -> dict[str, Any]:
    """How the Image provider builds: the context, the Dockerfile within it, the declared options,
    and files added to the context (when there are any)."""
    found = {
        "context": str(context),
        "dockerfile": dockerfile.resolve().relative_to(context.resolve()).as_posix(),
        "args": dict(options.args),
        "network": options.network,
        "platform": options.platform,
    }
    return {**found, "extra_files": extra_files} if extra_files else found


def local_image(
    resource_name: str,
    repository: str,
    context: Path,
    dockerfile: Path,
    options: BuildOptions,
    parent: pulumi.Resource,
    extra_files: dict[str, str] | None = None,
    depends_on: list[pulumi.Resource] | None = None,
) -> Image:
    """`context` built as `repository:<digest>`."""
    tag = f"{repository}:{build_digest(context, dockerfile, options, extra_files)}"
    return Image(
        resource_name,
        name=tag,
        build=build_options(context, dockerfile, options, extra_files),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on or []),
    )
