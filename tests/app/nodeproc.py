"""The app's real node processes, started the way the images start them, for the tests.

A server is started with PORT=0, so the kernel picks a free port and no two tests race for one;
the port is read back from the server's own "listening" log line. stdout and stderr go to files,
so a test can read every log line afterwards without a pipe filling up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
BACKEND = APP / "backend"
FRONTEND = APP / "frontend"

# Another node can stand in, e.g. Debian's Node 18: MVS_TEST_NODE=/path/to/node pytest tests/app
NODE = os.environ.get("MVS_TEST_NODE", "node")

START_DEADLINE = 30.0  # seconds a server may take to log "listening" before the test fails
STOP_DEADLINE = 20.0  # seconds a server may take to exit after SIGTERM before the test fails


def node_env(**variables: str) -> dict[str, str]:
    """This environment without anything that would change the app's behaviour, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PORT", "BACKEND_URL", "LOG_LEVEL"}}
    env.update(variables)
    return env


@dataclass
class NodeServer:
    process: subprocess.Popen
    log_path: Path
    port: int = 0
    exit_code: int | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict]:
        """The JSON log lines written so far (complete lines only: the last may be half written)."""
        complete = self.log_text().split("\n")[:-1]
        return [json.loads(line) for line in complete if line.startswith("{")]

    def request_records(self, count: int) -> list[dict]:
        """The per-request log lines, once there are at least `count`: a line is written when the
        response closes, which can be just after the client has read it."""
        deadline = time.monotonic() + START_DEADLINE
        while True:
            records = [r for r in self.log_records() if r.get("msg") == "request"]
            if len(records) >= count or time.monotonic() > deadline:
                return records
            time.sleep(0.02)

    def wait_for_log(self, message: str) -> dict:
        """The first log line whose `msg` is `message`; fails the test if none comes."""
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            for record in self.log_records():
                if record.get("msg") == message:
                    return record
            time.sleep(0.02)
        raise AssertionError(f"no {message!r} in the log:\n{self.log_text()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Sends `sig` and returns the exit code; fails the test if the process does not exit."""
        if self.alive():
            self.process.send_signal(sig)
        try:
            self.exit_code = self.process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"node did not exit after signal {sig}:\n{self.log_text()}") from None
        return self.exit_code


def start_server(script: Path, log_path: Path, **variables: str) -> NodeServer:
    """Starts `node script` with PORT=0 and `variables`; returns once it listens."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [NODE, str(script)],
            cwd=script.parent.parent,
            env=node_env(PORT="0", **variables),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = NodeServer(process, log_path)
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        for record in server.log_records() if log_path.exists() else []:
            if record.get("msg") == "listening":
                server.port = int(record["port"])
                return server
        if not server.alive():
            raise AssertionError(f"{script.name} exited with {process.returncode}:\n{server.log_text()}")
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"{script.name} did not start listening:\n{server.log_text()}")


def run_migrate(database_url: str | None, **variables: str) -> subprocess.CompletedProcess:
    """`node src/migrate.js` as the pre-deploy command runs it."""
    env = node_env(**variables)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [NODE, "src/migrate.js"], cwd=BACKEND, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def start_migrate(database_url: str, **variables: str) -> subprocess.Popen:
    """The same, in the background (for concurrent runs)."""
    return subprocess.Popen(
        [NODE, "src/migrate.js"],
        cwd=BACKEND,
        env=node_env(DATABASE_URL=database_url, **variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
