"""What the edge-metrics tests share: the Railway emulator on loopback with a project of two
services, the exporter as a real process (`python -m edge_metrics` with its variables), and
reading /metrics as Prometheus would. Test modules import the fixtures they use from here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from components.railway.client import RailwayClient, RailwayToken
from mvsctl.loopback_s3 import free_port
from railway_emulator.requestlog import read_log
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer
from tests.railway.conftest import create_project, create_service

from .conftest import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPORTER_TOKEN = "edge-exporter-Secret-Token-7f3a"  # an account token the emulator accepts
OPERATION = "edgeMetrics"


@dataclass
class EdgeWorld:
    """The emulator, its admin API, and a project with services frontend and backend."""

    server: EmulatorServer
    log_path: Path
    project_id: str
    environment_id: str
    services: dict[str, str]  # name -> Railway service id
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @property
    def url(self) -> str:
        return self.server.url

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.server.admin_url}/{path}", json=payload or {})
        assert response.status_code == 200, response.text
        return response.json()

    def traffic(self, service: str, status: int, count: int, duration_ms: float = 20.0, at: float | None = None):
        payload = {
            "service_id": self.services[service],
            "environment_id": self.environment_id,
            "status": status,
            "count": count,
            "duration_ms": duration_ms,
        }
        if at is not None:
            payload["at"] = at
        return self.admin("http-traffic", payload)

    def faults(self, *rules: dict[str, Any], seed: int = 0) -> None:
        self.admin("faults", {"rules": list(rules), "seed": seed})

    def requests(self) -> list[dict[str, Any]]:
        """The exporter's requests in the emulator's request log."""
        return [entry for entry in read_log(self.log_path) if entry.get("operation") == OPERATION]

    def env(self, **overrides: str) -> dict[str, str]:
        """The exporter's variables, as its Railway service is deployed with them."""
        return {
            "RAILWAY_API_TOKEN": EXPORTER_TOKEN,
            "RAILWAY_ENVIRONMENT_ID": self.environment_id,
            "EDGE_SERVICES": json.dumps(self.services),
            "EDGE_REQUESTS_PER_HOUR": "30",
            "RAILWAY_API_ENDPOINT": self.url,
            "EDGE_LISTEN_ADDRESS": "127.0.0.1",
            **overrides,
        }


@pytest.fixture
def edge_world(tmp_path: Path) -> Iterator[EdgeWorld]:
    log_path = tmp_path / "requests.jsonl"
    server = EmulatorServer(Emulator(log_path=log_path, state_path=tmp_path / "state.json")).start()
    try:
        with RailwayClient(RailwayToken(DEFAULT_TOKEN), endpoint=server.url) as client:
            project = create_project(client)
            services = {name: create_service(client, project.id, name, "nginx:1") for name in ("frontend", "backend")}
        world = EdgeWorld(server, log_path, project.id, project.production, services)
        world.admin("tokens", {"token": EXPORTER_TOKEN, "kind": "account"})
        log_path.write_text("")  # the setup's requests are not the exporter's
        yield world
        world.http.close()
    finally:
        server.stop()


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values: dict, name: str, **labels: str) -> float | None:
    return values.get((name, tuple(sorted(labels.items()))))


@dataclass
class ExporterProcess:
    process: subprocess.Popen
    port: int
    output: Path

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def text(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return response.read().decode()

    def values(self) -> dict:
        return metric_values(self.text())

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, what: str, check: Callable[[dict], object], deadline: float = 30.0) -> object:
        def probe() -> object:
            assert self.process.poll() is None, f"the exporter exited with {self.process.returncode}:\n{self.log()}"
            return check(self.values())

        return wait_until(what, probe, deadline, self.log)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def run_exporter(
    env: dict[str, str], directory: Path, python: str = sys.executable, cwd: Path = REPO_ROOT
) -> ExporterProcess:
    """`python -m edge_metrics` with exactly `env` (plus PATH), serving on a free loopback port."""
    port = free_port()
    output = directory / f"edge-metrics-{port}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [python, "-m", "edge_metrics"],
            cwd=cwd,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(port), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    exporter = ExporterProcess(process, port, output)
    try:
        wait_until(
            "the exporter serves /metrics",
            lambda: exporter.process.poll() is None and exporter.text(),
            30,
            exporter.log,
        )
    except BaseException:
        exporter.stop()
        raise
    return exporter


@pytest.fixture
def exporters(tmp_path: Path) -> Iterator[Callable[..., ExporterProcess]]:
    """Start exporters; every one is stopped after the test."""
    started: list[ExporterProcess] = []

    def start(env: dict[str, str], **options: Any) -> ExporterProcess:
        exporter = run_exporter(env, tmp_path, **options)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        with contextlib.suppress(Exception):
            exporter.stop()
