"""PostgreSQL as the runner needs it: one consistent snapshot, row counts, databases, amcheck.

The dump and the row counts come from the same exported snapshot, so a backup taken while the
database is being written still has a manifest that matches its dump exactly.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from components.errors import ToolError

from . import fingerprint
from .fingerprint import Fingerprint

MAINTENANCE_DB = "postgres"
NAME_LIMIT = 63  # PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes)
# Databases the runner makes for its own work; one whose maker is gone is dropped (drop_orphans).
WORK_PREFIXES = ("mvs_verify_", "mvs_restore_")
TERMINATE_WAIT_SECONDS = 30.0
# What pg_dump and pg_restore say per table with --verbose; everything else is kept for errors.
PROGRESS_LINE = re.compile(r"dumping contents of table|processing data for table|creating (INDEX|CONSTRAINT)")
TOOL_TAIL_LINES = 40


def connect(url: str, **kwargs: Any) -> psycopg.Connection:
    """A connection that speaks UTF-8 whatever the database's encoding: on a SQL_ASCII database
    (initdb under the C locale, as minimal images do) psycopg would otherwise hand back bytes, and
    a snapshot id or a table name as bytes breaks the dump."""
    return psycopg.connect(url, client_encoding="UTF8", **kwargs)


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database (a libpq conninfo string)."""
    return make_conninfo(url, dbname=database)


def database_of(url: str) -> str:
    return conninfo_to_dict(url).get("dbname") or "postgres"


def password_of(url: str) -> str | None:
    return conninfo_to_dict(url).get("password")


def for_tools(url: str) -> tuple[str, dict[str, str]]:
    """The conninfo for pg_dump/pg_restore without its password, and the environment that
    carries the password instead: nothing secret appears in the process list."""
    params = conninfo_to_dict(url)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    return make_conninfo(**params), env


