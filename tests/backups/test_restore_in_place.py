"""`restore --force` never destroys the live database first (issue 8, point 6): the backup is
restored beside it, then the names are swapped in one step and the old data is kept."""

from __future__ import annotations

import psycopg
import pytest

from backup_runner import operations, postgres
from backup_runner.manifest import database_safe
from components.errors import RestoreRefused, ToolError

from .conftest import execute, run_cli, seed, table_checksums
from .test_drill_records import unrestorable_backup, work_databases


def test_force_swaps_in_the_restored_data_and_keeps_the_old_database(database, destination):
    seed(database)
    manifest = operations.run_backup(database, destination, lambda _: None)
    backed_up = table_checksums(database)
    execute(database, "DELETE FROM orders WHERE id > 100", "CREATE TABLE added_later (id int)")
    live = table_checksums(database)
    session = psycopg.connect(database, autocommit=True)  # the backend, still connected
    messages: list[str] = []

    restored = operations.restore(
        database, destination, postgres.database_of(database), force=True, progress=messages.append
    )

    name = postgres.database_of(database)
    assert restored.kept_as == f"{name}_before_{database_safe(manifest.backup_id)}"
    assert table_checksums(database) == backed_up
    assert table_checksums(postgres.with_database(database, restored.kept_as)) == live, "nothing was destroyed"
    assert any(f"replacing database {name}: terminating 1 session(s)" in m and restored.kept_as in m for m in messages)
    with pytest.raises(psycopg.OperationalError):
        session.execute("SELECT 1")
    assert work_databases(database) == []
    postgres.drop_database(database, restored.kept_as)


def test_a_restore_that_fails_leaves_the_live_database_as_it_was(database, destination):
    seed(database)
    before = table_checksums(database)
    backup_id = unrestorable_backup(destination)
    with pytest.raises(ToolError):
        operations.restore(
            database, destination, postgres.database_of(database), backup_id, force=True, source_db="mvs"
        )
    assert table_checksums(database) == before
    assert not postgres.database_exists(database, f"{postgres.database_of(database)}_before_{database_safe(backup_id)}")
    assert work_databases(database) == []
    with psycopg.connect(database) as conn:  # still open to its sessions
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_database_near_the_name_limit_is_force_restored_and_its_kept_copy_named_safely(
    pg_server, database, destination
):
    seed(database)
    manifest = operations.run_backup(database, destination, lambda _: None)
    for long_name in ("d" * 60, "é" * 30):  # 60 bytes each; + "_before_<id>" would be 93
        postgres.create_database(pg_server, long_name)
        live = postgres.with_database(pg_server, long_name)
        execute(live, "CREATE TABLE keep (id int)", "INSERT INTO keep VALUES (7)")
        messages: list[str] = []
        restored = operations.restore(
            database, destination, long_name, manifest.backup_id, force=True, progress=messages.append
        )
        kept = restored.kept_as
        assert len(kept.encode()) <= 63 and kept.endswith(f"_before_{database_safe(manifest.backup_id)}")
        assert kept.startswith(long_name[:2]) and kept.encode().decode() == kept, "cut at a character boundary"
        assert any(kept in m and "63-byte limit" in m for m in messages), "the shortened name is said"
        assert table_checksums(live) == table_checksums(database), "the backup is live under the long name"
        with psycopg.connect(postgres.with_database(pg_server, kept)) as conn:
            assert conn.execute("SELECT id FROM keep").fetchall() == [(7,)], "the old data is kept"
        postgres.drop_database(pg_server, kept)
        postgres.drop_database(pg_server, long_name)


def test_names_postgresql_would_truncate_are_refused_before_anything(pg_server, database, destination):
    seed(database)
    operations.run_backup(database, destination, lambda _: None)
    too_long = "e" * 64
    with pytest.raises(RestoreRefused, match="is 64 bytes; PostgreSQL would cut it"):
        operations.restore(database, destination, too_long)
    assert not postgres.database_exists(pg_server, too_long[:63])
    assert work_databases(database) == []


def test_an_earlier_kept_copy_is_never_overwritten(database, destination):
    seed(database)
    manifest = operations.run_backup(database, destination, lambda _: None)
    name = postgres.database_of(database)
    first = operations.restore(database, destination, name, force=True, progress=lambda _: None)
    with pytest.raises(RestoreRefused, match=f"{first.kept_as} exists from an earlier restore"):
        operations.restore(database, destination, name, manifest.backup_id, force=True)
    postgres.drop_database(database, first.kept_as)


def test_the_cli_says_where_the_replaced_data_is(database, tmp_path):
    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    assert run_cli("run", env=env).returncode == 0
    name = postgres.database_of(database)
    replaced = run_cli("restore", "--target-db", name, "--force", env=env)
    assert replaced.returncode == 0, replaced.stderr
    assert f"the data it replaced is in {name}_before_" in replaced.stdout
    assert "terminating 0 session(s)" in replaced.stderr
    kept = replaced.stdout.strip().rsplit(" ", 1)[-1]
    postgres.drop_database(database, kept)
