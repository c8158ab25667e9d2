"""A drill never endangers the live database (issue 22, point 1): it restores into a PostgreSQL of
its own, so a live server on a volume without room for a second copy keeps accepting writes
while the drill runs, and the drill still proves the backup."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from backup_runner import operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.destinations import DirectoryDestination

from .conftest import quiet
from .pgserver import running_postgres

pytestmark = pytest.mark.slow
VOLUME_MIB = 128
LEFT_FREE = 12 << 20  # what the live volume keeps free: less than the dump


@pytest.fixture
def live_on_small_volume() -> Iterator[tuple[str, Path]]:
    """A live server whose data lives on a 128 MiB tmpfs, WAL kept small, as on a small Railway
    volume; yields its URL and the mount point (in /tmp: the server's user must reach it)."""
    volume = Path(tempfile.mkdtemp(prefix="mvs-small-volume-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={VOLUME_MIB}m,mode=0755", "tmpfs", str(volume)], check=True)
    try:
        with running_postgres(under=volume, settings="-c max_wal_size=32MB -c min_wal_size=32MB") as url:
            yield url, volume
    finally:
        subprocess.run(["umount", "-l", str(volume)], check=False)
        volume.rmdir()


def fill(volume: Path, leave: int) -> None:
    """A file that takes all but `leave` bytes of the volume, as the rest of a full disk would."""
    free = shutil.disk_usage(volume).free
    with (volume / "filler").open("wb") as filler:
        filler.truncate(0)
        for _ in range((free - leave) >> 20):
            filler.write(b"\0" * (1 << 20))


def test_a_drill_of_a_dump_bigger_than_the_live_volumes_free_space_passes_and_the_live_server_keeps_writing(
    live_on_small_volume, tmp_path
):
    url, volume = live_on_small_volume
    postgres.create_database(url, "mvs")
    live = postgres.with_database(url, "mvs")
    with psycopg.connect(live, autocommit=True) as conn:  # ~24 MiB that no compression shrinks
        conn.execute("CREATE TABLE blobs (id int PRIMARY KEY, body bytea)")
        for start in range(0, 24, 4):
            conn.execute(
                "INSERT INTO blobs SELECT g, decode(string_agg(md5(g::text || ':' || i::text), ''), 'hex') "
                "FROM generate_series(%s::int, %s::int) g, generate_series(1, 1024) i GROUP BY g",
                (start * 64 + 1, (start + 4) * 64),
            )
        conn.execute("CHECKPOINT")
    destination = DirectoryDestination(tmp_path / "backups")
    manifest = operations.run_backup(live, destination, quiet)
    fill(volume, LEFT_FREE)
    free_before = shutil.disk_usage(volume).free
    assert manifest.size_bytes > free_before, "the dump would not fit on the live volume"
    assert manifest.database_size_bytes > free_before

    writes: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def keep_writing() -> None:
        with psycopg.connect(live, autocommit=True) as conn:
            conn.execute("CREATE TABLE heartbeat (at timestamptz)")
            while not stop.is_set():
                try:
                    conn.execute("INSERT INTO heartbeat VALUES (now())")
                    writes.append(1)
                except psycopg.Error as error:
                    failures.append(str(error))
                stop.wait(0.05)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = operations.verify(destination, progress=quiet)
    finally:
        stop.set()
        writer.join()

    assert result.passed, result.problems
    assert read_catalog(destination).backups[0].state == "verified"
    assert failures == [] and len(writes) > 10, "the live server accepted every write during the drill"
    assert shutil.disk_usage(volume).free > free_before - (2 << 20), "nothing was written to the live volume"
    with psycopg.connect(postgres.with_database(url, "postgres")) as conn:
        names = {name for (name,) in conn.execute("SELECT datname FROM pg_database")}
    assert names == {"postgres", "template0", "template1", "mvs"}, "the drill made no database on the live server"
