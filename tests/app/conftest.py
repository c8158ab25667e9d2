"""Fixtures for the reference app's tests: a real PostgreSQL 15 server (tests/backups/pgserver.py),
each app's node_modules from `npm ci`, and the app's real node processes (nodeproc.py)."""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from .nodeproc import BACKEND, FRONTEND, NodeServer, node_env, run_migrate, start_server

STAMP = ".mvs-installed-from"  # in node_modules: the digest of the files it was installed from


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def npm_ci(app: Path) -> Path:
    """`app`/node_modules as `npm ci --omit=dev` makes it from the committed lock file, as the
    app's Dockerfile does.

    Skipped when node_modules was installed from the same package.json and package-lock.json
    (a stamp holds their digest); a file lock keeps parallel test runs from installing at once."""
    digest = hashlib.sha256((app / "package.json").read_bytes() + (app / "package-lock.json").read_bytes())
    wanted = digest.hexdigest()
    stamp = app / "node_modules" / STAMP
    lock_path = Path(tempfile.gettempdir()) / f"mvs-app-{app.name}-npm-ci.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text().strip() == wanted):
            result = subprocess.run(
                ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=app,
                env=node_env(),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if result.returncode != 0:
                pytest.fail(f"npm ci in {app} failed:\n{result.stdout}\n{result.stderr}")
            stamp.write_text(wanted + "\n")
    return app / "node_modules"


@pytest.fixture(scope="session")
def backend_modules() -> Path:
    """app/backend/node_modules (pg, prom-client)."""
    return npm_ci(BACKEND)


@pytest.fixture(scope="session")
def frontend_modules() -> Path:
    """app/frontend/node_modules (prom-client)."""
    return npm_ci(FRONTEND)


@pytest.fixture
def database(pg_server) -> Iterator[str]:
    """A new empty database for one test; its URL."""
    name = f"app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated_database(database, backend_modules) -> str:
    """A new database with the app's migrations applied by the app's own migrate.js."""
    result = run_migrate(database)
    assert result.returncode == 0, result.stderr
    return database


def stop_all(servers: list[NodeServer]) -> None:
    for server in servers:
        if server.alive():
            server.process.kill()
            server.process.wait()


@pytest.fixture
def start_backend(tmp_path, backend_modules):
    """Starts backends (`node app/backend/src/server.js`); each is stopped after the test."""
    started: list[NodeServer] = []

    def start(database_url: str | None, **variables: str) -> NodeServer:
        if database_url is not None:
            variables["DATABASE_URL"] = database_url
        server = start_server(BACKEND / "src" / "server.js", tmp_path / f"backend-{len(started)}.log", **variables)
        started.append(server)
        return server

    yield start
    stop_all(started)


@pytest.fixture
def backend(start_backend, migrated_database) -> NodeServer:
    """A backend on a migrated database of its own."""
    return start_backend(migrated_database)


@pytest.fixture
def start_frontend(tmp_path, frontend_modules):
    """Starts frontends (`node app/frontend/src/server.js`); each is stopped after the test."""
    started: list[NodeServer] = []

    def start(backend_url: str, **variables: str) -> NodeServer:
        log_path = tmp_path / f"frontend-{len(started)}.log"
        server = start_server(FRONTEND / "src" / "server.js", log_path, BACKEND_URL=backend_url, **variables)
        started.append(server)
        return server

    yield start
    stop_all(started)
