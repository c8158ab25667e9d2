"""migrate.js, the pre-deploy command, against real PostgreSQL 15: pending migrations in filename
order, each in one transaction with its record, serialised by an advisory lock, idempotent, and a
failure is one line on stderr with nothing half applied."""

from __future__ import annotations

import subprocess
import time

import psycopg
import pytest

from mvsctl.loopback_s3 import free_port
from tests.backups.pgserver import SUPERUSER_PASSWORD

from .nodeproc import BACKEND, NODE, node_env, run_migrate, start_migrate

MIGRATION_FILES = sorted(p.name for p in (BACKEND / "migrations").glob("*.sql"))


def applied(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        return {row[0] for row in rows}


def lock_key(backend_modules) -> int:
    """The advisory lock key, read from migrate.js itself."""
    script = "console.log(require('./src/migrate.js').LOCK_KEY)"
    out = subprocess.run([NODE, "-e", script], cwd=BACKEND, env=node_env(), capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_the_repository_ships_migrations():
    assert MIGRATION_FILES, "app/backend/migrations/ has no .sql files"
    assert MIGRATION_FILES[0].startswith("001_")


def test_an_empty_database_gets_every_migration_and_the_tables(database, backend_modules):
    result = run_migrate(database)
    assert result.returncode == 0, result.stderr
    assert applied(database) == MIGRATION_FILES
    assert {"notes", "schema_migrations"} <= tables(database)
    for name in MIGRATION_FILES:
        assert f"applied {name}" in result.stdout
    with psycopg.connect(database) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' ORDER BY ordinal_position"
        ).fetchall()
    assert [c[0] for c in columns] == ["id", "text", "created_at"]


def test_a_second_run_changes_nothing(database, backend_modules):
    assert run_migrate(database).returncode == 0
    with psycopg.connect(database) as conn:
        before = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1").fetchall()
    again = run_migrate(database)
    assert again.returncode == 0, again.stderr
    assert "applied 0" not in again.stdout and "up to date" in again.stdout
    with psycopg.connect(database) as conn:
        after = conn.execute("SELECT version, checksum, applied_at FROM schema_migrations ORDER BY 1").fetchall()
    assert after == before


def test_concurrent_runs_wait_for_each_other_and_apply_each_migration_once(database, backend_modules):
    """The test holds the lock first, so every run is provably waiting on it when it is released."""
    key = lock_key(backend_modules)
    classid, objid = key >> 32, key & 0xFFFFFFFF
    runs = 3
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        processes = [start_migrate(database) for _ in range(runs)]
        try:
            deadline = time.monotonic() + 30
            waiting = 0
            while time.monotonic() < deadline and waiting < runs:
                waiting = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND classid = %s AND objid = %s",
                    (classid, objid),
                ).fetchone()[0]
                time.sleep(0.05)
            assert waiting == runs, f"only {waiting} of {runs} runs waited on the advisory lock"
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (key,))
        outcomes = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    assert [code for code, _, _ in outcomes] == [0] * runs, outcomes
    assert applied(database) == MIGRATION_FILES
    for name in MIGRATION_FILES:
        assert sum(f"applied {name}" in out for _, out, _ in outcomes) == 1, outcomes


def test_a_run_waits_only_as_long_as_it_is_told_for_another_run(database, backend_modules):
    key = lock_key(backend_modules)
    with psycopg.connect(database, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (key,))
        result = run_migrate(database, MIGRATE_LOCK_TIMEOUT_SECONDS="1")
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "lock" in result.stderr
    assert "schema_migrations" not in tables(database)


@pytest.fixture
def migrations_dir(tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "001_first.sql").write_text("CREATE TABLE first_table (id int);\n")
    (folder / "002_second.sql").write_text(
        "CREATE TABLE half_table (id int);\nINSERT INTO half_table VALUES (1);\nSELECT * FROM no_such_table;\n"
    )
    (folder / "README.md").write_text("not a migration\n")
    return folder


def test_a_broken_migration_fails_in_one_line_and_applies_nothing_of_itself(database, backend_modules, migrations_dir):
    result = run_migrate(database, MIGRATIONS_DIR=str(migrations_dir))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "002_second.sql" in lines[0] and "no_such_table" in lines[0]
    assert applied(database) == ["001_first.sql"]
    assert "first_table" in tables(database)
    assert "half_table" not in tables(database)

    (migrations_dir / "002_second.sql").write_text("CREATE TABLE half_table (id int);\n")
    fixed = run_migrate(database, MIGRATIONS_DIR=str(migrations_dir))
    assert fixed.returncode == 0, fixed.stderr
    assert applied(database) == ["001_first.sql", "002_second.sql"]
    assert "applied 002_second.sql" in fixed.stdout and "applied 001_first.sql" not in fixed.stdout


def test_a_migration_and_its_record_commit_in_one_transaction(database, backend_modules, tmp_path):
    """Rows written in one transaction share their xmin: the migration's own row and its record in
    schema_migrations must, or a crash between the two would leave it applied but unrecorded."""
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "001_probe.sql").write_text("CREATE TABLE probe (x int);\nINSERT INTO probe VALUES (1);\n")
    result = run_migrate(database, MIGRATIONS_DIR=str(folder))
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database) as conn:
        migration = conn.execute("SELECT xmin::text FROM probe").fetchone()[0]
        record = conn.execute("SELECT xmin::text FROM schema_migrations WHERE version = '001_probe.sql'").fetchone()[0]
    assert migration == record


def test_migrations_run_in_filename_order(database, backend_modules, tmp_path):
    folder = tmp_path / "ordered"
    folder.mkdir()
    # Written in reverse: the directory listing's order must not matter.
    (folder / "003_c.sql").write_text("ALTER TABLE t ADD COLUMN c int;\n")
    (folder / "002_b.sql").write_text("ALTER TABLE t ADD COLUMN b int;\n")
    (folder / "001_a.sql").write_text("CREATE TABLE t (a int);\n")
    result = run_migrate(database, MIGRATIONS_DIR=str(folder))
    assert result.returncode == 0, result.stderr
    with psycopg.connect(database) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position"
        ).fetchall()
    assert [c[0] for c in columns] == ["a", "b", "c"]


def test_an_applied_migration_that_was_edited_stops_the_run(database, backend_modules, migrations_dir):
    (migrations_dir / "002_second.sql").unlink()
    assert run_migrate(database, MIGRATIONS_DIR=str(migrations_dir)).returncode == 0
    (migrations_dir / "001_first.sql").write_text("CREATE TABLE first_table (id bigint);\n")
    (migrations_dir / "002_later.sql").write_text("CREATE TABLE later_table (id int);\n")
    result = run_migrate(database, MIGRATIONS_DIR=str(migrations_dir))
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "001_first.sql" in result.stderr and "changed" in result.stderr
    assert "later_table" not in tables(database)


def test_without_database_url_it_says_so_in_one_line(backend_modules):
    result = run_migrate(None)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["migrate: DATABASE_URL is not set"]


@pytest.mark.parametrize("problem", ["closed port", "wrong password"])
def test_an_unreachable_database_fails_in_one_line_without_the_password(pg_server, backend_modules, problem):
    if problem == "closed port":
        password = SUPERUSER_PASSWORD
        url = f"postgresql://postgres:{password}@127.0.0.1:{free_port()}/postgres"
    else:
        password = "Wrong-Password-42"
        url = pg_server.replace(SUPERUSER_PASSWORD, password)
    result = run_migrate(url)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("migrate: ")
    assert password not in result.stderr + result.stdout
    assert url not in result.stderr + result.stdout
