"""Interrupted work is cleaned up (issue 8, point 4): a killed run, a stopped run, a full disk and
a lost connection to the bucket. The failing run removes what it wrote where it can; otherwise the
next run or prune does, once nothing has touched it for a while, and `list` shows it until then."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest

from backup_runner import cleanup, operations
from backup_runner.catalog import read_catalog
from backup_runner.destinations import PART_SIZE, DirectoryDestination, S3Destination
from backup_runner.retention import Retention

from .conftest import execute, quiet, run_cli, seed
from .standins import cuttable_proxy

KEEP_ALL = Retention(daily=30, weekly=8, monthly=12)


def start_runner(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "backup_runner", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the stand-in tool goes with it
    )


def kill_group(runner: subprocess.Popen) -> None:
    """The runner and whatever stand-in it started, if any is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()


def group_alive(runner: subprocess.Popen) -> bool:
    """Whether anything the runner started (the stand-in tool) is still there."""
    try:
        os.killpg(runner.pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition, what: str, limit: float = 60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def mid_dump(destination) -> list:
    """The run's unfinished work, once it shows recent activity (a part uploaded, bytes written)."""
    recently = datetime.now(UTC) - timedelta(minutes=5)
    return [leftover for leftover in destination.leftovers() if leftover.last_activity > recently]


def cli_env(database: str, destination) -> dict[str, str]:
    return {"DATABASE_URL": database, "BACKUP_DESTINATION": destination.url}


def test_a_killed_run_leaves_work_that_list_shows_and_the_next_run_or_prune_removes(
    database, destination, fake_tools, monkeypatch
):
    seed(database)
    earlier = operations.run_backup(database, destination, quiet)
    monkeypatch.setenv("STANDIN_PG_DUMP", f"stream:{PART_SIZE + (1 << 20)}")  # more than one part, then hang
    runner = start_runner("run", env=cli_env(database, destination))
    wait_for(lambda: mid_dump(destination), "the run to be mid-dump")
    kill_group(runner)

    listed = run_cli("list", env=cli_env(database, destination)).stdout
    assert "left by an interrupted run: " in listed, listed
    assert operations.prune(destination, KEEP_ALL).discarded == [], "it might be a live run's: kept for now"
    assert destination.leftovers()

    later = datetime.now(UTC) + cleanup.ABANDONED_AFTER + timedelta(minutes=1)
    planned = operations.prune(destination, KEEP_ALL, dry_run=True, now=later)
    assert len(planned.discarded) == 1 and destination.leftovers(), "a dry run only says"
    if isinstance(destination, DirectoryDestination):  # the next run: it looks at the clock itself
        for leftover in destination.leftovers():
            os.utime(destination.path / leftover.handle, (time.time() - 7200,) * 2)  # two hours untouched
        monkeypatch.delenv("STANDIN_PG_DUMP")
        operations.run_backup(database, destination, quiet)
    else:
        assert operations.prune(destination, KEEP_ALL, now=later).discarded == planned.discarded
    assert destination.leftovers() == []
    catalog = read_catalog(destination)
    assert earlier.backup_id in {m.backup_id for m in catalog.restorable}
    assert catalog.in_state("incomplete") == [] and catalog.in_state("bad") == []


def test_a_stopped_run_removes_what_it_wrote_at_once(database, destination, fake_tools, monkeypatch):
    """docker stop sends SIGTERM: the run removes its partial file or aborts its upload itself."""
    seed(database)
    monkeypatch.setenv("STANDIN_PG_DUMP", f"stream:{PART_SIZE + (1 << 20)}")
    runner = start_runner("run", env=cli_env(database, destination))
    wait_for(lambda: mid_dump(destination), "the run to be mid-dump")
    runner.send_signal(signal.SIGTERM)
    _, stderr = runner.communicate(timeout=60)
    kill_group(runner)  # the hanging stand-in, if the runner left it

    assert runner.returncode == 130
    assert stderr.strip().splitlines()[-1].startswith("backup-runner: run was interrupted; what it had written was")
    assert "Traceback" not in stderr
    assert destination.leftovers() == [] and destination.entries() == {}


def test_a_full_disk_is_one_message_and_leaves_existing_backups_alone(database, small_disk):
    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(small_disk)}
    first = run_cli("run", env=env)
    assert first.returncode == 0, first.stderr
    execute(
        database,
        "CREATE TABLE bulk AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v FROM generate_series(1, 60000) g",
    )

    full = run_cli("run", env=env)

    assert full.returncode == 5
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith(f"backup-runner: run failed: the backup destination {small_disk} is full"), full.stderr
    assert "Free space there" in last and "Traceback" not in full.stderr
    assert [p.name for p in small_disk.iterdir() if p.name.startswith(".")] == [], "no partial file is left"
    catalog = read_catalog(DirectoryDestination(small_disk))
    assert [m.backup_id for m in catalog.restorable] == [first.stdout.strip()]
    assert catalog.in_state("incomplete") == []
    assert run_cli("verify", env=env).returncode == 0, "the earlier backup still restores"


