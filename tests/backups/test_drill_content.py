"""Restorable means proven by content (issue 22, point 2): the drill compares the restored copy with
the source as of the dump's snapshot (per-table row counts, an order-independent content digest,
and the schema's tables, constraints and indexes), so a dump that restores cleanly but holds
something else is caught, even when its file digests were recomputed to match."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess

import psycopg
import pytest

from backup_runner import fingerprint, operations, postgres
from backup_runner.catalog import read_catalog
from backup_runner.manifest import dump_key, manifest_key

from .conftest import execute, quiet, seed


def replace_dump(url: str, destination, backup_id: str, change: list[str]) -> None:
    """Restore the backup beside the source, change it, dump it again and put that dump in the
    backup's place with the manifest's size and sha256 recomputed (its fingerprint kept): every
    file check passes, only the content can tell."""
    restored = operations.restore(url, destination, backup_id=backup_id, progress=quiet).target
    copy = postgres.with_database(url, restored)
    execute(copy, *change)
    conninfo, env = postgres.for_tools(copy)
    body = subprocess.run(["pg_dump", "-Fc", "-d", conninfo], env=env, capture_output=True, check=True).stdout
    postgres.drop_database(url, restored)
    destination.put(dump_key(backup_id), io.BytesIO(body), overwrite=True)
    manifest = json.loads(destination.read_if_present(manifest_key(backup_id)))
    manifest.update(size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
    destination.put(manifest_key(backup_id), io.BytesIO(json.dumps(manifest).encode()), overwrite=True)


CHANGES = {
    "altered rows, same count": (
        ["UPDATE orders SET total = total + 0.01 WHERE id = 17"],
        ["public.orders: its 3000 rows differ in content from the source's snapshot"],
    ),
    "emails changed, same count": (
        ["UPDATE users SET email = 'x' || email WHERE id IN (1, 2)"],
        ["public.users: its 500 rows differ in content from the source's snapshot"],
    ),
    "constraints and an index missing": (
        ["ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey", "DROP INDEX orders_user"],
        [
            "constraint public.orders orders_user_id_fkey: in the source, missing from the restore",
            "index public.orders_user: in the source, missing from the restore",
        ],
    ),
    "a column's type changed": (
        ["ALTER TABLE orders ALTER COLUMN total TYPE numeric(12,2)"],
        [
            "public.orders: restored with columns ['id bigint not null', 'user_id integer', 'total numeric(12,2)'], "
            "the source has ['id bigint not null', 'user_id integer', 'total numeric(10,2)']"
        ],
    ),
    "a table more": (["CREATE TABLE extra (id int)"], ["public.extra: not in the manifest"]),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_dump_that_restores_cleanly_but_holds_something_else_is_bad(database, destination, change):
    seed(database)
    manifest = operations.run_backup(database, destination, quiet)
    statements, expected = CHANGES[change]
    replace_dump(database, destination, manifest.backup_id, statements)
    assert read_catalog(destination).backups[0].state == "unverified", "size and sha256 agree with the manifest"

    result = operations.verify(destination, progress=quiet)

    assert result.problems == expected
    [backup] = read_catalog(destination).backups
    assert backup.state == "bad" and expected[0] in backup.reason


def test_the_manifest_describes_the_dumps_snapshot_while_the_database_is_written(database, destination, monkeypatch):
    """Rows written during the backup, after its snapshot, are in neither the dump nor its digest."""
    seed(database)
    real = postgres.exported_snapshot

    @contextlib.contextmanager
    def snapshot_then_write(url):
        with real(url) as taken, psycopg.connect(database, autocommit=True) as writer:
            writer.execute("UPDATE users SET email = 'late-' || email WHERE id < 50")
            writer.execute("INSERT INTO orders (user_id, total) VALUES (1, 9.99)")
            yield taken

    monkeypatch.setattr(postgres, "exported_snapshot", snapshot_then_write)
    manifest = operations.run_backup(database, destination, quiet)
    assert manifest.fingerprint.tables["public.orders"].rows == 3000, "the insert came after the snapshot"
    assert operations.verify(destination, progress=quiet).passed, "and the update too"


def take(url: str) -> fingerprint.Fingerprint:
    return postgres.fingerprint_of(url)


def test_the_digest_ignores_row_order_and_output_defaults_and_counts_every_duplicate(pg_server):
    names = ["t_order_a", "t_order_b"]
    for name in names:
        postgres.create_database(pg_server, name)
    a, b = (postgres.with_database(pg_server, name) for name in names)
    try:
        for url in (a, b):
            execute(
                url, "CREATE TABLE t (v text, f float8, at timestamptz, d date, span interval, raw bytea, doc json)"
            )
            execute(url, "CREATE TABLE r (v text, f float8, at timestamptz)")  # every type has a hash function
        row = "('x', 0.1, '2026-12-07 10:00+02', '2026-12-07', '1 day 2 hours', '\\x00ff', '{\"a\": 1}')"
        other = "('y', 1e-300, '2026-01-01 00:00+00', '2026-01-31', '3 months', NULL, NULL)"
        execute(a, "INSERT INTO r VALUES ('x', 0.1, '2026-12-07 10:00+02'), ('y', 2.5, NULL)")
        execute(b, "INSERT INTO r VALUES ('y', 2.5, NULL), ('x', 0.1, '2026-12-07 08:00+00')")
        execute(a, f"INSERT INTO t VALUES {row}, {other}, {row}")
        execute(b, f"INSERT INTO t VALUES {other}, {row}, {row}")
        for setting in (
            "TimeZone = 'Asia/Tokyo'",
            "DateStyle = 'SQL, DMY'",
            "IntervalStyle = 'iso_8601'",
            "extra_float_digits = 0",
            "bytea_output = 'escape'",
        ):
            execute(pg_server, f"ALTER DATABASE t_order_b SET {setting}")  # b's sessions print otherwise
        assert {name: table.method for name, table in take(a).tables.items()} == {
            "public.t": "text",
            "public.r": "record",
        }
        assert take(a).tables["public.t"] == take(b).tables["public.t"], (
            "the same rows in another order, read by sessions with other output defaults"
        )
        assert take(a).tables["public.r"] == take(b).tables["public.r"], "hashed by type, the same too"
        execute(b, "DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t WHERE v = 'x')")
        execute(b, f"INSERT INTO t VALUES {other}")
        assert take(a).tables["public.t"].rows == take(b).tables["public.t"].rows
        assert take(a).tables["public.t"].digest != take(b).tables["public.t"].digest, "a duplicate swapped for another"
    finally:
        for name in names:
            postgres.drop_database(pg_server, name)


def test_a_table_whose_types_have_no_hash_function_is_hashed_by_text_on_both_sides(database, destination):
    execute(
        database,
        "CREATE TABLE events (id int PRIMARY KEY, body json NOT NULL)",
        "INSERT INTO events SELECT g, json_build_object('n', g, 'tag', 'e' || g) FROM generate_series(1, 200) g",
    )
    manifest = operations.run_backup(database, destination, quiet)
    assert manifest.fingerprint.tables["public.events"].method == "text"
    assert operations.verify(destination, progress=quiet).passed

    replace_dump(database, destination, manifest.backup_id, ["UPDATE events SET body = '{\"n\": 0}' WHERE id = 7"])
    assert operations.verify(destination, progress=quiet).problems == [
        "public.events: its 200 rows differ in content from the source's snapshot"
    ]
