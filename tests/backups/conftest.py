"""Real PostgreSQL 15 (pgserver.py) and the real S3-compatible server of tests/conftest.py, both
on loopback, for the backup tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backup_runner import postgres
from backup_runner.destinations import DirectoryDestination, S3Destination

from .pgserver import PG_BIN
from .standins import make_fake_tools

__all__ = ["PG_BIN"]


@pytest.fixture
def database(pg_server) -> Iterator[str]:
    """A new empty database for one test; its URL."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    postgres.create_database(pg_server, name)
    yield postgres.with_database(pg_server, name)
    postgres.drop_database(pg_server, name)


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return s3_endpoint


@pytest.fixture(params=["directory", "s3"])
def destination(request, tmp_path):
    if request.param == "directory":
        return DirectoryDestination(tmp_path / "backups")
    request.getfixturevalue("s3_env")
    bucket = f"mvs-backups-{uuid.uuid4().hex[:8]}"
    store = S3Destination(bucket, "staging/mvs", os.environ["AWS_ENDPOINT_URL"])
    store.client.create_bucket(Bucket=bucket)
    return store


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def table_checksums(url: str) -> dict[str, str]:
    """An md5 over every row of every table, in a stable order: equal data, equal sums."""
    with postgres.connect(url) as conn:
        tables = postgres.row_counts(conn)
        return {
            table: conn.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            ).fetchone()[0]
            for table in tables
        }


def seed(url: str) -> None:
    execute(
        url,
        "CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz DEFAULT now())",
        "CREATE TABLE orders (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), total numeric(10,2))",
        "INSERT INTO users (email) SELECT 'user' || g || '@mvs.example' FROM generate_series(1, 500) g",
        "INSERT INTO orders (user_id, total) SELECT 1 + g % 500, g * 1.25 FROM generate_series(1, 3000) g",
        "CREATE INDEX orders_user ON orders (user_id)",
    )


def quiet(_message: str) -> None:
    """A progress callback that drops what it is told."""
    return None


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m backup_runner ARGS` as the containers run it, with `env` over this environment."""
    return subprocess.run(
        [sys.executable, "-m", "backup_runner", *args],
        env={**os.environ, **env},
        text=True,
        capture_output=True,
        timeout=timeout,
    )


@pytest.fixture
def fake_tools(tmp_path, monkeypatch) -> Path:
    """pg_dump and pg_restore stand-ins first on PATH (see standins.py); returns their call log."""
    tools = make_fake_tools(tmp_path / "fake-tools", sys.executable)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    log = tmp_path / "tool-calls.jsonl"
    monkeypatch.setenv("STANDIN_LOG", str(log))
    return log


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs), so a write really runs out of space."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