@contextlib.contextmanager
def exported_snapshot(url: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """A read-only repeatable-read transaction and its exported snapshot id, held open."""
    with connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        try:
            yield snapshot, conn
        finally:
            conn.rollback()


def fingerprint_in_snapshot(url: str, snapshot: str) -> Fingerprint:
    """Content and schema as of an exported snapshot, from a connection of its own (so they can be
    taken while pg_dump streams the same snapshot)."""
    with connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        try:
            return fingerprint.take(conn)
        finally:
            conn.rollback()


def fingerprint_of(url: str, methods: dict[str, str] | None = None) -> Fingerprint:
    """Content and schema of a database nobody writes (the drill's restored copy), each table hashed
    as `methods` says (the manifest's)."""
    with connect(url) as conn, conn.transaction():
        return fingerprint.take(conn, methods)


def server_version(conn: psycopg.Connection) -> str:
    return conn.execute("SHOW server_version").fetchone()[0]


@dataclass
class Source:
    """What the manifest says of where a backup came from (no credentials)."""

    server: str
    system_identifier: str | None
    server_version: str
    encoding: str
    database_size_bytes: int
    roles: list[str]


def describe_source(url: str, conn: psycopg.Connection) -> Source:
    """In the snapshot's transaction: its database's size and encoding, the server's roles, and the
    cluster's identifier when this user may read it (pg_control_system is for superusers by default)."""
    params = conninfo_to_dict(url)
    server = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    identifier = None
    with contextlib.suppress(psycopg.Error), conn.transaction():  # a savepoint: a refusal leaves the snapshot
        identifier = str(conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()[0])
    size, encoding = conn.execute(
        "SELECT pg_database_size(current_database()), pg_encoding_to_char(encoding) FROM pg_database "
        "WHERE datname = current_database()"
    ).fetchone()
    roles = [name for (name,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")]
    return Source(server, identifier, server_version(conn), encoding, size, roles)


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


def _maintenance(url: str) -> psycopg.Connection:
    return connect(with_database(url, MAINTENANCE_DB), autocommit=True)


def database_exists(url: str, database: str) -> bool:
    with _maintenance(url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def database_is_empty(url: str, database: str) -> bool:
    """True when the database holds no tables of its own."""
    with connect(with_database(url, database)) as conn:
        return not row_counts(conn)


def create_database(url: str, database: str, owner: str | None = None, encoding: str | None = None) -> None:
    """`encoding`: the source's, on template0 with the C locale (which takes any encoding)."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database))
    if owner:
        statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
    if encoding:
        statement += sql.SQL(" TEMPLATE template0 ENCODING {} LOCALE 'C'").format(sql.Literal(encoding))
    with _maintenance(url) as conn:
        conn.execute(statement)


def owner_of(url: str, database: str) -> str | None:
    with _maintenance(url) as conn:
        query = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s"
        row = conn.execute(query, (database,)).fetchone()
        return row[0] if row else None


@dataclass
class Roles:
    """The roles of a server, as restore needs them to give objects their owners."""

    current: str
    superuser: bool
    existing: set[str]
    member_of: set[str]  # roles the current user may act as (SET ROLE, ALTER ... OWNER TO)


def roles(url: str) -> Roles:
    with _maintenance(url) as conn:
        current, superuser = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        rows = conn.execute("SELECT rolname, pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles").fetchall()
    return Roles(current, superuser, {name for name, _ in rows}, {name for name, member in rows if member})


def create_roles(url: str, names: Sequence[str]) -> None:
    """Roles the dump's policies and grants may name, without logins (the drill's own server)."""
    with _maintenance(url) as conn:
        existing = {name for (name,) in conn.execute("SELECT rolname FROM pg_roles")}
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))


def _work_lock_key(database: str) -> sql.Composable:
    return sql.SQL("hashtext({})").format(sql.Literal(f"mvs-backup-runner:{database}"))


@contextlib.contextmanager
def claimed(url: str, database: str) -> Iterator[None]:
    """Hold a session advisory lock named after a work database while it is in use, so that
    `drop_orphans` of another run can tell it from one whose run died (the lock goes with the
    session)."""
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("SELECT pg_advisory_lock({})").format(_work_lock_key(database)))
        yield


def drop_orphans(url: str) -> list[str]:
    """Drop work databases left by runs that were killed; those of live runs are left alone."""
    dropped = []
    with _maintenance(url) as conn:
        names = [
            name
            for (name,) in conn.execute("SELECT datname FROM pg_database ORDER BY 1").fetchall()
            if name.startswith(WORK_PREFIXES)
        ]
        for name in names:
            key = _work_lock_key(name)
            if conn.execute(sql.SQL("SELECT pg_try_advisory_lock({})").format(key)).fetchone()[0]:
                try:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                    dropped.append(name)
                finally:
                    conn.execute(sql.SQL("SELECT pg_advisory_unlock({})").format(key))
    return dropped


def rename_database(url: str, database: str, new_name: str) -> None:
    with _maintenance(url) as conn:
        rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
        conn.execute(rename.format(sql.Identifier(database), sql.Identifier(new_name)))


def sessions_on(url: str, database: str) -> int:
    with _maintenance(url) as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        return conn.execute(query, (database,)).fetchone()[0]


def swap_in(url: str, target: str, staged: str, keep_as: str) -> None:
    """Make `staged` the database called `target`, keeping the old one as `keep_as`: close the
    target to new sessions, end the ones it has, then rename both in one transaction. If the
    renames fail, the target is opened again as it was."""
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(target)))
        try:
            deadline = time.monotonic() + TERMINATE_WAIT_SECONDS
            while True:
                remaining = conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (target,),
                ).fetchone()[0]
                if not remaining or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            with conn.transaction():
                rename = "ALTER DATABASE {} RENAME TO {}"
                conn.execute(sql.SQL(rename).format(sql.Identifier(target), sql.Identifier(keep_as)))
                conn.execute(sql.SQL(rename).format(sql.Identifier(staged), sql.Identifier(target)))
        except BaseException:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(target)))
            raise
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(keep_as)))


def drop_database(url: str, database: str) -> None:
    with _maintenance(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def amcheck(url: str, database: str, heapallindexed: bool = False) -> list[str] | None:
    """B-tree index problems found by amcheck, or None when amcheck is not installed.
    `heapallindexed` also checks that every heap row is in its indexes (it reads whole tables)."""
    with connect(with_database(url, database), autocommit=True) as conn:
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
