"""An image a container runs: built from this repository, a pinned public image, or (`base: debian`)
a Debian root file system made with debootstrap.

A build's tag is a digest of what the build reads (components/local/builds.py), so a changed source
is a new tag, hence a new image and a replaced container, and an untouched tree is no change at
all. The image's id, read back from the engine, is what containers run: the engine reports a
container's image as an id, so naming it by tag would differ on every read.

`read()` checks that the tag still names the image this stack made or found: a tag removed or
moved to another image (a `docker rmi`, a `docker tag` over it) reads as gone, so `up` builds or
finds it again, and the containers on it follow. A pinned image is pulled only when the engine
does not have it. Images stay on the engine after a destroy, as docker-compose's `down` leaves
them.

A build may add files to its context that are not in the repository (`extra_files`: the machine's
own certificate authorities, for a build that goes through a TLS proxy): the context is then sent
as a tar of its own. A debootstrap image is made once per recipe; its root file system is kept as
a tarball in the user's cache, so an engine that lost its images imports it again in seconds.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import pulumi
from docker.errors import APIError, ImageNotFound, NotFound
from docker.utils.build import exclude_paths
from pulumi.dynamic import CreateResult, ReadResult, Resource

from ...errors import DockerRefused
from ..client import cache_root
from .base import DockerProvider, say

TAIL_LINES = 12  # of a failed build's output, in its one-line error


def image_id(client, name: str) -> str | None:
    try:
        return client.images.get(name).id
    except ImageNotFound:
        return None


MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"


def build_network(client, options: dict[str, Any]) -> str | None:
    """The declared network for RUN steps; else the host's, on an engine whose bridge does no NAT
    (one run with --iptables=false, as the project's own engine is: it leaves the machine's firewall
    alone), where a RUN step on the bridge could reach no mirror or registry."""
    if options.get("network"):
        return options["network"]
    try:
        bridge = client.networks.get("bridge")
    except (NotFound, APIError):
        return None
    return "host" if (bridge.attrs.get("Options") or {}).get(MASQUERADE) == "false" else None


def build(client, name: str, options: dict[str, Any]) -> str:
    """`docker build` with the declared options, each step said as it starts; the new image's id."""
    started = time.monotonic()
    network = build_network(client, options)
    on_host = (
        " (RUN steps on the host's network: this engine's bridge does no NAT)"
        if network and not options.get("network")
        else ""
    )
    say(f"building {name} from {options['context']}{on_host}")
    output: list[str] = []
    context = {"path": options["context"]}
    if options.get("extra_files"):
        context = {"fileobj": context_with(options), "custom_context": True}
    stream = client.api.build(
        **context,
        dockerfile=options["dockerfile"],
        tag=name,
        buildargs=options.get("args") or None,
        network_mode=network,
        platform=options.get("platform") or None,
        rm=True,
        forcerm=True,
        decode=True,
    )
    for chunk in stream:
        if "error" in chunk:
            tail = " | ".join(line for line in output[-TAIL_LINES:] if line)
            raise DockerRefused(
                f"the build of {name} failed: {str(chunk['error']).strip()} (its last lines: {tail}); fix the "
                "Dockerfile or the source, then run up again"
            )
        text = str(chunk.get("stream", "")).strip()
        if text:
            output.extend(text.splitlines())
            if text.startswith("Step "):
                say(f"building {name}: {text}")
    found = image_id(client, name)
    if found is None:
        raise DockerRefused(f"the build of {name} ended without an image; run up again")
    say(f"built {name} in {time.monotonic() - started:.0f} s")
    return found


