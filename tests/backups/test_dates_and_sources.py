"""Time comes from the destination, not from names, and one destination holds several databases
(issue 22, points 4 and 5): a backup dated after it was stored (or after now) is flagged and never
chosen by default or counted by retention; a name shaped like an id with an impossible date is a
foreign file that breaks nothing; retention counts per database, and restore refuses a dump of
another database unless told which."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from backup_runner import operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.manifest import dump_key, manifest_key, new_id, verdict_key
from backup_runner.retention import Retention
from components.errors import RestoreRefused

from .conftest import execute, quiet, run_cli, seed, table_checksums

KEEP_ONE = Retention(daily=1, weekly=0, monthly=0)


def rename(destination, backup_id: str, new: str) -> None:
    """Copy a backup under another id (as a person or a clock-skewed runner would have named it)."""
    for old_key, new_key in ((dump_key(backup_id), dump_key(new)), (manifest_key(backup_id), manifest_key(new))):
        with destination.open(old_key) as stream:
            body = stream.read()
        if old_key.endswith(".json"):
            manifest = json.loads(body)
            manifest["backup_id"] = new
            body = json.dumps(manifest).encode()
        destination.put(new_key, io.BytesIO(body))
        destination.delete(old_key)


def test_a_backup_dated_in_the_future_is_flagged_and_never_displaces_real_ones(database, destination):
    seed(database)
    real = operations.run_backup(database, destination, quiet)
    future = operations.run_backup(database, destination, quiet)
    forged = new_id(datetime.now(UTC) + timedelta(days=400))
    rename(destination, future.backup_id, forged)
    execute(database, "DELETE FROM orders")  # so the restore shows which backup it took

    catalog = read_catalog(destination)
    flagged = catalog.by_id(forged)
    assert flagged.flag and "after the destination stored it" in flagged.flag
    assert catalog.backups[0].backup_id == forged or catalog.backups[1].backup_id == forged
    listed = run_cli("list", env={"BACKUP_DESTINATION": destination.url}).stdout
    assert f"{forged}  unverified" in listed and "FLAGGED: its id is dated" in listed

    assert operations.verify(destination, progress=quiet).backup_id == real.backup_id, "the drill skips it"
    restored = operations.restore(database, destination, progress=quiet)
    assert restored.manifest.backup_id == real.backup_id, "and so does restore"
    assert table_checksums(postgres.with_database(database, restored.target))["public.orders"]
    postgres.drop_database(database, restored.target)

    pruned = operations.prune(destination, KEEP_ONE)
    assert pruned.deleted == [] and real.backup_id in pruned.floor, "the real one is not pruned for the forged one"
    assert {b.backup_id for b in read_catalog(destination).backups} == {real.backup_id, forged}, "nor is the forged"

    messages: list[str] = []
    chosen = operations.restore(database, destination, backup_id=forged, progress=messages.append)
    assert any("flagged" in m for m in messages), "it can still be restored by name, and says so"
    postgres.drop_database(database, chosen.target)


def test_a_copied_old_backup_keeps_its_own_date(tmp_path, database):
    """Stored today, named a month ago (copied from another bucket): its name's date is believed,
    as it is not after the destination's; it is not taken for today's newest."""
    from backup_runner.destinations import DirectoryDestination

    destination = DirectoryDestination(tmp_path / "backups")
    seed(database)
    today = operations.run_backup(database, destination, quiet)
    old = operations.run_backup(database, destination, quiet)
    month_ago = new_id(datetime.now(UTC) - timedelta(days=30))
    rename(destination, old.backup_id, month_ago)
    catalog = read_catalog(destination)
    assert [b.backup_id for b in catalog.backups] == [today.backup_id, month_ago]
    assert not any(b.flag for b in catalog.backups)


IMPOSSIBLE = "20261399T256199Z-abcdef01"  # month 13, hour 25: the shape of an id, not a date


def test_a_name_with_an_impossible_date_is_foreign_and_breaks_nothing(database, destination):
    seed(database)
    real = operations.run_backup(database, destination, quiet)
    for key in (dump_key(IMPOSSIBLE), manifest_key(IMPOSSIBLE), verdict_key(IMPOSSIBLE)):
        destination.put(key, io.BytesIO(b"not ours"))

    catalog = read_catalog(destination)
    assert [b.backup_id for b in catalog.backups] == [real.backup_id]
    assert set(catalog.foreign) == {dump_key(IMPOSSIBLE), manifest_key(IMPOSSIBLE), verdict_key(IMPOSSIBLE)}
    env = {"BACKUP_DESTINATION": destination.url, "DATABASE_URL": database}
    listed = run_cli("list", env=env)
    assert listed.returncode == 0 and f"foreign: {dump_key(IMPOSSIBLE)} is not a backup" in listed.stdout
    assert run_cli("verify", env=env).returncode == 0
    restored = run_cli("restore", env=env)
    assert restored.returncode == 0, restored.stderr
    postgres.drop_database(database, restored.stdout.split(" into ")[1].split(";")[0].strip())
    assert (
        run_cli("prune", env={**env, "RETAIN_DAILY": "0", "RETAIN_WEEKLY": "0", "RETAIN_MONTHLY": "0"}).returncode == 0
    )
    for key in (dump_key(IMPOSSIBLE), manifest_key(IMPOSSIBLE), verdict_key(IMPOSSIBLE)):
        assert destination.read_if_present(key) == b"not ours", "never read as a backup, never deleted"


@pytest.fixture
def two_databases(pg_server, database):
    """`database` and a second one on the same server, both seeded differently."""
    other_name = f"{postgres.database_of(database)}_other"
    postgres.create_database(pg_server, other_name)
    other = postgres.with_database(pg_server, other_name)
    seed(database)
    execute(other, "CREATE TABLE ledger (id int PRIMARY KEY)", "INSERT INTO ledger SELECT generate_series(1, 42)")
    yield database, other
    postgres.drop_database(pg_server, other_name)


def test_every_backup_knows_its_source_and_retention_counts_per_database(two_databases, destination):
    first, second = two_databases
    backups = {url: [operations.run_backup(url, destination, quiet) for _ in range(3)] for url in (first, second)}
    for url, taken in backups.items():
        assert {m.database for m in taken} == {postgres.database_of(url)}
        assert all(m.server and m.server.startswith("127.0.0.1:") and "@" not in m.server for m in taken)
        assert len({m.system_identifier for m in taken}) == 1
    for url in (first, second):
        assert operations.verify(destination, database=postgres.database_of(url), progress=quiet).passed

    pruned = operations.prune(destination, KEEP_ONE)

    remaining = read_catalog(destination).backups
    kept = {b.manifest.database: b.backup_id for b in remaining}
    assert len(remaining) == 2, "one a day of each database, not one a day in all"
    assert kept == {postgres.database_of(url): taken[-1].backup_id for url, taken in backups.items()}
    assert sorted(pruned.floor) == sorted(kept.values())


def test_restore_refuses_a_dump_of_another_database_unless_told_which(two_databases, destination):
    first, second = two_databases
    of_second = operations.run_backup(second, destination, quiet)

    with pytest.raises(RestoreRefused, match=f"is a dump of database {postgres.database_of(second)}, not of"):
        operations.restore(first, destination, backup_id=of_second.backup_id, progress=quiet)
    with pytest.raises(Exception, match=f"no restorable backup of database {postgres.database_of(first)}"):
        operations.restore(first, destination, progress=quiet)
    env = {"DATABASE_URL": first, "BACKUP_DESTINATION": destination.url}
    refused = run_cli("restore", "--backup", of_second.backup_id, env=env)
    assert refused.returncode == 4 and f"add --source-db {postgres.database_of(second)}" in refused.stderr

    restored = operations.restore(first, destination, source_db=postgres.database_of(second), progress=quiet)
    assert restored.manifest.backup_id == of_second.backup_id
    assert table_checksums(postgres.with_database(first, restored.target)) == table_checksums(second)
    postgres.drop_database(first, restored.target)
