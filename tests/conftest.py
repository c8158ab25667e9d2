"""Fixtures more than one test layer uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvsctl.loopback_s3 import loopback_s3
from tests.backups.pgserver import running_postgres


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server on loopback: moto in server mode."""
    with loopback_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a fresh PostgreSQL 15 server's `postgres` database (password login over TCP)."""
    with running_postgres() as url:
        yield url
