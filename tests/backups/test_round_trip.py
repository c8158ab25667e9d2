"""Back up, break, restore: the data comes back identical (directory and S3 destinations)."""

from __future__ import annotations

import subprocess
import time

import pytest

from backup_runner import operations, postgres
from backup_runner.destinations import DirectoryDestination
from backup_runner.manifest import dump_key
from components.errors import RestoreRefused

from .conftest import PG_BIN, execute, quiet, seed, table_checksums


def test_backup_drop_a_table_restore_gives_identical_data(database, destination):
    seed(database)
    before = table_checksums(database)
    manifest = operations.run_backup(database, destination, quiet)
    assert manifest.row_counts == {"public.orders": 3000, "public.users": 500}
    assert manifest.server_version.startswith("15.")
    assert destination.size(dump_key(manifest.backup_id)) == manifest.size_bytes

    execute(database, "DROP TABLE orders")
    assert set(table_checksums(database)) == {"public.users"}

    target = operations.restore(database, destination, progress=quiet).target
    restored_url = postgres.with_database(database, target)
    assert table_checksums(restored_url) == before
    postgres.drop_database(database, target)

    with pytest.raises(RestoreRefused, match="not empty"):
        operations.restore(database, destination, target=postgres.database_of(database), progress=quiet)
    operations.restore(database, destination, target=postgres.database_of(database), force=True, progress=quiet)
    assert table_checksums(database) == before


def test_a_backup_taken_while_pgbench_writes_restores_consistently(database, destination, tmp_path):
    pgbench = str(PG_BIN / "pgbench")
    subprocess.run([pgbench, "-i", "-s", "2", "-q", database], check=True, capture_output=True)
    load = subprocess.Popen(
        [pgbench, "-c", "4", "-T", "6", "-n", database], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        time.sleep(1.5)  # let the writers get going
        manifest = operations.run_backup(database, destination, quiet)
    finally:
        load.wait(timeout=60)
    assert load.returncode == 0, load.stderr.read()
    # pgbench_history grew during the run, so its count pins the moment of the snapshot
    assert manifest.row_counts["public.pgbench_accounts"] == 200_000
    result = operations.verify(destination, progress=quiet)
    assert result.passed, result.problems
    assert result.amcheck == "passed"
    assert manifest.row_counts["public.pgbench_history"] > 0


def test_a_sql_ascii_database_backs_up_restores_and_verifies(pg_server, tmp_path):
    """A database made under the C locale (SQL_ASCII, as minimal images' initdb gives) hands text
    back as bytes unless the client asks for UTF-8: the snapshot id and table names must still work."""
    name = f"t_ascii_{time.time_ns() % 10**8}"
    execute(pg_server, f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    url = postgres.with_database(pg_server, name)
    try:
        seed(url)
        before = table_checksums(url)
        store = DirectoryDestination(tmp_path / "backups")
        manifest = operations.run_backup(url, store, quiet)
        assert manifest.row_counts == {"public.orders": 3000, "public.users": 500}
        target = operations.restore(url, store, progress=quiet).target
        assert table_checksums(postgres.with_database(url, target)) == before
        postgres.drop_database(url, target)
        assert manifest.encoding == "SQL_ASCII"
        assert operations.verify(store, progress=quiet).passed, "the drill's copy takes the source's encoding"
    finally:
        postgres.drop_database(pg_server, name)
