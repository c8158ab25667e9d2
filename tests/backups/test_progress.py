"""Long runs show where they are: the runner passes on pg_dump's and pg_restore's per-table lines
as progress, and a failing tool's own words reach the error."""

from __future__ import annotations

import pytest
from psycopg.conninfo import make_conninfo

from backup_runner import operations, postgres
from components.errors import ToolError

from .conftest import seed
from .pgserver import SUPERUSER_PASSWORD

TABLES = ("public.orders", "public.users")


def test_backup_and_restore_report_each_table_as_they_reach_it(database, destination):
    seed(database)
    backup_lines: list[str] = []
    operations.run_backup(database, destination, backup_lines.append)
    for table in TABLES:
        schema, name = table.split(".")
        assert any(f'dumping contents of table "{schema}.{name}"' in line for line in backup_lines), backup_lines

    restore_lines: list[str] = []
    target = operations.restore(database, destination, progress=restore_lines.append).target
    for table in TABLES:
        schema, name = table.split(".")
        assert any("processing data for table" in line and f"{schema}.{name}" in line for line in restore_lines), (
            restore_lines
        )
    assert any("creating INDEX" in line and "orders_user" in line for line in restore_lines)
    assert restore_lines[-1].startswith("restore ") and target in restore_lines[-1]
    postgres.drop_database(database, target)


def test_a_failing_tool_names_itself_and_shows_its_error_not_the_connection(pg_server):
    missing = make_conninfo(postgres.with_database(pg_server, "no_such_database"))
    progress: list[str] = []
    with pytest.raises(ToolError) as failure:
        postgres.ToolRun(["pg_dump", "-Fc", "--verbose", "-d", missing], progress.append).finish()
    message = str(failure.value)
    assert message.startswith("`pg_dump -Fc --verbose -d [connection]` exited with code 1")
    assert 'database "no_such_database" does not exist' in message
    assert SUPERUSER_PASSWORD not in message and progress == []
