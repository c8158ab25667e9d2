"""Is a Docker engine reachable? Asked before the dev stack changes anything.

The answer comes from the engine's own `/_ping` endpoint at DOCKER_HOST (or the default socket),
the same address the Docker provider will use, so a "yes" here means the provider can connect.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

from components.local.client import DEFAULT_HOST

PING = b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"


def own_host() -> str:
    """Where the project's own engine listens (tools/docker-engine's socket)."""
    return f"unix://{os.environ.get('MVS_DOCKER_RUN') or '/tmp/mvs-docker'}/docker.sock"


def docker_host() -> str:
    """DOCKER_HOST when set; otherwise the default socket, or the project's own engine when only
    that one answers (mvsctl/own_engine.py: `./mvs up dev` may have started it)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    if unreachable_reason(DEFAULT_HOST) and unreachable_reason(own_host(), timeout=1.0) is None:
        return own_host()
    return DEFAULT_HOST


def unreachable_reason(host: str | None = None, timeout: float = 3.0) -> str | None:
    """Why no engine answers at `host`, or None when one does (or when it cannot be checked)."""
    host = host or docker_host()
    url = urlparse(host)
    try:
        if url.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: object = url.path
        elif url.scheme == "tcp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (url.hostname or "localhost", url.port or 2375)
        else:
            return None  # ssh:// and others: the provider connects its own way
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            if os.environ.get("DOCKER_TLS_VERIFY"):
                return None  # a TLS engine answered the TCP connect; the provider does the handshake
            sock.sendall(PING)
            reply = sock.recv(4096)
    except OSError as error:
        return f"{error.strerror or error}"
    status_line = reply.split(b"\r\n", 1)[0]
    if b" 200" not in status_line:
        return f"it answered {status_line.decode(errors='replace')!r} instead of 200 OK"
    return None


def unreachable_message(host: str, reason: str) -> str:
    return (
        f"No Docker engine is reachable at {host} ({reason}).\n"
        "Nothing was changed. The dev stack runs on a local Docker engine: start Docker "
        "(Docker Desktop, or `sudo systemctl start docker`), or point DOCKER_HOST at a running engine, "
        "then run `./mvs up dev` again."
    )
