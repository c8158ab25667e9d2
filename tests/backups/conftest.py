"""Real PostgreSQL 15 and a real S3-compatible server (moto's server mode), both on loopback.

PostgreSQL comes from Debian's packages (/usr/lib/postgresql/15/bin, or MVS_PG_BIN); the server
is made with initdb in a temporary directory and started on a free port for this test session.
initdb refuses to run as root, so as root it runs as the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backup_runner import postgres
from backup_runner.destinations import DirectoryDestination, S3Destination

PG_BIN = Path(os.environ.get("MVS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a fresh PostgreSQL 15 server's `postgres` database."""
    assert (PG_BIN / "initdb").exists(), (
        f"PostgreSQL 15 server binaries not found in {PG_BIN} (apt-get install postgresql-15)"
    )
    # Not under pytest's tmp dirs: they are private to root, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="mvs-postgres-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        as_postgres_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    subprocess.run(
        as_postgres_user(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), check=False
        )


@pytest.fixture
def database(pg_server) -> Iterator[str]:
    """A new empty database for one test; its URL."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    postgres.create_database(pg_server, name)
    yield postgres.with_database(pg_server, name)
    postgres.drop_database(pg_server, name)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


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
    with psycopg.connect(url) as conn:
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
