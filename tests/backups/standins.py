"""Stand-ins placed in front of real things, to interrupt them at a chosen moment.

- `fake_tools`: a directory to put first on PATH with `pg_dump` and `pg_restore` that record how
  they were called (argv, and whether a password came through the environment) and then run
  the real tool, or instead stream some bytes and hang, so a test can kill the runner mid-dump
  or mid-restore.
- `CuttableProxy`: a TCP proxy in front of the S3 server whose connections can be cut, as a
  network that goes away mid-upload does.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

TOOL = """#!{python}
import json, os, sys, time
log = os.environ.get("STANDIN_LOG")
if log:
    with open(log, "a") as handle:
        handle.write(json.dumps({{"argv": sys.argv, "password_in_env": bool(os.environ.get("PGPASSWORD"))}}) + "\\n")
behaviour = os.environ.get("STANDIN_{name}", "real")
if behaviour == "real":
    os.execv({real!r}, [{real!r}, *sys.argv[1:]])
if behaviour.startswith("stream:"):  # stream N random bytes, then hang until killed
    sys.stdout.buffer.write(os.urandom(int(behaviour.split(":")[1])))
    sys.stdout.buffer.flush()
time.sleep(3600)
"""


def make_fake_tools(directory: Path, python: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("pg_dump", "pg_restore"):
        real = shutil.which(name)
        assert real, f"{name} not found on PATH (apt-get install postgresql-client-15)"
        path = directory / name
        path.write_text(TOOL.format(python=python, name=name.upper(), real=real))
        path.chmod(0o755)
    return directory


def tool_calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


class CuttableProxy:
    """Forwards 127.0.0.1:<port> to a target until `cut()`, which closes every connection and
    refuses new ones; `restore()` accepts again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.open = False
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
        self.connections.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@contextlib.contextmanager
def cuttable_proxy(target_port: int) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()
