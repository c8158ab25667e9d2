"""Stand-ins placed in front of real things, to interrupt them at a chosen moment.

- `fake_tools`: a directory to put first on PATH with `pg_dump` and `pg_restore` that record how
  they were called (argv, and whether a password came through the environment) and then run
  the real tool, or instead stream some bytes and hang, so a test can kill the runner mid-dump
  or mid-restore.
- `CuttableProxy`: a TCP proxy in front of the S3 server whose connections can be cut, as a
  network that goes away mid-upload does, or that goes silent after some bytes, as one that drops
  packets does.
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
    refuses new ones; `restore()` accepts again.

    `blackhole_after`: once clients have sent that many bytes in all, the bucket goes silent
    instead, as a network that drops packets does: every connection, then and later, is accepted
    and read, and nothing more reaches the target or comes back."""

    def __init__(self, target_port: int, blackhole_after: int | None = None):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.blackhole_after = blackhole_after
        self.sent = 0  # bytes clients sent, forwarded or not
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()  # cut() and a connection being set up: one or the other first
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def silent(self) -> bool:
        return self.blackhole_after is not None and self.sent >= self.blackhole_after

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.silent:
                if self._register(client):
                    threading.Thread(target=self._pipe, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            if not self._register(client, upstream):
                continue
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _register(self, *sockets: socket.socket) -> bool:
        """Keep the new connection's sockets for `cut()`, or close them if it came first: a
        connection accepted just before a cut must not outlive it."""
        with self.lock:
            if self.open:
                self.connections += sockets
                return True
        for sock in sockets:
            sock.close()
        return False

    def _pipe(self, source: socket.socket, sink: socket.socket | None, from_client: bool = False) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                if from_client:
                    with self.lock:
                        self.sent += len(data)
                if sink is not None and not self.silent:
                    sink.sendall(data)
        if sink is not None and not self.silent:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        with self.lock:
            self.open = False
            connections, self.connections = self.connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@contextlib.contextmanager
def cuttable_proxy(target_port: int, blackhole_after: int | None = None) -> Iterator[CuttableProxy]:
    proxy = CuttableProxy(target_port, blackhole_after)
    try:
        yield proxy
    finally:
        proxy.close()
