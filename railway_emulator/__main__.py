"""Start the emulator: `./mvs emulator [--port 4000] [--state FILE] [--log FILE] [--token T]`."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from .server import DEFAULT_TOKEN, Emulator, EmulatorServer


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

    server = EmulatorServer(
        Emulator(state_path=args.state, log_path=args.log, account_tokens=(args.token,)), args.host, args.port
    )
    server.start()
    print(f"Railway emulator at {server.url} (admin API {server.admin_url}); Ctrl-C stops it", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
