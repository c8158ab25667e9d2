"""The `last_drill` stack output, read back from a real bucket (moto's server) after real drills
against PostgreSQL 15: what a passed drill, a refused backup and no drill at all look like, and
that the bucket keys come from the stack's config, never from the machine's AWS credentials."""

from __future__ import annotations

import io
import uuid

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from backup_runner import operations
from backup_runner.destinations import S3Destination
from backup_runner.drills import last_drill
from backup_runner.manifest import dump_key
from components.last_drill import LastDrillProvider, bucket_source
from components.spec.models import BackupDestination

from .conftest import quiet, seed

KEYS = {"mvs:backupAccessKey": "drill-access-key", "mvs:backupSecretKey": "drill-secret-key"}


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    """A new bucket, with the machine's own AWS credentials set (the reader must not use them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-machines-own-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-machines-own-secret")
    name = f"mvs-drills-{uuid.uuid4().hex[:8]}"
    destination = BackupDestination(
        kind="s3",
        bucket=name,
        prefix="staging",
        endpoint=s3_endpoint,
        access_key_secret="backupAccessKey",
        secret_key_secret="backupSecretKey",
    )
    store = S3Destination(
        name, "staging", s3_endpoint, credentials=(KEYS["mvs:backupAccessKey"], KEYS["mvs:backupSecretKey"])
    )
    store.client.create_bucket(Bucket=name)
    return destination, store


def provider(config: dict[str, str]) -> LastDrillProvider:
    configured = LastDrillProvider()
    configured.configure(ConfigureRequest(Config(config, "mvs")))
    return configured


def test_a_passed_drill_shows_when_it_finished_and_what_it_restored(database, bucket):
    destination, store = bucket
    source = bucket_source(destination)
    created = provider(KEYS).create({"source": source, "drill": None})
    assert created.outs["drill"]["status"] == "none yet"
    assert created.outs["drill"]["finished_at"] is None

    seed(database)
    manifest = operations.run_backup(database, store, quiet)
    result = operations.verify(store, progress=quiet)
    assert result.passed
    record = last_drill(store)

    refreshed = provider(KEYS).read(created.id, created.outs)
    drill = refreshed.outs["drill"]
    assert drill["status"] == "passed"
    assert drill["finished_at"] == record["finished_at"]
    assert drill["backup_id"] == manifest.backup_id
    assert drill["record"] == f"s3://{destination.bucket}/staging/last-drill.json"
    assert refreshed.inputs == {"source": source}, "a drill changes outputs, never the declared inputs"


def test_a_corrupt_backup_shows_as_a_failed_drill(database, bucket):
    destination, store = bucket
    seed(database)
    manifest = operations.run_backup(database, store, quiet)
    damaged = bytearray(store.open(dump_key(manifest.backup_id)).read())
    damaged[-100] ^= 0x01  # the same size: only the drill's checksum can tell
    store.put(dump_key(manifest.backup_id), io.BytesIO(bytes(damaged)), overwrite=True)
    with pytest.raises(Exception, match="corrupt"):
        operations.verify(store, progress=quiet)

    drill = provider(KEYS).read("id", {"source": bucket_source(destination), "drill": None}).outs["drill"]
    assert (drill["status"], drill["backup_id"], drill["problems"]) == ("failed", manifest.backup_id, 1)


def test_without_the_bucket_keys_in_config_it_says_unreadable_and_keeps_what_it_knew(database, bucket):
    destination, store = bucket
    seed(database)
    operations.run_backup(database, store, quiet)
    operations.verify(store, progress=quiet)
    known = provider(KEYS).read("id", {"source": bucket_source(destination), "drill": None}).outs["drill"]
    assert known["status"] == "passed"

    drill = provider({}).read("id", {"source": bucket_source(destination), "drill": known}).outs["drill"]
    assert drill["status"] == "unreadable"
    assert drill["reason"] == "LookupError: the stack config has no mvs:backupAccessKey or mvs:backupSecretKey"
    assert (drill["finished_at"], drill["backup_id"]) == (known["finished_at"], known["backup_id"])


def test_an_unreachable_bucket_does_not_fail_the_update(bucket):
    destination, _ = bucket
    closed = destination.model_copy(update={"endpoint": "http://127.0.0.1:9"})
    drill = provider(KEYS).create({"source": bucket_source(closed), "drill": None}).outs["drill"]
    assert drill["status"] == "unreadable"
    assert "127.0.0.1:9" in drill["reason"]
    assert not any(value in str(drill) for value in KEYS.values())


def test_a_key_an_error_repeats_is_not_in_the_output(bucket):
    destination, _ = bucket
    # An endpoint whose very address holds the access key: the connection error repeats it.
    leaky = destination.model_copy(update={"endpoint": f"http://{KEYS['mvs:backupAccessKey']}.invalid:9"})
    drill = provider(KEYS).create({"source": bucket_source(leaky), "drill": None}).outs["drill"]
    assert drill["status"] == "unreadable" and "[secret]" in drill["reason"]
    assert KEYS["mvs:backupAccessKey"] not in str(drill)
