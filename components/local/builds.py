"""Images the dev stack builds from this repository: the app's services and the backup runner.

Two things make a local build behave:
- The image's tag is a digest of what the build reads (the files the context's `.dockerignore`
  lets through, the Dockerfile and the build options). An edit to the code gives a new tag, so
  the image is rebuilt and every container on it is replaced; an untouched tree gives the same
  tag, so `preview --expect-no-changes` passes. Files outside the context (`.state/`, `venv/`,
  `node_modules/`) never reach the daemon and never cause a rebuild.
- Containers run the image by its id, read back from the engine (`RemoteImage` of that tag,
  which finds the local image and never pulls). The engine reports a container's image as an
  id, so naming it by tag would be a diff on every refresh.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pulumi
import pulumi_docker as docker
from docker.utils.build import exclude_paths

from ..spec import BuildOptions

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


def build_digest(context: Path, dockerfile: Path, options: BuildOptions) -> str:
    """A short digest of everything a build depends on: what it reads and how it is told to build."""
    digest = hashlib.sha256()
    for relative in context_files(context, dockerfile):
        path = context / relative
        digest.update(relative.encode() + b"\0")
        digest.update(b"x" if path.stat().st_mode & 0o111 else b"-")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    settings = {"dockerfile": dockerfile.resolve().relative_to(context.resolve()).as_posix(), **options.model_dump()}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def build_args(context: Path, dockerfile: Path, options: BuildOptions) -> docker.DockerBuildArgs:
    return docker.DockerBuildArgs(
        context=str(context),
        dockerfile=str(dockerfile),
        args=dict(options.args) or None,
        network=options.network,
        platform=options.platform,
    )


def local_image(
    resource_name: str,
    repository: str,
    context: Path,
    dockerfile: Path,
    options: BuildOptions,
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """Build `context` as `repository:<digest>` and return the built image's id."""
    tag = f"{repository}:{build_digest(context, dockerfile, options)}"
    built = docker.Image(
        resource_name,
        image_name=tag,
        build=build_args(context, dockerfile, options),
        skip_push=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    found = docker.RemoteImage(
        f"{resource_name}-id",
        name=built.image_name,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[built]),
    )
    return found.image_id
