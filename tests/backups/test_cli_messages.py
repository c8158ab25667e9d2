"""Messages, not tracebacks (issue 8, points 7 and 8): every failure of every command ends with
one line saying what failed and what to do, with the documented exit code; no password or key
is printed or visible in the process list; the scheduler logs what each prune deleted."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from psycopg.conninfo import make_conninfo

from backup_runner import cli
from backup_runner.destinations import DirectoryDestination
from backup_runner.schedule import Job, run_schedule
from backup_runner.settings import read_settings

from .conftest import quiet, run_cli, seed
from .pgserver import SUPERUSER_PASSWORD
from .standins import tool_calls

AWS_SECRET = "aws-Secret-Key-Never-Shown"
ENDPOINT_SECRET = "Endpoint-Secret-77"


def failure_cases(database: str, tmp_path, s3_endpoint: str) -> dict[str, tuple[list[str], dict, int, str]]:
    """name: (arguments, environment, exit code, how the last line starts after `backup-runner: `)."""
    backups = str(tmp_path / "backups")
    ok = {"DATABASE_URL": database, "BACKUP_DESTINATION": backups}
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    closed_port = make_conninfo(database, port="1", connect_timeout="3")
    return {
        "retention not a number": (["prune"], {**ok, "RETAIN_DAILY": "abc"}, 2, "RETAIN_DAILY: found 'abc'"),
        "retention negative": (["prune"], {**ok, "RETAIN_WEEKLY": "-1"}, 2, "RETAIN_WEEKLY: found '-1'"),
        "retention out of range": (
            ["prune"],
            {**ok, "RETAIN_DAILY": "400"},
            2,
            "RETAIN_DAILY: found 400; allowed: a whole number from 0 to 366",
        ),
        "retention huge": (
            ["prune"],
            {**ok, "RETAIN_MONTHLY": "9" * 5000},
            2,
            "RETAIN_MONTHLY: found a number of 5000 digits; allowed: a whole number from 0 to 1200",
        ),
        "retention in other digits": (["prune"], {**ok, "RETAIN_WEEKLY": "\u0663"}, 2, "RETAIN_WEEKLY: found '\u0663'"),
        "retention superscript": (["prune"], {**ok, "RETAIN_DAILY": "\u00b2"}, 2, "RETAIN_DAILY: found '\u00b2'"),
        "bucket timeout huge": (
            ["list"],
            {**ok, "BACKUP_DESTINATION": "s3://bucket/x", "BACKUP_S3_TIMEOUT_SECONDS": "1e300"},
            2,
            "BACKUP_S3_TIMEOUT_SECONDS: found '1e300'; allowed: a number of seconds above 0 and at most 3600",
        ),
        "attempts not a number": (
            ["list"],
            {**ok, "AWS_MAX_ATTEMPTS": "many"},
            2,
            "AWS_MAX_ATTEMPTS: found 'many'; allowed: a whole number from 1 to 20",
        ),
        "drill dir missing": (
            ["verify"],
            {**ok, "DRILL_DIR": str(tmp_path / "nowhere")},
            2,
            "DRILL_DIR: found",
        ),
        "credentials in the endpoint": (
            ["list"],
            {
                **ok,
                "BACKUP_DESTINATION": "s3://bucket/prod",
                "AWS_ENDPOINT_URL": f"http://endpoint-user:{ENDPOINT_SECRET}@127.0.0.1:1",
                "AWS_MAX_ATTEMPTS": "1",
                "BACKUP_S3_TIMEOUT_SECONDS": "3",
            },
            5,
            "could not reach the backup bucket",
        ),
        "no destination": (["run"], {**ok, "BACKUP_DESTINATION": ""}, 2, "BACKUP_DESTINATION is not set"),
        "unknown scheme": (
            ["list"],
            {**ok, "BACKUP_DESTINATION": "ftp://host/x"},
            2,
            "BACKUP_DESTINATION: found a ftp",
        ),
        "keys in the destination": (
            ["list"],
            {**ok, "BACKUP_DESTINATION": f"s3://AKIAEXAMPLE:{AWS_SECRET}@bucket/prod"},
            2,
            "BACKUP_DESTINATION: found keys inside the URL",
        ),
        "no database url": (["run"], {**ok, "DATABASE_URL": ""}, 2, "DATABASE_URL is not set"),
        "database url unparsable": (
            ["verify"],
            {**ok, "DATABASE_URL": "host=x password='oops"},
            2,
            "DATABASE_URL cannot",
        ),
        "wrong password": (
            ["run"],
            {**ok, "DATABASE_URL": make_conninfo(database, password="Wrong-Password-9")},
            5,
            "run could not use the database",
        ),
        "server down": (["run"], {**ok, "DATABASE_URL": closed_port}, 5, "run could not use the database"),
        "no such database": (
            ["run"],
            {**ok, "DATABASE_URL": make_conninfo(database, dbname="missing_db")},
            5,
            'run could not use the database: connection failed: connection to server at "127.0.0.1"',
        ),
        "drill with nothing to restore": (
            ["verify"],
            ok,
            5,
            "verify stopped before it could judge the backup: nothing to drill: no restorable backup",
        ),
        "nothing to restore": (["restore"], ok, 5, "restore failed: no restorable backup"),
        "unknown backup": (["restore", "--backup", "20260101T000000Z"], ok, 5, "restore failed: no backup"),
        "destination is a file": (["list"], {**ok, "BACKUP_DESTINATION": str(a_file)}, 5, "list failed: File exists"),
        "bucket unreachable": (
            ["list"],
            {
                **ok,
                "BACKUP_DESTINATION": "s3://mvs/prod",
                "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                "AWS_MAX_ATTEMPTS": "1",
            },
            5,
            "could not reach the backup bucket",
        ),
        "no such bucket": (
            ["list"],
            {**ok, "BACKUP_DESTINATION": "s3://no-such-bucket-mvs/prod", "AWS_ENDPOINT_URL": s3_endpoint},
            5,
            "the backup bucket refused ListObjectsV2: NoSuchBucket",
        ),
    }


CASES = [
    "retention not a number",
    "retention negative",
    "retention out of range",
    "retention huge",
    "retention in other digits",
    "retention superscript",
    "bucket timeout huge",
    "attempts not a number",
    "drill dir missing",
    "credentials in the endpoint",
    "no destination",
    "unknown scheme",
    "keys in the destination",
    "no database url",
    "database url unparsable",
    "wrong password",
    "server down",
    "no such database",
    "drill with nothing to restore",
    "nothing to restore",
    "unknown backup",
    "destination is a file",
    "bucket unreachable",
    "no such bucket",
]


@pytest.mark.parametrize("case", CASES)
def test_every_failure_ends_in_one_line_with_its_exit_code(case, database, tmp_path, s3_env, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    arguments, env, exit_code, starts = failure_cases(database, tmp_path, s3_env)[case]
    result = run_cli(*arguments, env=env, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output
    assert result.stderr.strip().splitlines()[-1].startswith(f"backup-runner: {starts}"), result.stderr
    assert "Traceback" not in output
    assert "this is a bug" not in output
    for secret in (SUPERUSER_PASSWORD, AWS_SECRET, "Wrong-Password-9", ENDPOINT_SECRET, "endpoint-user"):
        assert secret not in output


def test_the_list_of_failure_cases_is_complete(database, tmp_path, s3_endpoint):
    assert sorted(CASES) == sorted(failure_cases(database, tmp_path, s3_endpoint))


def test_passwords_reach_pg_dump_and_pg_restore_through_the_environment_only(database, tmp_path, fake_tools):
    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    for command in ("run", "verify", "restore"):
        result = run_cli(command, env=env)
        assert result.returncode == 0, result.stderr
    calls = tool_calls(fake_tools)
    assert {call["argv"][0].rsplit("/", 1)[-1] for call in calls} == {"pg_dump", "pg_restore"}
    live = [call for call in calls if any("host=127.0.0.1" in argument for argument in call["argv"])]
    drill = [call for call in calls if any("host=/" in argument for argument in call["argv"])]
    assert len(live) >= 2 and len(drill) == 1, "run and restore reach the live server, the drill its own"
    for call in calls:
        assert not any(SUPERUSER_PASSWORD in argument for argument in call["argv"]), call["argv"]
    for call in live:
        assert call["password_in_env"], "the server asks for the password: it came through PGPASSWORD"
    assert not drill[0]["password_in_env"], "the live server's password never reaches the drill"


def test_the_scheduler_logs_what_each_prune_deleted(database, tmp_path, capsys, monkeypatch):
    seed(database)
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("BACKUP_DESTINATION", str(tmp_path / "backups"))
    monkeypatch.setenv("RETAIN_DAILY", "1")
    monkeypatch.setenv("RETAIN_WEEKLY", "0")
    monkeypatch.setenv("RETAIN_MONTHLY", "0")
    settings = read_settings(needs_database=True)
    destination = DirectoryDestination(tmp_path / "backups")
    cli.backup_and_prune(settings, destination)
    first = capsys.readouterr().out
    assert "prune: deleted 0: -" in first
    first_id = first.split()[1].rstrip(":")
    cli.backup_and_prune(settings, destination)
    assert f"prune: deleted 1: {first_id}" in capsys.readouterr().out


def test_a_failed_scheduled_job_is_one_line_and_the_schedule_goes_on(tmp_path, capsys):
    def broken():
        raise RuntimeError("bucket gone")

    clock = itertools.chain(
        [datetime(2026, 11, 28, 3, 14, 59, tzinfo=UTC)], itertools.repeat(datetime(2026, 11, 28, 3, 15, tzinfo=UTC))
    )
    run_schedule(
        [Job("backup", "15 3 * * *", broken)],
        clock=lambda: next(clock),
        sleep=quiet,
        heartbeat=tmp_path / "beat",
        rounds=2,
    )
    out = capsys.readouterr()
    assert "backup-runner: backup failed: bucket gone" in out.out
    assert "Traceback" not in out.out + out.err


def test_a_damaged_last_drill_record_never_breaks_list_and_the_next_drill_rewrites_it(database, tmp_path):
    from components.last_drill import summary

    seed(database)
    env = {"DATABASE_URL": database, "BACKUP_DESTINATION": str(tmp_path / "backups")}
    assert run_cli("run", env=env).returncode == 0
    record = tmp_path / "backups" / "last-drill.json"
    for damage in (b"{not json", b"\xff\xfe\x00", b"[1, 2]"):
        record.write_bytes(damage)
        listed = run_cli("list", env=env)
        assert listed.returncode == 0, listed.stderr
        assert "last drill: unknown, last-drill.json cannot be read" in listed.stdout
        from backup_runner.drills import last_drill

        assert summary(last_drill(DirectoryDestination(tmp_path / "backups")), "here")["status"] == "unreadable"
    assert run_cli("verify", env=env).returncode == 0
    assert "passed" in run_cli("list", env=env).stdout.splitlines()[-1]
