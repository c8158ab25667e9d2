"""Before `./mvs up dev`: can the official base images be had here? If not, offer `base: debian`.

The dev stack pulls postgres and builds the app and the backup runner on the official node and
python images (the Dockerfiles' default BASE_IMAGE). A machine that reaches no image registry (a
locked-down network, the machines this project is built on) cannot have them, and `up` would stop
half way on the first pull. So before anything is created, each one is looked for on the engine,
then at its registry (the engine asks it, as a pull would); when one can be had from neither,
`up` says which and why, and offers the same stack built from Debian bookworm's own packages
(`base: debian`, components/local/debian.py), written into the stack file so that the next `up`,
`preview` and the team see it. `--yes` (or a yes at the prompt) accepts.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from components.spec import EnvironmentSpec
from components.stack_config import stack_file

from . import stack_edit
from .pulumi_cli import PROJECT_ROOT

DOCKERFILE_BASE = re.compile(r"^ARG BASE_IMAGE=(\S+)$", re.M)
RUNNER_DOCKERFILE = "backup_runner/Dockerfile"
REGISTRY_TIMEOUT_SECONDS = 30

Say = Callable[[str], None]


def default_base(dockerfile: Path) -> str | None:
    match = DOCKERFILE_BASE.search(dockerfile.read_text()) if dockerfile.is_file() else None
    return match.group(1) if match else None


def official_images(spec: EnvironmentSpec, root: Path = PROJECT_ROOT) -> list[str]:
    """The official images the declaration needs that `base: debian` makes instead."""
    if spec.base != "official":
        return []
    needed = [spec.database.image]
    builds = [
        (service.build, root / service.build.context / service.build.dockerfile)
        for service in spec.services.values()
        if service.build
    ]
    if spec.backups.enabled:
        builds.append((spec.backups.runner_build, root / RUNNER_DOCKERFILE))
    for options, dockerfile in builds:
        base = None if "BASE_IMAGE" in options.args else default_base(dockerfile)
        if base:
            needed.append(base)
    return list(dict.fromkeys(needed))


def cannot_have(client: docker.DockerClient, names: list[str]) -> dict[str, str]:
    """name -> why, for each image neither on the engine nor answered for by its registry."""
    missing = {}
    for name in names:
        try:
            client.images.get(name)
            continue
        except ImageNotFound:
            pass
        try:
            client.images.get_registry_data(name)
        except (APIError, DockerException) as error:
            missing[name] = str(getattr(error, "explanation", None) or error).strip().splitlines()[0]
    return missing


def offer(stack: str, missing: dict[str, str]) -> str:
    listed = "; ".join(f"{name} ({why})" for name, why in missing.items())
    return (
        f"These official images cannot be had here: {listed}. ./mvs can run the same stack on Debian "
        f"bookworm's own packages instead: `base: debian` in {stack_file(stack)} (Node 18, Python 3.11 and "
        "PostgreSQL 15 from Debian, built on a debootstrap base made once, a few minutes the first time; "
        'README: "base: debian"). Staging and prod always run the official images.'
    )


def accepted(unattended: bool, stack: str, say: Say) -> bool:
    if unattended:
        say("Switching to base: debian (--yes).")
        return True
    if sys.stdin.isatty():
        return input("Switch to base: debian? [y/N] ").strip().lower() in ("y", "yes")
    say(f"Nothing was changed: run `./mvs up {stack} --yes` to switch, or make the images available.")
    return False


def switch_to_debian(stack: str, say: Say) -> None:
    change = stack_edit.edit_stack_file(stack, stack_edit.set_base("debian"))
    if change:
        say(f"{stack_file(stack)} now declares base: debian (commit it, or set base: official to go back)")


def check(client: docker.DockerClient, stack: str, spec: EnvironmentSpec, unattended: bool, say: Say) -> bool:
    """True when `up` may go on (the images can be had, or the stack now builds them on Debian)."""
    missing = cannot_have(client, official_images(spec))
    if not missing:
        return True
    if spec.monitoring.enabled:
        listed = ", ".join(missing)
        say(
            f"These official images cannot be had here: {listed}. `base: debian` would make the app's and the "
            "database's here, but not the monitoring images: set monitoring.enabled: false in "
            f"{stack_file(stack)} to use it, or make the images available. Nothing was changed."
        )
        return False
    say(offer(stack, missing))
    if not accepted(unattended, stack, say):
        return False
    switch_to_debian(stack, say)
    return True
