"""Fixtures more than one test layer uses."""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest

from mvsctl.loopback_s3 import loopback_s3
from tests import scheduling
from tests.backups.pgserver import running_postgres


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    scheduling.assign(items)


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


@pytest.fixture(autouse=True)
def unwrapped_pickler() -> Iterator[None]:
    """Pulumi's dynamic provider serialization (pulumi/dynamic/dynamic.py `serialize_provider`)
    wraps `pickle._Pickler._batch_setitems` once more for every dynamic resource registered and
    never unwraps it: one process that registers about a thousand (the mock tests together do)
    fails with RecursionError. A program registers a few dozen per run; each test here starts
    from the original pickler again."""
    originals = (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict)
    yield
    pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = originals