def context_with(options: dict[str, Any]) -> io.BytesIO:
    """The build context as the engine would receive it (the files `.dockerignore` lets through),
    plus `extra_files` (relative path -> text), as one tar."""
    root = Path(options["context"])
    ignore = root / ".dockerignore"
    patterns = [line.strip() for line in ignore.read_text().splitlines()] if ignore.is_file() else []
    patterns = [p for p in patterns if p and not p.startswith("#")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for relative in sorted(exclude_paths(str(root), patterns, dockerfile=options["dockerfile"])):
            archive.add(root / relative, arcname=relative, recursive=False)
        for relative, text in sorted(options["extra_files"].items()):
            data = text.encode()
            member = tarfile.TarInfo(relative)
            member.size, member.mode = len(data), 0o644
            archive.addfile(member, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def cache_dir() -> Path:
    """Where made base images are kept."""
    return cache_root() / "debian"


DEBOOTSTRAP_SECONDS = 90  # what a first debootstrap takes on a machine like the ones CI runs on


def debootstrap(client, name: str, recipe: dict[str, Any]) -> str:
    """A Debian root file system (`debootstrap --variant=minbase SUITE`) imported as `name`, its
    tarball kept in the user's cache so it is made once per machine."""
    tarball = cache_dir() / f"{name.replace('/', '_').replace(':', '-')}.tar"
    if not tarball.is_file():
        tool = shutil.which("debootstrap")
        if tool is None or os.geteuid() != 0:
            raise DockerRefused(
                f"base: debian makes its base image with debootstrap, as root: "
                f"{'run as root' if tool else 'install it (apt-get install debootstrap)'}, or set base: official"
            )
        say(f"making {name} with debootstrap {recipe['suite']} (about {DEBOOTSTRAP_SECONDS} s, once: {tarball})")
        tarball.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=tarball.parent) as scratch:
            rootfs = Path(scratch) / "rootfs"
            done = subprocess.run(
                [tool, "--variant=minbase", recipe["suite"], str(rootfs), recipe["mirror"]],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                tail = " | ".join(done.stdout.strip().splitlines()[-5:])
                raise DockerRefused(f"debootstrap {recipe['suite']} failed (exit {done.returncode}): {tail}")
            # Package scripts in later builds must not start services (postgresql would start one).
            (rootfs / "usr" / "sbin" / "policy-rc.d").write_text("#!/bin/sh\nexit 101\n")
            (rootfs / "usr" / "sbin" / "policy-rc.d").chmod(0o755)
            for cached in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
                cached.unlink()
            partial = tarball.with_suffix(".partial")
            with tarfile.open(partial, "w") as archive:
                archive.add(rootfs, arcname=".")
            partial.rename(tarball)
    say(f"importing {tarball} as {name}")
    repository, _, tag = name.rpartition(":")
    client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    return client.images.get(name).id


def pull(client, name: str) -> str:
    """The engine's image of that name, pulled only when it has none."""
    found = image_id(client, name)
    if found is not None:
        return found
    say(f"pulling {name}")
    try:
        return client.images.pull(name).id
    except (APIError, NotFound) as error:
        raise DockerRefused(
            f"cannot pull {name}: {getattr(error, 'explanation', None) or error}. Pull it yourself (`docker pull "
            f"{name}`) or load it into the engine, then run up again"
        ) from None


class ImageProvider(DockerProvider):
    inputs = ("name", "build", "debootstrap")
    replace_on = inputs

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.engine() as client:
            if props.get("build"):
                made = build(client, props["name"], props["build"])
            elif props.get("debootstrap"):
                made = image_id(client, props["name"]) or debootstrap(client, props["name"], props["debootstrap"])
            else:
                made = pull(client, props["name"])
            return CreateResult(made, {**props, "image_id": made})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.engine() as client:
            found = image_id(client, props["name"])
        if found != props.get("image_id"):
            why = "is gone from the engine" if found is None else "now names another image (tagged outside this stack)"
            say(f"image {props['name']} {why}: up {'builds' if props.get('build') else 'finds'} it again")
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Images stay on the engine, as docker-compose's `down` leaves them: the next `up` of the same
        source then builds nothing."""


class Image(Resource, module="docker", name="Image"):
    name: pulumi.Output[str]
    image_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        name: str,
        build: dict[str, Any] | None = None,
        debootstrap: dict[str, Any] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = {"name": name, "build": build, "debootstrap": debootstrap, "image_id": None}
        super().__init__(ImageProvider(), resource_name, props, opts)
        self.reference = name  # known while the program runs, for builds on this image
