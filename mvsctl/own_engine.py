"""The project's own Docker engine, for `./mvs up dev` on a machine that runs none.

Where no engine answers and this is Linux as root (CI runners, cloud VMs, the machines this project
is built on), `./mvs up dev` offers tools/docker-engine: Debian's docker.io, installed with apt-get
when missing, run on a socket of its own with its data under the user's cache, without touching
the machine's firewall, forwarding or another daemon's bridge. It says what it installs and where;
`--yes` (or a yes at the prompt) accepts. The engine then serves every later `./mvs` command
without DOCKER_HOST being set (docker_engine.docker_host() finds it), and `./mvs down dev` stops it
again, since `./mvs` started it (a marker in .state/ says so). Anywhere else nothing is offered:
`up` stops with the one line saying what to start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from components.errors import ToolError
from components.local.client import cache_root

from .docker_engine import own_host
from .pulumi_cli import PROJECT_ROOT

ENGINE_TOOL = PROJECT_ROOT / "tools" / "docker-engine"
MARKER = PROJECT_ROOT / ".state" / "docker-engine.started-by-mvs"
TOOL_TIMEOUT_SECONDS = 900

Say = Callable[[str], None]


def cache_dir() -> Path:
    return cache_root() / "docker"


def can_offer() -> bool:
    """Linux, as root, no engine of the user's named in DOCKER_HOST, and a way to get dockerd."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    if os.environ.get("DOCKER_HOST") not in (None, "", own_host()):
        return False
    return bool(shutil.which("dockerd") or shutil.which("apt-get"))


def offer(host: str, reason: str) -> str:
    installs = (
        "its dockerd is installed already"
        if shutil.which("dockerd")
        else "it installs Debian's docker.io and debootstrap with apt-get (about 30 s)"
    )
    return (
        f"No Docker engine answers at {host} ({reason}). This machine (Linux, root) can run the project's own: "
        f"tools/docker-engine; {installs}, and runs dockerd on {own_host()} with its images and data in "
        f"{cache_dir()}, leaving the firewall, forwarding and any other daemon alone. `./mvs down dev` stops it."
    )


def accepted(unattended: bool, say: Say) -> bool:
    if unattended:
        say("Starting it (--yes).")
        return True
    if sys.stdin.isatty():
        return input("Start it? [y/N] ").strip().lower() in ("y", "yes")
    say("Nothing was changed: run `./mvs up dev --yes` to let ./mvs start it, or start Docker yourself.")
    return False


def tool(*args: str) -> str:
    done = subprocess.run(
        [str(ENGINE_TOOL), *args], stdout=subprocess.PIPE, stderr=None, text=True, timeout=TOOL_TIMEOUT_SECONDS
    )
    if done.returncode != 0:
        raise ToolError(f"tools/docker-engine {' '.join(args)} failed (exit {done.returncode}); its lines are above")
    return done.stdout.strip()


def start() -> str:
    """Install what is missing, start the engine, remember that ./mvs started it; its DOCKER_HOST."""
    tool("install")
    host = tool("start").removeprefix("DOCKER_HOST=")
    MARKER.parent.mkdir(parents=True, exist_ok=True)
    MARKER.write_text(host + "\n")
    return host


def stop_if_started_here(say: Say) -> None:
    """`./mvs down`: the engine goes too, when ./mvs started it."""
    if not MARKER.exists():
        return
    tool("stop")
    MARKER.unlink()
    say(f"stopped the project's Docker engine at {own_host()} (./mvs up started it); its images stay in {cache_dir()}")
