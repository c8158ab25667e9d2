"""Ids never collide and no run ever replaces another run's files (issue 8, point 1)."""

from __future__ import annotations

import io
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from backup_runner import operations, postgres
from backup_runner.destinations import PART_SIZE, DirectoryDestination
from backup_runner.manifest import dump_key, new_id
from components.errors import BackupExists

from .conftest import execute, quiet, seed, table_checksums

SAME_SECOND = datetime(2026, 11, 28, 3, 15, 0, 250000, tzinfo=UTC)


class FrozenClock(datetime):
    """Every run starts in the same second, as two cron jobs (or two machines) may."""

    @classmethod
    def now(cls, tz=None):
        return SAME_SECOND


@pytest.mark.parametrize("databases", ["one database", "two databases"])
def test_runs_started_in_the_same_second_give_distinct_restorable_backups(
    pg_server, database, destination, monkeypatch, databases
):
    monkeypatch.setattr(operations, "datetime", FrozenClock)
    seed(database)
    other = database
    if databases == "two databases":
        other = postgres.with_database(pg_server, f"t_{uuid.uuid4().hex[:10]}")
        postgres.create_database(pg_server, postgres.database_of(other))
        execute(other, "CREATE TABLE notes (id int PRIMARY KEY)", "INSERT INTO notes SELECT generate_series(1, 77)")
    with ThreadPoolExecutor(2) as runs:
        first, second = runs.map(lambda url: operations.run_backup(url, destination, quiet), [database, other])

    assert first.backup_id != second.backup_id
    assert first.backup_id[:16] == second.backup_id[:16] == "20261128T031500Z", "the same second, told apart"
    for manifest, url in ((first, database), (second, other)):
        assert operations.verify(destination, manifest.backup_id, progress=quiet).passed
        restored = operations.restore(url, destination, backup_id=manifest.backup_id, progress=quiet).target
        assert table_checksums(postgres.with_database(url, restored)) == table_checksums(url)
        postgres.drop_database(url, restored)
    if other != database:
        postgres.drop_database(pg_server, postgres.database_of(other))


def test_ids_made_in_the_same_instant_differ_and_sort_by_time():
    ids = {new_id(SAME_SECOND) for _ in range(1000)}
    assert len(ids) == 1000
    assert new_id(datetime(2026, 11, 28, 3, 14, 59, tzinfo=UTC)) < min(ids)


@pytest.mark.parametrize("size", [5, PART_SIZE + 1024], ids=["one request", "multipart"])
def test_a_write_never_replaces_an_object_that_exists(destination, size):
    first = b"a" * size
    destination.put("20261128T031500Z-00000001.dump", io.BytesIO(first))
    with pytest.raises(BackupExists, match="already exists; it was left as it was"):
        destination.put("20261128T031500Z-00000001.dump", io.BytesIO(b"b" * size))
    with destination.open("20261128T031500Z-00000001.dump") as stream:
        assert stream.read() == first
    assert destination.leftovers() == [], "the refused write left nothing behind"


class FailsAfter(io.RawIOBase):
    """A dump stream that breaks after `limit` bytes, as a pg_dump that dies does."""

    def __init__(self, limit: int):
        self.limit, self.sent = limit, 0

    def read(self, n: int = -1) -> bytes:
        if self.sent >= self.limit:
            raise OSError("pg_dump went away")
        chunk = b"x" * min(n if n > 0 else 1 << 20, self.limit - self.sent + 1)
        self.sent += len(chunk)
        return chunk


def test_a_write_that_fails_midway_leaves_no_partial_file_or_upload(destination):
    with pytest.raises(OSError, match="pg_dump went away"):
        destination.put(dump_key("20261128T031500Z-00000002"), FailsAfter(PART_SIZE * 2 + 5))
    assert destination.leftovers() == []
    assert destination.entries() == {}
    if isinstance(destination, DirectoryDestination):
        assert list(destination.path.iterdir()) == [], "not even a hidden partial file"
