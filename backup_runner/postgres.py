"""PostgreSQL as the runner needs it: one consistent snapshot, row counts, databases, amcheck.

The dump and the row counts come from the same exported snapshot, so a backup taken while the
database is being written still has a manifest that matches its dump exactly.
"""

from __future__ import annotations

import collections
import contextlib
import re
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from components.errors import ToolError

MAINTENANCE_DB = "postgres"
# What pg_dump and pg_restore say per table with --verbose; everything else is kept for errors.
PROGRESS_LINE = re.compile(r"dumping contents of table|processing data for table|creating (INDEX|CONSTRAINT)")
TOOL_TAIL_LINES = 40


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
    counted while pg_dump streams the same snapshot)."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        try:
            return row_counts(conn)
        finally:
            conn.rollback()


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


def row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Exact counts, in the connection's transaction. Without parallel workers: counting runs
    beside pg_dump (or amcheck), which already keep the cores busy, and workers only add overhead."""
    conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
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


def disable_autovacuum(url: str, database: str) -> None:
    """Autovacuum off on every table and materialized view (and their TOAST) of `database`."""
    with psycopg.connect(with_database(url, database), autocommit=True) as conn:
        relations = conn.execute(
            """
            SELECT CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, n.nspname, c.relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
            """
        ).fetchall()
        for kind, schema, name in relations:
            statement = "ALTER {} {}.{} SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"
            conn.execute(sql.SQL(statement).format(sql.SQL(kind), sql.Identifier(schema), sql.Identifier(name)))


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


class ToolRun:
    """One pg_dump or pg_restore run, started with --verbose. Its stderr is read as it comes, on a
    thread of its own: the per-table lines become progress (a long run shows where it is), the
    pipe never fills, and a failure names the command (connection hidden) with its last lines."""

    def __init__(self, command: Sequence[str], progress: Callable[[str], None], **popen: Any):
        self.command = list(command)
        self.process = subprocess.Popen(self.command, stderr=subprocess.PIPE, **popen)
        self._tail: collections.deque[str] = collections.deque(maxlen=TOOL_TAIL_LINES)
        self._reader = threading.Thread(target=self._read, args=(progress,), daemon=True)
        self._reader.start()

    def _read(self, progress: Callable[[str], None]) -> None:
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            if PROGRESS_LINE.search(line):
                progress(line)
            else:
                self._tail.append(line)

    def finish(self) -> None:
        """Wait for the tool; raise ToolError if it failed."""
        code = self.process.wait()
        self._reader.join()
        self.process.stderr.close()
        if code != 0:
            shown = ["[connection]" if ("=" in a and " " in a) or "://" in a else a for a in self.command]
            raise ToolError(shown, code, "\n".join(self._tail))
