"""The two judgements the rules lean on: how long a cron schedule can leave between runs, and what
looks like a secret."""

from __future__ import annotations

from datetime import timedelta

import pytest

from policies.schedules import NEVER, describe, longest_gap
from policies.secret_shapes import is_reference, looks_secret_by_name, secret_value_kind


@pytest.mark.parametrize(
    ("schedule", "gap"),
    [
        ("0 */6 * * *", "6 h"),
        ("15 3 * * *", "24 h"),
        ("0 3 * * 1-5", "3 days"),  # five runs a week, and still three days without one
        ("45 4 * * 0", "7 days"),
        ("0 0 1 * *", "31 days"),
        ("0 0 29 2 *", "1461 days"),
        ("*/5 * * * *", "5 min"),
    ],
)
def test_the_longest_gap_of_a_schedule(schedule, gap):
    assert describe(longest_gap(schedule)) == gap


def test_a_schedule_that_never_fires_has_no_end_to_its_gap():
    assert longest_gap("0 0 31 2 *") == NEVER
    assert describe(NEVER) == "never"
    assert longest_gap("0 0 31 2 *") > timedelta(days=10_000)


@pytest.mark.parametrize("name", ["SESSION_SECRET", "API_KEY", "APIKEY", "DB_PWD", "AWS_ACCESS_KEY_ID", "GH_TOKEN"])
def test_names_that_look_secret(name):
    assert looks_secret_by_name(name)


@pytest.mark.parametrize("name", ["PORT", "NODE_ENV", "AUTHOR", "DATABASE_URL", "PGDATA", "KEYBOARD_LAYOUT"])
def test_names_that_do_not(name):
    assert not looks_secret_by_name(name)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("AKIAABCDEFGHIJKLMNOP", "an AWS access key id"),
        ("ghp_" + "a1" * 18, "a GitHub token"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nabc", "a private key"),
        ("postgres://mvs:hunter2@db:5432/mvs", "a URL with a password in it"),
        ("Xy3_kQ9-zT2mN8pL4vR7wB1cF6hJ0sD5aE", "a long random string"),
        ("http://backend.railway.internal:3000", None),
        ("postgresql://${{POSTGRES_USER}}:${{POSTGRES_PASSWORD}}@${{RAILWAY_PRIVATE_DOMAIN}}:5432/db", None),
        ("s3://mvs-backups/prod", None),
        ("/var/lib/postgresql/data/pgdata", None),
        ("the-quick-brown-fox-jumps-over-the-lazy-dog", None),
    ],
)
def test_values_that_look_secret_say_why(value, kind):
    assert secret_value_kind(value) == kind


def test_only_a_value_made_of_references_is_a_reference():
    assert is_reference("${{Postgres.DATABASE_URL}}")
    assert is_reference("${{shared.API_TOKEN}} ")
    assert not is_reference("prefix-${{shared.API_TOKEN}}")
    assert not is_reference("hunter2")
