"""PostgreSQL as the runner needs it: one consistent snapshot, row counts, databases, amcheck.

The dump and the row counts come from the same exported snapshot, so a backup taken while the
database is being written still has a manifest that matches its dump exactly.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Sequence

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from components.errors import ToolError

MAINTENANCE_DB = "postgres"


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (a libpq conninfo string)."""
    return make_conninfo(url, dbname=database)


def database_of(url: str) -> str:
    return conninfo_to_dict(url).get("dbname") or "postgres"


@contextlib.contextmanager
def exported_snapshot(url: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """A read-only repeatable-read transaction and its exported snapshot id, held open."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        try:
            yield snapshot, conn
        finally:
            conn.rollback()


def row_counts_in_snapshot(url: str, snapshot: str) -> dict[str, int]:
    """Row counts as of an exported snapshot, from a connection of its own (so they can be
    counted while pg_dump streams the same snapshot). Without parallel workers: pg_dump and its
    server process already keep two cores busy, and workers would only add their own overhead."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        try:
            return row_counts(conn)
        finally:
            conn.rollback()


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = conn.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
        ORDER BY 1, 2
        """
    ).fetchall()
    counts = {}
    for schema, table in tables:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        counts[f"{schema}.{table}"] = conn.execute(query).fetchone()[0]
    return counts


def row_counts_in_new_connection(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return row_counts(conn)


def _maintenance(url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(url, MAINTENANCE_DB), autocommit=True)


def database_exists(url: str, database: str) -> bool:
    with _maintenance(url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def database_is_empty(url: str, database: str) -> bool:
    """True when the database holds no tables of its own."""
    with psycopg.connect(with_database(url, database)) as conn:
        return not row_counts(conn)


def create_database(url: str, database: str) -> None:
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(url: str, database: str) -> None:
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def amcheck(url: str, database: str, heapallindexed: bool = False) -> list[str] | None:
    """B-tree index problems found by amcheck, or None when amcheck is not installed.
    `heapallindexed` also checks that every heap row is in its indexes (it reads whole tables)."""
    with psycopg.connect(with_database(url, database), autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        except psycopg.Error:
            return None
        indexes = conn.execute(
            """
            SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.amname = 'btree' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
            """
        ).fetchall()
        problems = []
        for (index,) in indexes:
            try:
                conn.execute("SELECT bt_index_check(%s::regclass, %s)", (index, heapallindexed))
            except psycopg.Error as error:
                problems.append(f"{index}: {error}".strip())
        return problems


def start_tool(command: Sequence[str], **kwargs) -> subprocess.Popen:
    """Start pg_dump or pg_restore; finish it with `finish_tool`."""
    return subprocess.Popen(list(command), stderr=subprocess.PIPE, **kwargs)


def finish_tool(process: subprocess.Popen, command: Sequence[str]) -> None:
    """Wait for the tool; a failure names the command with its connection string hidden."""
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.wait() != 0:
        shown = ["[connection]" if ("=" in a and " " in a) or "://" in a else a for a in command]
        raise ToolError(shown, process.returncode, stderr)
