"""A real Docker engine and the images the dev stack runs, built from this repository.

The engine: `MVS_TEST_DOCKER_HOST` when CI (`.ci/run`) started one, otherwise these fixtures
start one with `tools/docker-engine` and stop it afterwards. No registry is reachable here, so
every base comes from Debian's packages: a debootstrap image (cached outside the repository),
with Debian's python3 or nodejs on top, passed to the repository's Dockerfiles as their
`BASE_IMAGE` build argument. The official Postgres image is stood in for by Debian's PostgreSQL
with an entrypoint that honours the same variables: the images `base: debian` runs
(images/debian/), here tagged with the official names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from mvsctl.dev_base import default_base

ROOT = Path(__file__).resolve().parents[2]
ENGINE_TOOL = ROOT / "tools" / "docker-engine"
IMAGES = Path(__file__).resolve().parent / "images"
DEBIAN_IMAGES = ROOT / "images" / "debian"  # what `base: debian` builds (components/local/debian.py)
EXTRA_CA = Path("/usr/local/share/ca-certificates")


def _engine_tool(*args: str) -> str:
    done = subprocess.run([str(ENGINE_TOOL), *args], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"tools/docker-engine {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    given = os.environ.get("MVS_TEST_DOCKER_HOST")
    if given:
        yield given
        return
    running = subprocess.run([str(ENGINE_TOOL), "env"], capture_output=True, text=True).returncode == 0
    _engine_tool("install")
    host = _engine_tool("start").removeprefix("DOCKER_HOST=")
    yield host
    if not running:
        _engine_tool("stop")


def clear_leftovers(client: docker.DockerClient) -> None:
    """The engine's data root is a cache that outlives a run, and so would what a run that was
    killed left in it (containers restart with the daemon): start from none of the stacks' parts."""
    stacks = {"label": "com.mvs.stack"}
    for container in client.containers.list(all=True, filters=stacks):
        container.remove(force=True)
    for container in client.containers.list(all=True, filters={"label": "com.mvs.test"}):
        container.remove(force=True)
    for network in client.networks.list(filters=stacks):
        network.remove()
    for volume in client.volumes.list(filters=stacks):
        volume.remove(force=True)


@pytest.fixture(scope="session")
def engine(docker_host) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=docker_host, timeout=300)
    clear_leftovers(client)
    yield client
    clear_leftovers(client)
    client.close()


def build(client: docker.DockerClient, context: Path, tag: str, dockerfile: str = "Dockerfile", **args: str) -> str:
    """`docker build --network host` (RUN steps reach apt, PyPI and npm from here); the image id."""
    try:
        image, _ = client.images.build(
            path=str(context), dockerfile=dockerfile, tag=tag, buildargs=args, network_mode="host", rm=True
        )
    except docker.errors.BuildError as error:
        tail = "".join(str(step.get("stream", step.get("error", ""))) for step in list(error.build_log)[-15:])
        raise AssertionError(f"docker build of {context} ({dockerfile}) failed: {error}\n{tail}") from None
    return image.id


def _build_base(client: docker.DockerClient, source: Path, base: str, tmp: Path) -> str:
    """A toolchain base built from the directory `source`, trusting the machine's own CAs."""
    name = source.name
    context = tmp / name
    shutil.copytree(source, context)
    (context / "extra-ca").mkdir(exist_ok=True)
    for ca in sorted(EXTRA_CA.glob("*.crt")) if EXTRA_CA.is_dir() else []:
        shutil.copy(ca, context / "extra-ca" / ca.name)
    digest = hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(context.rglob("*")) if p.is_file()) + base.encode()
    ).hexdigest()[:12]
    tag = f"mvs-ci/{name}:{digest}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        build(client, context, tag, BASE_IMAGE=base)
    return tag


@pytest.fixture(scope="session")
def ci_bases(engine, tmp_path_factory) -> dict[str, str]:
    return make_ci_bases(engine, tmp_path_factory.mktemp("bases"))


def make_ci_bases(engine: docker.DockerClient, tmp: Path) -> dict[str, str]:
    """BASE_IMAGE for each of the repository's Dockerfiles: a python and a node toolchain."""
    debian = _engine_tool("base")
    return {
        "debian": debian,
        "python": _build_base(engine, DEBIAN_IMAGES / "python", debian, tmp),
        "node": _build_base(engine, DEBIAN_IMAGES / "node", debian, tmp),
    }


def postgres_standin(engine: docker.DockerClient, ci_bases: dict[str, str], tag: str) -> str:
    """The official Postgres image's stand-in, under the name the declaration gives."""
    return build(engine, DEBIAN_IMAGES / "postgres", tag, BASE_IMAGE=ci_bases["debian"])


@pytest.fixture(scope="session")
def official_names(engine, ci_bases) -> dict[str, str]:
    return tag_official_names(engine, ci_bases)


def tag_official_names(engine: docker.DockerClient, ci_bases: dict[str, str]) -> dict[str, str]:
    """No registry answers here, so the official images the dev declaration and the Dockerfiles
    name (node, python, postgres) are stood in for by images made from Debian's packages, tagged
    with exactly those names: the stack then builds and runs as it would where they can be pulled."""
    tags = {
        default_base(ROOT / "app" / "backend" / "Dockerfile"): ci_bases["node"],
        default_base(ROOT / "app" / "frontend" / "Dockerfile"): ci_bases["node"],
        default_base(ROOT / "backup_runner" / "Dockerfile"): ci_bases["python"],
    }
    for name, image in tags.items():
        engine.images.get(image).tag(name)
    database_image = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())["config"]["mvs:environment"][
        "database"
    ]["image"]
    tags[database_image] = postgres_standin(engine, ci_bases, database_image)
    return tags
