"""An image a container runs: built from this repository, or a pinned public image.

A build's tag is a digest of what the build reads (components/local/builds.py), so a changed source
is a new tag, hence a new image and a replaced container, and an untouched tree is no change at
all. The image's id, read back from the engine, is what containers run: the engine reports a
container's image as an id, so naming it by tag would differ on every read.

`read()` checks that the tag still names the image this stack made or found: a tag removed or
moved to another image (a `docker rmi`, a `docker tag` over it) reads as gone, so `up` builds or
finds it again, and the containers on it follow. A pinned image is pulled only when the engine
does not have it. Images stay on the engine after a destroy, as docker-compose's `down` leaves
them.
"""

from __future__ import annotations

import time
from typing import Any

import pulumi
from docker.errors import APIError, ImageNotFound, NotFound
from pulumi.dynamic import CreateResult, ReadResult, Resource

from ...errors import DockerRefused
from .base import DockerProvider, say

TAIL_LINES = 12  # of a failed build's output, in its one-line error


def image_id(client, name: str) -> str | None:
    try:
        return client.images.get(name).id
    except ImageNotFound:
        return None


def build(client, name: str, options: dict[str, Any]) -> str:
    """`docker build` with the declared options, each step said as it starts; the new image's id."""
    started = time.monotonic()
    say(f"building {name} from {options['context']}")
    output: list[str] = []
    stream = client.api.build(
        path=options["context"],
        dockerfile=options["dockerfile"],
        tag=name,
        buildargs=options.get("args") or None,
        network_mode=options.get("network") or None,
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
    inputs = ("name", "build")
    replace_on = inputs

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.engine() as client:
            made = build(client, props["name"], props["build"]) if props.get("build") else pull(client, props["name"])
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
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(ImageProvider(), resource_name, {"name": name, "build": build, "image_id": None}, opts)
