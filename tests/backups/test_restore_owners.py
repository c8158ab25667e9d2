"""After `restore --force` the application still works (issue 22, point 6): the restored objects
have the owners (and grants) they had, or the target database's owner when those roles are not
on this server, so an app that connects with its own role is not locked out of its tables."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from backup_runner import operations, postgres

from .conftest import execute, quiet


@pytest.fixture
def app_database(pg_server):
    """A database owned by a login role `app_*` that made its own tables, and a read-only role with
    a grant; the runner works as the superuser, as on Railway. Yields (admin url, app url, names)."""
    suffix = uuid.uuid4().hex[:8]
    app, reader, name = f"app_{suffix}", f"reader_{suffix}", f"appdb_{suffix}"
    execute(pg_server, f"CREATE ROLE {app} LOGIN PASSWORD 'app-pw-{suffix}'", f"CREATE ROLE {reader} NOLOGIN")
    postgres.create_database(pg_server, name, owner=app)
    admin = postgres.with_database(pg_server, name)
    as_app = (
        f"postgresql://{app}:app-pw-{suffix}@127.0.0.1:{psycopg.conninfo.conninfo_to_dict(pg_server)['port']}/{name}"
    )
    execute(
        as_app,
        "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)",
        "INSERT INTO notes (body) VALUES ('first'), ('second')",
        f"GRANT SELECT ON notes TO {reader}",
    )
    yield admin, as_app, {"app": app, "reader": reader, "database": name}
    postgres.drop_database(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for (leftover,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{name}%",)):
            conn.execute(f'DROP DATABASE "{leftover}" WITH (FORCE)')
        conn.execute(f"DROP ROLE IF EXISTS {reader}")
        conn.execute(f"DROP ROLE IF EXISTS {app}")


def owners(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'S')"
        ).fetchall()
    return dict(rows)


def test_after_force_restore_the_app_role_still_owns_and_uses_its_tables(app_database, destination):
    admin, as_app, names = app_database
    manifest = operations.run_backup(admin, destination, quiet)
    execute(as_app, "INSERT INTO notes (body) VALUES ('after the backup')")
    messages: list[str] = []

    restored = operations.restore(admin, destination, names["database"], force=True, progress=messages.append)

    assert restored.manifest.backup_id == manifest.backup_id
    assert set(owners(admin).values()) == {names["app"]}, "tables and sequences keep their owner"
    assert any("objects keep their owners and grants" in m for m in messages)
    with psycopg.connect(as_app, autocommit=True) as conn:  # the app, logging in as itself
        assert [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")] == ["first", "second"]
        conn.execute("INSERT INTO notes (body) VALUES ('written after the restore')")
    with psycopg.connect(admin) as conn:
        granted = conn.execute("SELECT has_table_privilege(%s, 'notes', 'SELECT')", (names["reader"],)).fetchone()[0]
    assert granted, "the read-only role's grant came back too"
    postgres.drop_database(admin, restored.kept_as)


def test_when_the_dumps_owner_is_gone_the_target_databases_owner_gets_the_objects(app_database, destination, pg_server):
    admin, as_app, names = app_database
    gone = f"gone_{uuid.uuid4().hex[:8]}"
    execute(pg_server, f"CREATE ROLE {gone} NOLOGIN")
    execute(admin, "CREATE TABLE audit (at timestamptz)", f"ALTER TABLE audit OWNER TO {gone}")
    operations.run_backup(admin, destination, quiet)
    execute(admin, "DROP TABLE audit")
    execute(pg_server, f"DROP ROLE {gone}")  # the dump names an owner this server no longer has
    messages: list[str] = []

    restored = operations.restore(admin, destination, names["database"], force=True, progress=messages.append)

    assert set(owners(admin).values()) == {names["app"]}, "everything goes to the database's owner"
    said = f"objects are owned by {names['app']}, the database's owner (the dump's owners {gone} "
    assert any(said in m for m in messages), messages
    with psycopg.connect(as_app, autocommit=True) as conn:
        conn.execute("INSERT INTO notes (body) VALUES ('still mine')")
        conn.execute("INSERT INTO audit VALUES (now())")
    postgres.drop_database(admin, restored.kept_as)
