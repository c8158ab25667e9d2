"""Start the emulator: `./mvs emulator [--port 4000] [--state FILE] [--log FILE] [--token T]`."""

from __future__ import annotations

import argparse
import contextlib
import errno
import signal
import sys
import threading
from pathlib import Path

from .server import DEFAULT_TOKEN, Emulator, EmulatorServer


def why_no_listen(host: str, port: int, error: OSError) -> str:
    """One line for a port the emulator cannot listen on, with what to do."""
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is taken (another emulator still running?): stop that process, or start "
            "this one on another port with --port N (--port 0 picks a free one)"
        )
    if error.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges this user lacks: choose --port 1024 or above"
    return f"cannot listen on {host}:{port} ({error.strerror or error}): choose another --port"


def greeting(url: str, admin_url: str, token: str) -> str:
    """What to paste into another shell so `./mvs` talks to this emulator, and why polling matters."""
    return "\n".join(
        [
            f"Railway emulator at {url} (admin API {admin_url}); Ctrl-C stops it.",
            f"It accepts the account token {token!r}. In another shell, point ./mvs at it:",
            "",
            f"  export RAILWAY_API_ENDPOINT={url}",
            f"  export RAILWAY_API_TOKEN={token}",
            "  export RAILWAY_POLL_SECONDS=0.1",
            "",
            "Its deployments finish after a few status reads, so RAILWAY_POLL_SECONDS=0.1 lets an up take seconds;",
            "with the default 2 s between reads (right for Railway's builds of minutes) an up from empty takes",
            "about a minute, nearly all of it waiting between reads.",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mvs emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4000)
    parser.add_argument("--state", type=Path, help="persist the model to this JSON file")
    parser.add_argument("--log", type=Path, help="append one JSON line per request to this file")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the account token it accepts")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the emulator listens on loopback only")

    emulator = Emulator(state_path=args.state, log_path=args.log, account_tokens=(args.token,))
    try:
        server = EmulatorServer(emulator, args.host, args.port)
    except OSError as error:
        print(f"error: {why_no_listen(args.host, args.port, error)}", file=sys.stderr)
        return 1
    server.start()
    print(greeting(server.url, server.admin_url, args.token), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
