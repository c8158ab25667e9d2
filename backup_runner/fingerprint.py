"""What a database holds, as a restore drill compares it: per table its columns, its row count and
an order-independent digest of its rows, and the schema's constraints and indexes.

`run` takes it inside the snapshot that pg_dump exports, so it describes exactly what the dump
holds however the database is written meanwhile; the drill takes it again on the restored copy
and `compare` says what differs. Each row gets a 64-bit hash, and the hashes are summed as
numbers, so the order rows come back in does not matter and a row stored twice counts twice. A row
is hashed with the hash functions of its columns' types (RECORD), or where a type has none, or the
server is older than 14, from its text form under fixed output settings (TEXT; OUTPUT_SETTINGS,
so both sides spell every value alike whatever the sessions' defaults are). Both are the hashes
PostgreSQL's hash partitioning relies on staying the same across versions and pg_upgrade, so a
PostgreSQL 14 source and a 15 drill agree; the manifest says which each table used.
Not compared: sequences' positions (not transactional, so not part of any snapshot), large
objects, owners and grants (the drill's own server has none of the source's roles' logins).
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

# The settings that decide how values print; everything else about the sessions may differ.
OUTPUT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "lc_monetary": "C",
    "search_path": "pg_catalog",  # so every name below comes out schema-qualified
}
# Two ways to hash a row. RECORD (hash_record_extended, PostgreSQL 14 and later) combines the
# columns' own hash functions, the ones hash partitioning keeps stable across versions: about twice
# as fast as TEXT, which hashes the row's text form, for types without a hash function (json).
RECORD, TEXT = "record", "text"
RECORD_HASH_SINCE = 140000
USER_SCHEMAS = """n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"""


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: int
    digest: str  # the sum of the rows' 64-bit hashes, as a decimal number
    columns: list[str]  # "name type [not null]", in column order
    method: str = "text"  # how the rows were hashed (RECORD or TEXT)


class Fingerprint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: dict[str, Table]  # schema.table
    constraints: dict[str, str]  # "schema.table constraint name": its definition
    indexes: dict[str, str]  # schema.index: its definition

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: table.rows for name, table in self.tables.items()}


def apply_output_settings(conn: psycopg.Connection) -> None:
    """For the current transaction only (SET LOCAL), so nothing leaks to other work."""
    for name, value in OUTPUT_SETTINGS.items():
        conn.execute(sql.SQL("SELECT set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value)))


def _digest(conn: psycopg.Connection, schema: str, name: str, method: str, fall_back: bool) -> tuple[int, str, str]:
    """(rows, digest, method) of one table. A RECORD hash the table's column types cannot give (json
    has no hash function) falls back to TEXT when `fall_back`, inside a savepoint so the snapshot's
    transaction goes on."""
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))
    if method == RECORD:
        query = sql.SQL("SELECT count(*), coalesce(sum(hash_record_extended(t.*, 0)), 0)::text FROM {} AS t")
        try:
            with conn.transaction():
                rows, digest = conn.execute(query.format(table)).fetchone()
                return rows, digest, RECORD
        except psycopg.Error:
            if not fall_back:
                raise
    query = sql.SQL("SELECT count(*), coalesce(sum(hashtextextended(ROW(t.*)::text, 0)), 0)::text FROM {} AS t")
    rows, digest = conn.execute(query.format(table)).fetchone()
    return rows, digest, TEXT


def take(conn: psycopg.Connection, methods: dict[str, str] | None = None) -> Fingerprint:
    """The fingerprint as the connection's transaction sees it (open one first: the output settings
    are set for it alone). Tables are read one after another without parallel workers: this runs
    beside pg_dump (or the drill's amcheck), which already keep the cores busy.

    `methods`: how each table's digest is to be taken (the drill passes the manifest's, so both
    sides hash alike); without it, RECORD where the server has it, else TEXT."""
    apply_output_settings(conn)
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    columns: dict[str, list[str]] = {}
    for table, column, kind, not_null in conn.execute(
        f"""
        SELECT c.oid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMAS}
        ORDER BY 1, a.attnum
        """
    ).fetchall():
        columns.setdefault(table, []).append(f"{column} {kind}" + (" not null" if not_null else ""))
    tables_query = f"""
        SELECT c.oid::regclass::text, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMAS} ORDER BY 1
    """
    record_hash = conn.info.server_version >= RECORD_HASH_SINCE
    tables = {}
    for regclass, schema, name in conn.execute(tables_query).fetchall():
        key = f"{schema}.{name}"
        method = methods.get(key, TEXT) if methods is not None else (RECORD if record_hash else TEXT)
        rows, digest, method = _digest(conn, schema, name, method, fall_back=methods is None)
        tables[key] = Table(rows=rows, digest=digest, columns=columns.get(regclass, []), method=method)
    constraints = {
        f"{table} {name}": definition
        for table, name, definition in conn.execute(
            f"""
            SELECT co.conrelid::regclass::text, co.conname, pg_get_constraintdef(co.oid)
            FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {USER_SCHEMAS}
            """
        ).fetchall()
    }
    indexes = dict(
        conn.execute(
            f"""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {USER_SCHEMAS}
            """
        ).fetchall()
    )
    return Fingerprint(tables=tables, constraints=constraints, indexes=indexes)


def _named(kind: str, expected: dict[str, str], restored: dict[str, str]) -> list[str]:
    missing = sorted(set(expected) - set(restored))
    problems = [f"{kind} {name}: in the source, missing from the restore" for name in missing]
    problems += [f"{kind} {name}: restored, not in the source" for name in sorted(set(restored) - set(expected))]
    problems += [
        f"{kind} {name}: restored as {restored[name]!r}, the source has {expected[name]!r}"
        for name in sorted(set(expected) & set(restored))
        if expected[name] != restored[name]
    ]
    return problems


def compare(expected: Fingerprint, restored: Fingerprint) -> list[str]:
    """What differs, one line each; empty when the restore holds what the source did."""
    problems = []
    for name in sorted(set(expected.tables) | set(restored.tables)):
        source, copy = expected.tables.get(name), restored.tables.get(name)
        if copy is None:
            problems.append(f"{name}: in the source ({source.rows} rows), missing from the restore")
        elif source is None:
            problems.append(f"{name}: not in the manifest")
        elif copy.rows != source.rows:
            problems.append(f"{name}: {copy.rows} rows restored, manifest says {source.rows}")
        elif copy.digest != source.digest:
            problems.append(f"{name}: its {copy.rows} rows differ in content from the source's snapshot")
        if source and copy and copy.columns != source.columns:
            problems.append(f"{name}: restored with columns {copy.columns}, the source has {source.columns}")
    problems += _named("constraint", expected.constraints, restored.constraints)
    problems += _named("index", expected.indexes, restored.indexes)
    return problems


def compare_counts(expected: dict[str, int], restored: Fingerprint) -> list[str]:
    """For a manifest from before fingerprints (row counts only)."""
    counts = restored.row_counts
    problems = [
        f"{table}: {counts.get(table)} rows restored, manifest says {count}"
        for table, count in sorted(expected.items())
        if counts.get(table) != count
    ]
    return problems + [f"{table}: not in the manifest" for table in sorted(set(counts) - set(expected))]
