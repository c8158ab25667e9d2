"""Fixtures for the Railway client and emulator: a real emulator on a loopback port per test.

Clients get an injected `sleep` that records the waits instead of sleeping and a small
RetryPolicy, so no test waits on a backoff and none asserts on wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.railway.client import RailwayClient, RailwayToken, RetryPolicy
from components.railway.operations import operation
from railway_emulator.requestlog import read_log
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer

ACCOUNT_TOKEN = DEFAULT_TOKEN  # "emulator-account-token"
ACCOUNT_HEADERS = {"Authorization": f"Bearer {ACCOUNT_TOKEN}"}
MAX_ATTEMPTS = 3


def start_server(log_path: Path, state_path: Path) -> EmulatorServer:
    """An EmulatorServer on a free loopback port."""
    return EmulatorServer(Emulator(log_path=log_path, state_path=state_path)).start()


@dataclass
class EmulatorHandle:
    """The running emulator and the admin API around it."""

    server: EmulatorServer
    log_path: Path
    state_path: Path
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin_url(self) -> str:
        return self.server.admin_url

    # ---- admin API -------------------------------------------------------------------

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"{self.admin_url}/{path}", json=payload or {})
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        response = self.http.get(f"{self.admin_url}/state")
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self, *rules: dict[str, Any], seed: int = 0) -> None:
        self.admin("faults", {"rules": list(rules), "seed": seed})

    def rate_limit(self, limit: int, window_seconds: float = 60) -> None:
        self.admin("rate-limit", {"limit": limit, "window_seconds": window_seconds})

    def behaviour(self, service: str, outcome: str) -> None:
        self.admin("behaviour", {"service": service, "outcome": outcome})

    def register_token(
        self, token: str, kind: str, project_id: str | None = None, environment_id: str | None = None
    ) -> None:
        self.admin("tokens", {"token": token, "kind": kind, "projectId": project_id, "environmentId": environment_id})

    def dashboard(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.admin("dashboard", {"query": query, "variables": variables})

    # ---- raw GraphQL -----------------------------------------------------------------

    def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        operation_name: str | None = None,
    ) -> httpx.Response:
        """POST a GraphQL request as-is (account token unless `headers` says otherwise)."""
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.http.post(self.url, json=body, headers=ACCOUNT_HEADERS if headers is None else headers)

    def op(self, name: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        """POST one of the project's operation documents; returns the httpx response."""
        return self.post(operation(name).document, variables, headers, operation_name=name)

    def data(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST an operation that must succeed; returns its data."""
        response = self.op(name, variables)
        body = response.json()
        assert response.status_code == 200 and not body.get("errors"), body
        return body["data"]


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """One emulator server per test process; each test gets a fresh model on it (`emulator`)."""
    server = EmulatorServer(Emulator()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_server: EmulatorServer, tmp_path: Path) -> Iterator[EmulatorHandle]:
    """The shared server answering from a new, empty emulator with this test's request log and
    state file: no model, token, fault, rate limit or log entry carries over from another test."""
    log_path, state_path = tmp_path / "requests.jsonl", tmp_path / "state.json"
    emulator_server.serve(Emulator(log_path=log_path, state_path=state_path))
    handle = EmulatorHandle(emulator_server, log_path, state_path)
    try:
        yield handle
    finally:
        handle.http.close()
        emulator_server.serve(Emulator())


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the clients asked for, in order."""
    return []


@pytest.fixture
def make_client(emulator: EmulatorHandle, sleeps: list[float]) -> Iterator[Callable[..., RailwayClient]]:
    """Build a RailwayClient against the emulator (or `endpoint`); each is closed after the test."""
    clients: list[RailwayClient] = []

    def make(
        token: RailwayToken | None = None,
        endpoint: str | None = None,
        timeout: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> RailwayClient:
        client = RailwayClient(
            token or RailwayToken(ACCOUNT_TOKEN),
            endpoint=endpoint or emulator.url,
            timeout=timeout,
            retry=RetryPolicy(max_attempts=max_attempts, base_delay=0.01, max_delay=0.04, max_retry_after=60),
            sleep=sleeps.append,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., RailwayClient]) -> RailwayClient:
    return make_client()


@pytest.fixture
def request_log(emulator: EmulatorHandle) -> Callable[..., list[dict[str, Any]]]:
    """A function returning the request log's entries so far (optionally for one operation)."""

    def entries(operation_name: str | None = None) -> list[dict[str, Any]]:
        lines = read_log(emulator.log_path)
        return lines if operation_name is None else [e for e in lines if e.get("operation") == operation_name]

    return entries


# ---- helpers that build things through the client ----------------------------------------


@dataclass(frozen=True)
class Project:
    id: str
    production: str  # the id of its production environment


def create_project(client: RailwayClient, name: str = "mvs") -> Project:
    project = client.execute("projectCreate", {"input": {"name": name}})["projectCreate"]
    environments = {edge["node"]["name"]: edge["node"]["id"] for edge in project["environments"]["edges"]}
    return Project(project["id"], environments["production"])


def create_environment(client: RailwayClient, project_id: str, name: str) -> str:
    return client.execute("environmentCreate", {"input": {"projectId": project_id, "name": name}})["environmentCreate"][
        "id"
    ]


def create_service(
    client: RailwayClient, project_id: str, name: str, image: str | None = None, environment_id: str | None = None
) -> str:
    service_input: dict[str, Any] = {"projectId": project_id, "name": name}
    if image is not None:
        service_input["source"] = {"image": image}
    if environment_id is not None:
        service_input["environmentId"] = environment_id
    return client.execute("serviceCreate", {"input": service_input})["serviceCreate"]["id"]
