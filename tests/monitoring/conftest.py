"""Real monitoring servers on loopback for the monitoring tests, each started by a fixture on a free
port in a temporary directory and stopped afterwards, also when the test fails: Debian's
Prometheus, Alertmanager, Pushgateway and postgres_exporter (tools/monitoring-tools links them
into .tools/bin), a PostgreSQL 15 cluster of the test's own (it is stopped and started again
within the test, which the shared session server cannot be), and a local HTTP server recording
what Alertmanager's webhook delivers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mvsctl.loopback_s3 import free_port
from tests.app.conftest import backend_modules  # noqa: F401  (the real backend's node_modules)
from tests.backups.pgserver import PG_BIN, SUPERUSER_PASSWORD, as_postgres_user
from tests.monitoring_tools import monitoring_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 30.0


def tool(name: str) -> str:
    """A monitoring tool on PATH or in .tools/bin, installed on first need (tests/monitoring_tools.py)."""
    return monitoring_tool(name)


def wait_until(what: str, check: Callable[[], object], deadline: float, explain: Callable[[], str] = str) -> object:
    """Polls `check` until it returns something truthy; fails with `what` (and `explain()`) after
    `deadline` seconds."""
    end = time.monotonic() + deadline
    while True:
        with contextlib.suppress(OSError, ValueError):
            found = check()
            if found:
                return found
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline:.0f} s\n{explain()}")
        time.sleep(0.2)


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


DEBIAN_TEMPLATES = Path("/usr/share/prometheus/alertmanager/default.tmpl")


def alertmanager_command(*args: str) -> list[str]:
    """Debian's Alertmanager with `args`. Debian's build reads its default notification templates
    from the fixed path /usr/share/prometheus/alertmanager/, which an unpacked (not installed)
    package lacks; then it runs in a private mount namespace (as root: unshare) where the
    package's usr/share is overlaid on /usr/share, and nothing outside the process changes."""
    binary = tool("alertmanager")
    if DEBIAN_TEMPLATES.exists():
        return [binary, *args]
    share = Path(os.path.realpath(binary)).parents[1] / "share"
    if os.geteuid() != 0 or not (share / "prometheus" / "alertmanager" / "default.tmpl").exists():
        pytest.fail(f"Debian's alertmanager needs {DEBIAN_TEMPLATES} (apt-get install prometheus-alertmanager)")
    overlay = 'mount -t overlay overlay -o lowerdir="$1":/usr/share /usr/share && shift && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", overlay, "sh", str(share), binary, *args]


@dataclass
class Server:
    """One server process, its log file and its address."""

    name: str
    process: subprocess.Popen
    log: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Servers:
    """Starts servers and stops every one of them (the fixture's teardown)."""

    directory: Path
    started: list[Server] = field(default_factory=list)
    stoppers: list[Callable[[], object]] = field(default_factory=list)

    def on_stop(self, stop: Callable[[], object]) -> None:
        """Also run `stop` at teardown (for a process started elsewhere), before the servers stop."""
        self.stoppers.append(stop)

    def start(self, name: str, command: list[str], port: int, ready_path: str, env: dict | None = None) -> Server:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.directory,
                env={**os.environ, **(env or {})},
            )
        server = Server(name, process, log, port)
        self.started.append(server)

        def ready() -> bool:
            assert process.poll() is None, f"{name} exited with {process.returncode}:\n{server.log_text()}"
            return http_ok(f"{server.url}{ready_path}")

        wait_until(f"{name} ready", ready, START_DEADLINE, server.log_text)
        return server

    def start_prometheus(self, config: Path, data: str = "prometheus-data") -> Server:
        """Debian's Prometheus on `config` (rule files resolve beside it), its samples in `data`
        under the servers' directory."""
        port = free_port()
        command = [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.directory / data}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        return self.start("prometheus", command, port, "/-/ready")

    def start_postgres_exporter(self, database_url: str) -> Server:
        """Debian's postgres_exporter on `database_url` (no TLS on loopback)."""
        port = free_port()
        command = [tool("postgres_exporter"), f"--web.listen-address=127.0.0.1:{port}"]
        return self.start(
            "postgres_exporter", command, port, "/metrics", env={"DATA_SOURCE_NAME": f"{database_url}?sslmode=disable"}
        )

    def start_pushgateway(self) -> Server:
        """Debian's Pushgateway, keeping nothing on disk."""
        port = free_port()
        command = [tool("pushgateway"), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
        return self.start("pushgateway", command, port, "/-/ready")

    def stop_all(self) -> None:
        for stop in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                stop()
        for server in reversed(self.started):
            server.stop()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    directory = Path(tempfile.mkdtemp(prefix="mvs-monitoring-"))
    started = Servers(directory)
    try:
        yield started
    finally:
        started.stop_all()
        shutil.rmtree(directory, ignore_errors=True)


class PostgresCluster:
    """A PostgreSQL 15 cluster of its own (initdb, pg_ctl) on a loopback port, which a test may
    stop and start again; the same port and data every time."""

    def __init__(self) -> None:
        # Not under pytest's tmp dirs: they are private to root, and the server runs as `postgres`.
        self.base = Path(tempfile.mkdtemp(prefix="mvs-monitoring-pg-"))
        self.data, self.sockets = self.base / "data", self.base / "sockets"
        self.port = free_port()
        self.url = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(as_postgres_user(list(args)), capture_output=True, text=True, check=False)

    def init(self) -> None:
        assert (PG_BIN / "initdb").exists(), f"PostgreSQL 15 server binaries not found in {PG_BIN}"
        self.sockets.mkdir()
        password_file = self.base / "password"
        password_file.write_text(SUPERUSER_PASSWORD)
        if os.geteuid() == 0:
            for path in (self.base, self.sockets, password_file):
                shutil.chown(path, "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--no-sync"]
        initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"]
        result = self._run(*initdb)
        assert result.returncode == 0, result.stderr

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c max_connections=50 -c fsync=off"
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log")]
        result = self._run(*pg_ctl, "-w", "start")
        assert result.returncode == 0, result.stdout + result.stderr

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if self.data.exists():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


class WebhookRecorder:
    """A local HTTP server recording every JSON body POSTed to it (Alertmanager's webhook)."""

    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with recorder.lock:
                    recorder.deliveries.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.deliveries)

    def describe(self) -> str:
        lines = []
        for delivery in self.snapshot():
            for alert in delivery.get("alerts", []):
                lines.append(f"{alert.get('status')} {json.dumps(alert.get('labels'), sort_keys=True)}")
        return "webhook deliveries so far:\n  " + ("\n  ".join(lines) or "(none)")


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()
    recorder.thread.start()
    try:
        yield recorder
    finally:
        recorder.server.shutdown()
        recorder.server.server_close()
