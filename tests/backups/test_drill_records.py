"""Every drill leaves a record, whatever went wrong, and what a killed drill left is removed by
the next one (issue 8, point 5)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import psycopg
import pytest

from backup_runner import operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.drills import last_drill, record_drill
from backup_runner.manifest import Manifest, dump_key, manifest_key, new_id
from components.errors import BackupError, ToolError

from .conftest import quiet, run_cli, seed


def work_databases(url: str) -> list[str]:
    with psycopg.connect(postgres.with_database(url, "postgres")) as conn:
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()]
    return [name for name in names if name.startswith(postgres.WORK_PREFIXES)]


def unrestorable_backup(destination) -> str:
    """A dump that matches its manifest byte for byte, but is not a dump pg_restore can read."""
    body = b"PGDMP" + os.urandom(4096)
    backup_id = new_id()
    now = datetime.now(UTC)
    destination.put(dump_key(backup_id), io.BytesIO(body))
    manifest = Manifest(
        backup_id=backup_id,
        database="mvs",
        server_version="15",
        size_bytes=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        row_counts={},
        started_at=now,
        finished_at=now,
    )
    destination.put(manifest_key(backup_id), io.BytesIO(manifest.model_dump_json().encode()))
    return backup_id


def passed_before(destination) -> None:
    """An older drill that passed: what a stale record would wrongly keep showing."""
    record_drill(destination, "20261101T000000Z", [], "passed", "2026-11-01T00:00:00+00:00")
    assert last_drill(destination)["status"] == "passed"


def test_a_drill_whose_restore_fails_is_recorded_failed_and_the_backup_marked_bad(database, destination):
    passed_before(destination)
    backup_id = unrestorable_backup(destination)
    with pytest.raises(ToolError):
        operations.verify(database, destination, progress=quiet)
    record = last_drill(destination)
    assert (record["status"], record["backup_id"], record["passed"]) == ("failed", backup_id, False)
    assert record["problems"][0].startswith("pg_restore exited with code 1")
    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and "failed its drill" in backup.reason
    assert work_databases(database) == [], "the scratch and staging databases are gone"


def test_a_drill_with_nothing_to_restore_is_recorded_failed(database, destination):
    passed_before(destination)
    with pytest.raises(BackupError, match="no good backup"):
        operations.verify(database, destination, progress=quiet)
    record = last_drill(destination)
    assert record["status"] == "failed" and "no good backup" in record["problems"][0]


def test_a_drill_without_disk_space_is_recorded_failed(database, destination, small_disk, monkeypatch):
    seed(database)
    with psycopg.connect(database, autocommit=True) as conn:  # a dump bigger than the 1 MiB disk
        conn.execute(
            "CREATE TABLE bulk AS SELECT g, md5(g::text) || md5((g * 3)::text) v FROM generate_series(1, 60000) g"
        )
    operations.run_backup(database, destination, quiet)
    passed_before(destination)
    monkeypatch.setattr(tempfile, "tempdir", str(small_disk))
    with pytest.raises(BackupError, match=f"no space left in {small_disk}"):
        operations.verify(database, destination, progress=quiet)
    record = last_drill(destination)
    assert record["status"] == "failed" and "no space left" in record["problems"][0]
    assert read_catalog(destination).good, "a full disk says nothing against the backup"
    assert list(small_disk.iterdir()) == [], "the fetch directory is removed"


def test_a_killed_drill_shows_as_unfinished_and_the_next_drill_cleans_up_after_it(
    database, destination, fake_tools, monkeypatch, tmp_path
):
    seed(database)
    operations.run_backup(database, destination, quiet)
    passed_before(destination)
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setenv("STANDIN_PG_RESTORE", "hang")
    drill = subprocess.Popen(
        [sys.executable, "-m", "backup_runner", "verify"],
        env={**os.environ, "DATABASE_URL": database, "BACKUP_DESTINATION": destination.url, "TMPDIR": str(scratch_tmp)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (work_databases(database) and list(scratch_tmp.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(drill.pid, signal.SIGKILL)
    drill.wait()

    assert work_databases(database), "the killed drill left its database"
    [left_dir] = list(scratch_tmp.iterdir())
    record = last_drill(destination)
    assert record["status"] == "running" and record["finished_at"] is None, "never the older 'passed'"
    assert (
        "has not finished (running, or interrupted)"
        in run_cli("list", env={"BACKUP_DESTINATION": destination.url}).stdout
    )

    os.utime(left_dir, (time.time() - 600,) * 2)  # a while ago
    monkeypatch.setenv("STANDIN_PG_RESTORE", "real")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    messages: list[str] = []
    assert operations.verify(database, destination, progress=messages.append).passed
    assert work_databases(database) == []
    assert not left_dir.exists()
    assert any("left by an interrupted restore or drill" in m for m in messages)
    assert last_drill(destination)["status"] == "passed"


def test_a_live_drills_databases_are_not_taken_for_orphans(pg_server):
    with postgres.claimed(pg_server, "mvs_verify_live"):
        postgres.create_database(pg_server, "mvs_verify_live")
        postgres.create_database(pg_server, "mvs_verify_dead")
        assert postgres.drop_orphans(pg_server) == ["mvs_verify_dead"]
        assert postgres.database_exists(pg_server, "mvs_verify_live")
    assert postgres.drop_orphans(pg_server) == ["mvs_verify_live"]


def test_a_live_work_directory_is_not_taken_for_an_orphan(tmp_path, monkeypatch):
    from backup_runner import cleanup

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with cleanup.work_directory() as live:
        dead = tmp_path / f"{cleanup.WORK_DIR_PREFIX}dead"
        dead.mkdir()
        (dead / cleanup.LOCK_NAME).touch()
        for path in (live, dead):
            os.utime(path, (time.time() - 600,) * 2)
        assert cleanup.remove_orphaned_work_directories() == [str(dead)]
        assert live.exists()
    with contextlib.suppress(FileNotFoundError):
        assert not live.exists()


def test_a_drill_that_finds_other_row_counts_is_recorded_failed_and_marks_the_backup_bad(database, destination):
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    lying = manifest.model_copy(update={"row_counts": {**manifest.row_counts, "public.orders": 2999}})
    destination.put(manifest_key(manifest.backup_id), io.BytesIO(lying.model_dump_json().encode()), overwrite=True)
    passed_before(destination)

    result = operations.verify(database, destination, progress=quiet)

    assert not result.passed and result.problems == ["public.orders: 3000 rows restored, manifest says 2999"]
    record = last_drill(destination)
    assert (record["status"], record["backup_id"]) == ("failed", manifest.backup_id)
    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and "3000 rows restored, manifest says 2999" in backup.reason


def test_an_amcheck_failure_is_recorded_as_a_failed_drill(database, destination, monkeypatch):
    seed(database)
    operations.run_backup(database, destination, quiet)
    passed_before(destination)
    monkeypatch.setattr(postgres, "amcheck", lambda *_args: ["public.orders_user: block 3 is not a valid page"])
    result = operations.verify(database, destination, progress=quiet)
    assert result.amcheck == "failed"
    record = last_drill(destination)
    assert record["status"] == "failed" and record["problems"] == [
        "amcheck public.orders_user: block 3 is not a valid page"
    ]


def test_list_says_when_a_drill_failed_before_restoring_any_backup(database, tmp_path):
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    assert run_cli("verify", env=env).returncode == 5
    listed = run_cli("list", env=env).stdout
    assert "before any backup was restored, FAILED: no good backup" in listed and "None" not in listed
