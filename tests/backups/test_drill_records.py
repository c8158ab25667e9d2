"""Every drill leaves a record, whatever went wrong, that says whose fault a failure was, and what a
killed drill left is removed by the next one (issue 8, point 5; issue 22, point 3)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from backup_runner import operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.drills import last_drill, record_drill, record_verdict
from backup_runner.manifest import Manifest, dump_key, manifest_key, new_id
from components.errors import DrillStopped, ToolError

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


def test_a_drill_whose_restore_fails_is_recorded_failed_and_the_backup_marked_bad(destination):
    passed_before(destination)
    backup_id = unrestorable_backup(destination)
    with pytest.raises(ToolError):
        operations.verify(destination, progress=quiet)
    record = last_drill(destination)
    assert (record["status"], record["backup_id"], record["passed"]) == ("failed", backup_id, False)
    assert record["problems"][0].startswith("pg_restore exited with code 1")
    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and "failed its drill" in backup.reason


def test_a_drill_with_nothing_to_restore_is_recorded_stopped(destination):
    passed_before(destination)
    with pytest.raises(DrillStopped, match="nothing to drill"):
        operations.verify(destination, progress=quiet)
    record = last_drill(destination)
    assert record["status"] == "stopped" and "nothing to drill" in record["problems"][0]


def test_a_drill_without_room_stops_before_it_starts_and_leaves_the_backup_unverified(
    database, destination, small_disk
):
    seed(database)
    operations.run_backup(database, destination, quiet)
    passed_before(destination)
    with pytest.raises(DrillStopped, match=f"not enough room for the drill in {small_disk}/mvs-restore-"):
        operations.verify(destination, progress=quiet, drill_dir=small_disk)
    record = last_drill(destination)
    assert record["status"] == "stopped" and "not enough room" in record["problems"][0]
    [backup] = read_catalog(destination).backups
    assert backup.state == "unverified", "no room says nothing against the backup"
    assert list(small_disk.iterdir()) == [], "the work directory is removed"
    assert operations.verify(destination, progress=quiet).passed, "the next drill, with room, tries it again"
    assert read_catalog(destination).backups[0].state == "verified"


@pytest.mark.parametrize(
    "what_it_says",
    [
        "pg_restore: error: could not execute query: server closed the connection unexpectedly",
        'pg_restore: error: could not execute query: ERROR:  could not extend file "base/16384/16390": '
        "No space left on device",
        'pg_restore: error: could not open extension control file "/usr/share/postgresql/15/extension/postgis.control"',
    ],
)
def test_a_restore_stopped_by_the_drills_surroundings_leaves_the_backup_unverified(
    database, destination, monkeypatch, what_it_says
):
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    real = operations._pg_restore

    def failing(url, db, dump, progress, options):
        raise ToolError(["pg_restore"], 1, f"pg_restore: processing data\n{what_it_says}")

    monkeypatch.setattr(operations, "_pg_restore", failing)
    with pytest.raises(DrillStopped, match="not for the backup's sake"):
        operations.verify(destination, progress=quiet)
    assert last_drill(destination)["status"] == "stopped"
    assert read_catalog(destination).backups[0].state == "unverified"

    monkeypatch.setattr(operations, "_pg_restore", real)
    assert operations.verify(destination, manifest.backup_id, progress=quiet).passed


def drill_servers(directory) -> list[str]:
    """The pids of postgres processes whose data directory lies under `directory`."""
    found = []
    for proc in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{proc}/cmdline").read_bytes().decode(errors="replace")
            if proc.isdigit() and str(directory) in command:
                found.append(proc)
    return found


def test_a_killed_drill_shows_as_unfinished_and_the_next_drill_cleans_up_after_it(
    database, destination, fake_tools, monkeypatch, tmp_path
):
    seed(database)
    operations.run_backup(database, destination, quiet)
    passed_before(destination)
    scratch_tmp = Path(tempfile.mkdtemp(prefix="mvs-drill-test-"))  # where the drill's server user may go
    scratch_tmp.chmod(0o755)
    monkeypatch.setenv("STANDIN_PG_RESTORE", "hang")
    drill = subprocess.Popen(
        [sys.executable, "-m", "backup_runner", "verify"],
        env={**os.environ, "BACKUP_DESTINATION": destination.url, "DRILL_DIR": str(scratch_tmp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(scratch_tmp.glob("*/cluster/data/postmaster.pid")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # pg_restore has started
    drill.kill()  # the runner alone, as the OOM killer would: its server and pg_restore are left to notice
    drill.wait()

    [left_dir] = list(scratch_tmp.iterdir())
    deadline = time.monotonic() + 30
    while drill_servers(left_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert drill_servers(left_dir) == [], "the drill's own server quits when the runner dies"
    assert work_databases(database) == [], "a drill never makes a database on the live server"
    record = last_drill(destination)
    assert record["status"] == "running" and record["finished_at"] is None, "never the older 'passed'"
    assert (
        "has not finished (running, or interrupted)"
        in run_cli("list", env={"BACKUP_DESTINATION": destination.url}).stdout
    )

    os.utime(left_dir, (time.time() - 600,) * 2)  # a while ago
    monkeypatch.setenv("STANDIN_PG_RESTORE", "real")
    messages: list[str] = []
    assert operations.verify(destination, progress=messages.append, drill_dir=scratch_tmp).passed
    assert not left_dir.exists()
    scratch_tmp.rmdir()
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
    lying = json.loads(manifest.model_dump_json())
    lying["fingerprint"]["tables"]["public.orders"]["rows"] = 2999
    destination.put(manifest_key(manifest.backup_id), io.BytesIO(json.dumps(lying).encode()), overwrite=True)
    passed_before(destination)

    result = operations.verify(destination, progress=quiet)

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
    result = operations.verify(destination, progress=quiet)
    assert result.amcheck == "failed"
    record = last_drill(destination)
    assert record["status"] == "failed" and record["problems"] == [
        "amcheck public.orders_user: block 3 is not a valid page"
    ]


def test_list_says_when_a_drill_stopped_before_restoring_any_backup(tmp_path):
    env = {"BACKUP_DESTINATION": str(tmp_path / "backups")}
    assert run_cli("verify", env=env).returncode == 5
    listed = run_cli("list", env=env).stdout
    assert "before any backup was restored, STOPPED" in listed and "nothing to drill" in listed
    assert "None" not in listed


def test_verify_backup_id_drills_a_bad_backup_again_and_a_pass_clears_the_verdict(database, destination):
    """A verdict from a drill that went wrong for the surroundings' sake (a flaky disk, say) is not
    the last word: `verify --backup ID` re-drills, and its pass makes the backup verified again."""
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    record_verdict(destination, manifest.backup_id, ["pg_restore exited with code 1: disk I/O"], manifest.sha256)
    assert read_catalog(destination).backups[0].state == "bad"
    with pytest.raises(DrillStopped, match="nothing to drill"):
        operations.verify(destination, progress=quiet)  # the default drill leaves bad ones alone

    env = {"BACKUP_DESTINATION": destination.url}
    again = run_cli("verify", "--backup", manifest.backup_id, env=env)

    assert again.returncode == 0, again.stderr
    assert f"verify {manifest.backup_id}: passed (rows, content and schema match the source" in again.stdout
    [backup] = read_catalog(destination).backups
    assert backup.state == "verified"
    assert "  verified  " in run_cli("list", env=env).stdout
