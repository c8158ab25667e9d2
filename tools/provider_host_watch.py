"""Ends a Pulumi dynamic provider host once its engine has gone.

tools/setup installs this file into venv/ with a `.pth` line that imports it whenever the venv's
Python starts. In every process but a dynamic provider host (`python -m pulumi.dynamic ADDRESS`,
which Pulumi starts for the project's providers) it does nothing. In a host it starts a thread
that checks every few seconds that the engine at ADDRESS still accepts connections, and ends the
process when it has gone: Pulumi's host has no such check, so a `pulumi` killed with SIGKILL (a
closed CI runner) would leave it waiting forever. It starts with the process, not with the first
resource call, so a host the engine started and never called is ended too.

Standard library only: it runs before anything else is imported, in every process of the venv.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time

CHECK_EVERY_SECONDS = 2.0
MISSES_BEFORE_EXIT = 2
ADDRESS = re.compile(r"(?P<host>127\.0\.0\.1|localhost|\[::1\]):(?P<port>\d+)")
HOST_MODULE = "pulumi.dynamic"


def engine_address(argv: list[str]) -> tuple[str, int] | None:
    """The engine's address among a provider host's arguments, or None for any other process."""
    if "-m" not in argv or argv[argv.index("-m") + 1 : argv.index("-m") + 2] != [HOST_MODULE]:
        return None
    for argument in argv[argv.index("-m") + 2 :]:
        if match := ADDRESS.fullmatch(argument):
            return match["host"].strip("[]"), int(match["port"])
    return None


def answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=CHECK_EVERY_SECONDS):
            return True
    except OSError:
        return False


def watch(address: tuple[str, int]) -> None:
    misses = 0
    while True:
        time.sleep(CHECK_EVERY_SECONDS)
        misses = 0 if answers(address) else misses + 1
        if misses >= MISSES_BEFORE_EXIT:
            os._exit(0)  # the engine is gone: nobody will ever call this process again


def start() -> None:
    address = engine_address(list(getattr(sys, "orig_argv", [])))
    if address is not None:
        threading.Thread(target=watch, args=(address,), name="engine-watch", daemon=True).start()


start()
