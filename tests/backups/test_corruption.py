"""A truncated or altered dump is caught by verify and restore, and nothing is deleted for it."""

from __future__ import annotations

import io

import pytest

from backup_runner import operations
from backup_runner.catalog import read_catalog
from backup_runner.destinations import DirectoryDestination
from backup_runner.drills import last_drill
from backup_runner.manifest import dump_key, manifest_key
from backup_runner.retention import Retention
from components.errors import BackupCorrupt, BackupError, DrillStopped

from .conftest import quiet, run_cli, seed


def damage(destination, key: str, how: str) -> None:
    with destination.open(key) as stream:
        data = bytearray(stream.read())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) * 2 // 3]
    destination.put(key, io.BytesIO(bytes(data)), overwrite=True)


def test_an_altered_dump_is_caught_by_the_drill_and_then_listed_as_bad(database, destination):
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    damage(destination, dump_key(manifest.backup_id), "flip")

    with pytest.raises(BackupCorrupt, match=f"backup {manifest.backup_id} is corrupt"):
        operations.verify(destination, progress=quiet)
    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and f"backup {manifest.backup_id} is corrupt" in backup.reason
    with pytest.raises(BackupError, match="no restorable backup"):
        operations.restore(database, destination, progress=quiet)
    with pytest.raises(BackupError, match=f"backup {manifest.backup_id} is bad: failed its drill"):
        operations.restore(database, destination, backup_id=manifest.backup_id, progress=quiet)
    assert operations.prune(destination, Retention(daily=0, weekly=0, monthly=0)).deleted == []
    assert destination.size(dump_key(manifest.backup_id)) is not None
    assert destination.size(manifest_key(manifest.backup_id)) is not None


def test_a_truncated_dump_is_bad_before_any_drill_and_a_drill_has_nothing_to_do(database, destination):
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    damage(destination, dump_key(manifest.backup_id), "truncate")

    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and "the manifest says" in backup.reason
    with pytest.raises(DrillStopped, match="nothing to drill"):
        operations.verify(destination, progress=quiet)
    assert last_drill(destination)["status"] == "stopped"
    with pytest.raises(BackupError, match=f"backup {manifest.backup_id} cannot be drilled, it is bad"):
        operations.verify(destination, manifest.backup_id, progress=quiet)
    assert operations.prune(destination, Retention(daily=0, weekly=0, monthly=0)).deleted == []
    assert destination.size(dump_key(manifest.backup_id)) is not None


def test_the_cli_exit_codes_say_what_happened(database, tmp_path):
    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    taken = run_cli("run", env=env)
    assert taken.returncode == 0, taken.stderr
    backup_id = taken.stdout.strip()
    listed = run_cli("list", env=env).stdout
    assert "  unverified  " in listed and "last drill: never ran" in listed
    verified = run_cli("verify", env=env)
    assert verified.returncode == 0 and "passed" in verified.stdout, verified.stderr
    assert "last drill: 20" in run_cli("list", env=env).stdout
    assert f"on {backup_id}, passed" in run_cli("list", env=env).stdout

    refused = run_cli("restore", "--target-db", database.rsplit("dbname=", 1)[-1].split()[0], env=env)
    assert refused.returncode == 4 and "not empty" in refused.stderr

    damage(DirectoryDestination(tmp_path / "backups"), dump_key(backup_id), "flip")
    corrupt = run_cli("verify", env=env)
    assert corrupt.returncode == 3 and "is corrupt" in corrupt.stderr
    assert f"on {backup_id}, FAILED: backup {backup_id} is corrupt" in run_cli("list", env=env).stdout
    missing = run_cli("run", env={"DATABASE_URL": database, "BACKUP_DESTINATION": ""})
    assert missing.returncode != 0 and "BACKUP_DESTINATION" in missing.stderr