def test_a_lost_connection_to_the_bucket_is_explained_and_its_upload_removed(database, s3_env, fake_tools, monkeypatch):
    seed(database)
    bucket = "mvs-lost-connection"
    direct = S3Destination(bucket, "prod", s3_env)
    direct.client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("STANDIN_PG_DUMP", f"stream:{3 * PART_SIZE}")
    with cuttable_proxy(urlparse(s3_env).port) as proxy:
        env = {
            "DATABASE_URL": database,
            "BACKUP_DESTINATION": f"s3://{bucket}/prod",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
            "AWS_MAX_ATTEMPTS": "2",
        }
        runner = start_runner("run", env=env)
        wait_for(lambda: mid_dump(direct), "the multipart upload to send a part")
        proxy.cut()
        _, stderr = runner.communicate(timeout=120)
    kill_group(runner)

    assert runner.returncode == 5
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("backup-runner: could not reach the backup bucket"), stderr
    assert "Traceback" not in stderr
    # The run could not abort its upload (the bucket was out of reach); the next prune does.
    later = datetime.now(UTC) + cleanup.ABANDONED_AFTER + timedelta(minutes=1)
    leftovers = direct.leftovers()
    assert len(leftovers) == 1
    assert operations.prune(direct, KEEP_ALL, now=later).discarded == [leftovers[0].what]
    assert direct.leftovers() == [] and direct.entries() == {}


def test_a_bucket_that_goes_silent_mid_upload_ends_the_run_with_its_message(database, s3_env, fake_tools, monkeypatch):
    """A network that drops packets: no error ever comes back, only silence. The run gives up after
    BACKUP_S3_TIMEOUT_SECONDS (short here) and ends with its one line, though pg_dump has not
    finished its next part (the stand-in hangs there), and pg_dump goes with the run."""
    seed(database)
    bucket = "mvs-silent-bucket"
    direct = S3Destination(bucket, "prod", s3_env)
    direct.client.create_bucket(Bucket=bucket)
    monkeypatch.setenv("STANDIN_PG_DUMP", f"stream:{PART_SIZE + (1 << 20)}")  # one part and a bit, then hang
    # Listing and starting the upload send a few KiB; the first part goes silent 1 MiB in.
    with cuttable_proxy(urlparse(s3_env).port, blackhole_after=1 << 20) as proxy:
        env = {
            "DATABASE_URL": database,
            "BACKUP_DESTINATION": f"s3://{bucket}/prod",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
            "AWS_MAX_ATTEMPTS": "2",
            "BACKUP_S3_TIMEOUT_SECONDS": "2",
        }
        runner = start_runner("run", env=env)
        try:
            _, stderr = runner.communicate(timeout=120)
            left_running = group_alive(runner)
        finally:
            kill_group(runner)
        went_silent = proxy.silent

    assert runner.returncode == 5, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("backup-runner: could not reach the backup bucket: Read timeout"), stderr
    assert "Traceback" not in stderr
    assert went_silent, "the bucket went silent during the first part"
    assert not left_running, "pg_dump did not outlive the run"
    later = datetime.now(UTC) + cleanup.ABANDONED_AFTER + timedelta(minutes=1)
    leftovers = direct.leftovers()
    assert len(leftovers) == 1, "the silent bucket could not be asked to abort the upload"
    assert operations.prune(direct, KEEP_ALL, now=later).discarded == [leftovers[0].what]
    assert direct.leftovers() == [] and direct.entries() == {}


@pytest.mark.parametrize("failure", ["pg_dump fails", "the manifest cannot be written"])
def test_a_run_that_fails_after_its_dump_removes_the_dump(database, destination, monkeypatch, failure):
    seed(database)
    if failure == "pg_dump fails":
        monkeypatch.setattr(operations.postgres, "server_version", lambda conn: "15")
        original = operations.postgres.ToolRun.finish

        def finish_failing(self):
            original(self)
            raise operations.ToolError(self.command, 1, "pg_dump: error: simulated")

        monkeypatch.setattr(operations.postgres.ToolRun, "finish", finish_failing)
    else:
        original_put = type(destination).put

        def put(self, key, source, overwrite=False):
            if key.endswith(".manifest.json"):
                raise OSError(28, "No space left on device")
            return original_put(self, key, source, overwrite)

        monkeypatch.setattr(type(destination), "put", put)
    with pytest.raises((operations.ToolError, OSError)):
        operations.run_backup(database, destination, quiet)
    assert destination.entries() == {} and destination.leftovers() == []
