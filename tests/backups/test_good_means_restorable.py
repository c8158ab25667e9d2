"""A backup is proven restorable (verified) only by a drill; bad ones are listed with the reason
and never break the others; prune never leaves a destination without a proven backup, checked by
the digest of its whole dump at the time of pruning; what the runner did not write is never
touched (issue 8, points 2 and 3; issue 22, point 2)."""

from __future__ import annotations

import hashlib
import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from backup_runner import operations
from backup_runner.catalog import read_catalog
from backup_runner.destinations import DirectoryDestination
from backup_runner.drills import record_verdict
from backup_runner.manifest import Manifest, dump_key, manifest_key, new_id
from backup_runner.retention import Retention

from .conftest import quiet, run_cli, seed

NONE_KEPT = Retention(daily=0, weekly=0, monthly=0)
# Objects another tool (or a person) put beside the backups: never parsed, never deleted.
STRANGERS = {
    "notes.txt": b"runbook",
    "other-tool.dump": b"PGDMP not ours",
    "20261128.manifest.json": b"{not json",
    "20261128T031500Z-zzzzzzzz.dump": b"almost our shape",
    "nightly/20261128T031500Z.dump": b"in a sub-folder",
}


def fake_backup(destination, taken: datetime, damage: str = "", database: str = "mvs") -> str:
    """A backup as the runner writes it (a tiny dump and its manifest), then damaged as told:
    "verified" and "altered after its drill" (same size, other bytes) pass a drill first."""
    backup_id = new_id(taken)
    body = b"PGDMP-fake-" + backup_id.encode()
    sha256 = hashlib.sha256(body).hexdigest()
    manifest = Manifest(
        backup_id=backup_id,
        database=database,
        server_version="15.18",
        size_bytes=len(body),
        sha256=sha256,
        row_counts={},
        started_at=taken,
        finished_at=taken,
    ).model_dump_json()
    if damage == "unparsable manifest":
        manifest = manifest[: len(manifest) // 2]
    if damage == "manifest of another backup":
        manifest = manifest.replace(backup_id, new_id(taken - timedelta(days=1)))
    if damage == "altered after its drill":
        body = body.replace(b"PGDMP", b"PGDMX")
    if damage != "missing dump":
        destination.put(dump_key(backup_id), io.BytesIO(body[:-2] if damage == "short dump" else body))
    destination.put(manifest_key(backup_id), io.BytesIO(manifest.encode()))
    if damage == "failed drill":
        record_verdict(destination, backup_id, ["public.orders: 10 rows restored, manifest says 12"], sha256)
    if damage in ("verified", "altered after its drill"):
        record_verdict(destination, backup_id, [], sha256)
    return backup_id


def put_strangers(destination) -> None:
    """Written as another tool would, not through the runner's own writes."""
    for key, body in STRANGERS.items():
        if isinstance(destination, DirectoryDestination):
            (destination.path / key).parent.mkdir(exist_ok=True)
            (destination.path / key).write_bytes(body)
        else:
            destination.client.put_object(Bucket=destination.bucket, Key=destination._key(key), Body=body)


DAMAGES = {
    "unparsable manifest": "its manifest cannot be read",
    "manifest of another backup": "its manifest names another backup",
    "missing dump": "its dump is missing",
    "short dump": "its dump is 34 bytes, the manifest says 36",
    "failed drill": "failed its drill at",
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_bad_backup_is_listed_with_its_reason_and_the_good_one_still_serves(database, destination, damage):
    seed(database)
    good = operations.run_backup(database, destination, quiet)
    bad = fake_backup(destination, datetime.now(UTC) + timedelta(minutes=2), damage)  # the newest one
    put_strangers(destination)

    catalog = read_catalog(destination)
    assert [(b.backup_id, b.state) for b in catalog.backups] == [(bad, "bad"), (good.backup_id, "unverified")]
    assert DAMAGES[damage] in catalog.backups[0].reason
    assert catalog.foreign == ["20261128.manifest.json", "20261128T031500Z-zzzzzzzz.dump", "other-tool.dump"]
    chosen = operations.choose_for_restore(catalog, destination, None, good.database, progress=quiet)
    assert chosen.backup_id == good.backup_id, "restore skips it"
    assert operations.verify(destination, progress=quiet).backup_id == good.backup_id, "and so does the drill"
    pruned = operations.prune(destination, NONE_KEPT)
    assert pruned.deleted == [] and pruned.discarded == []
    assert {b.backup_id for b in read_catalog(destination).backups} == {bad, good.backup_id}
    for key, body in STRANGERS.items():
        with destination.open(key) as stream:
            assert stream.read() == body, f"{key} is not the runner's and stays as it was"


def test_list_shows_bad_backups_and_strangers_do_not_break_it(database, tmp_path):
    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    assert run_cli("run", env=env).returncode == 0
    destination = DirectoryDestination(tmp_path / "backups")
    bad = fake_backup(destination, datetime.now(UTC) + timedelta(minutes=5), "unparsable manifest")
    put_strangers(destination)
    listed = run_cli("list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert f"{bad}  bad         its manifest cannot be read" in listed.stdout
    assert listed.stdout.count("  unverified  ") == 1 and "  good  " not in listed.stdout
    assert "notes.txt" not in listed.stdout and "nightly" not in listed.stdout, "only names shaped like backups"
    assert "foreign: other-tool.dump is not a backup of this runner" in listed.stdout
    assert "foreign: 20261128T031500Z-zzzzzzzz.dump" in listed.stdout
    assert run_cli("verify", env=env).returncode == 0
    assert run_cli("list", env=env).stdout.count("  verified  ") == 1
    assert run_cli("prune", env={**env, "RETAIN_DAILY": "0"}).returncode == 0
    assert (destination.path / "other-tool.dump").exists()


@pytest.mark.parametrize("seed_value", range(40))
def test_prune_keeps_a_proven_backup_whenever_there_was_one(tmp_path, seed_value):
    """Random mixes of verified, unverified, bad and silently altered backups of two databases over
    a few weeks, under random retentions: after a prune, each database's newest verified backup
    whose dump still has its sha256 is there and verified, an altered one is marked bad and kept,
    and every bad one stays."""
    rng = random.Random(seed_value)
    destination = DirectoryDestination(tmp_path / "backups")
    start = datetime(2026, 10, 1, 3, tzinfo=UTC)
    kinds = ["", "", "verified", "verified", "altered after its drill", *DAMAGES]
    for day in range(rng.randint(1, 30)):
        for database in ("mvs", "other"):
            when = start + timedelta(days=day, minutes=rng.randint(0, 600))
            fake_backup(destination, when, rng.choice(kinds), database)
    before = read_catalog(destination)
    altered = {b.backup_id for b in before.in_state("verified") if b.dump.size and _altered(destination, b)}
    policy = Retention(daily=rng.randint(0, 3), weekly=rng.randint(0, 2), monthly=rng.randint(0, 1))

    pruned = operations.prune(destination, policy, now=start + timedelta(days=40))

    after = read_catalog(destination)
    for database in ("mvs", "other"):
        proven = [
            b.backup_id
            for b in before.in_state("verified")
            if b.manifest.database == database and b.backup_id not in altered
        ]
        still = [b.backup_id for b in after.in_state("verified") if b.manifest.database == database]
        if proven:
            assert proven[0] in still and proven[0] in pruned.floor
    assert set(pruned.corrupt) <= altered
    assert {b.backup_id for b in after.in_state("bad")} >= {b.backup_id for b in before.in_state("bad")} | set(
        pruned.corrupt
    )


def _altered(destination, backup) -> bool:
    with destination.open(dump_key(backup.backup_id)) as stream:
        return hashlib.sha256(stream.read()).hexdigest() != backup.manifest.sha256


def test_a_same_size_change_to_the_newest_proven_backup_is_caught_by_prune(tmp_path):
    destination = DirectoryDestination(tmp_path / "backups")
    start = datetime(2026, 11, 1, 3, tzinfo=UTC)
    older = fake_backup(destination, start, "verified")
    newest = fake_backup(destination, start + timedelta(days=1), "altered after its drill")
    assert [b.state for b in read_catalog(destination).backups] == ["verified", "verified"], "the sizes agree"

    dry = operations.prune(destination, NONE_KEPT, dry_run=True, now=start + timedelta(days=2))
    assert (dry.corrupt, dry.floor, dry.deleted) == ([newest], [older], [])
    assert read_catalog(destination).by_id(newest).state == "verified", "a dry run writes nothing"

    pruned = operations.prune(destination, NONE_KEPT, now=start + timedelta(days=2))

    assert (pruned.corrupt, pruned.floor, pruned.deleted) == ([newest], [older], [])
    catalog = read_catalog(destination)
    assert catalog.by_id(newest).state == "bad" and "no longer matches its manifest" in catalog.by_id(newest).reason
    assert catalog.by_id(older).state == "verified"


def test_the_newest_name_failing_its_drill_does_not_make_prune_drop_the_last_proven_one(tmp_path):
    destination = DirectoryDestination(tmp_path / "backups")
    start = datetime(2026, 11, 1, 3, tzinfo=UTC)
    older = fake_backup(destination, start, "verified")
    newest = fake_backup(destination, start + timedelta(days=1), "failed drill")
    pruned = operations.prune(destination, NONE_KEPT, now=start + timedelta(days=2))
    assert pruned.deleted == []
    assert [b.backup_id for b in read_catalog(destination).in_state("verified")] == [older]
    assert json.loads(destination.read_if_present(f"{newest}.verdict.json"))["passed"] is False
