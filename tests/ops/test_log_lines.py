"""How `./mvs logs` shows a line on every target: severity (sent, structured or read from the
words), --since, the time shown and colour only on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from components.errors import SettingInvalid
from mvsctl.everyday import log_lines

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("given", "message", "attributes", "expected"),
    [
        ("error", "anything", None, "error"),
        ("WARNING", "anything", None, "warn"),
        ("", "slow", {"level": "warn"}, "warn"),
        ("info", '{"level":"error","msg":"unhandled"}', None, "error"),  # an unparsed JSON line
        ("error", '{"level":"info","msg":"x"}', None, "error"),  # what Railway says, when not plain info
        ("info", "ERROR but Railway said info", None, "info"),  # words never overrule what was sent
        (None, '{"level":50,"msg":"pino error"}', None, "error"),
        (None, '{"level":30,"msg":"pino info"}', None, "info"),
        (None, '{"level":10}', None, "debug"),
        (None, "Error: connect ECONNREFUSED 127.0.0.1:5432", None, "error"),
        (None, "Traceback (most recent call last):", None, "error"),
        (None, "WARN deprecated flag", None, "warn"),
        (None, "GET /health 200", None, "info"),
        (None, "terrorist is not a word we match on", None, "info"),
        (None, '{"level": true}', None, "info"),
        (None, "{not json", None, "info"),
    ],
)
def test_severity(given, message, attributes, expected):
    assert log_lines.severity(given, message, attributes) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", NOW - timedelta(seconds=90)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("2026-12-07T09:30:00Z", datetime(2026, 12, 7, 9, 30, tzinfo=UTC)),
        ("2026-12-07T10:30:00+01:00", datetime(2026, 12, 7, 9, 30, tzinfo=UTC)),
        ("2026-12-07T09:30:00", datetime(2026, 12, 7, 9, 30, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_since_takes_a_duration_or_a_moment(text, expected):
    assert log_lines.parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "10", "5 minutes", "-1h", "2027-01-01T00:00:00Z"])
def test_since_refuses_anything_else_saying_what_it_takes(text):
    with pytest.raises(SettingInvalid, match="--since"):
        log_lines.parse_since(text, NOW)


def test_a_line_shows_its_time_to_the_millisecond_its_severity_and_its_source():
    line = log_lines.render("2026-12-07T09:30:00.123456789Z", "warn", "slow query", "backend", 8)
    assert line == "2026-12-07 09:30:00.123 WARN  backend  | slow query"
    assert log_lines.render("2026-12-07T09:30:00Z", "info", "x") == "2026-12-07 09:30:00.000 INFO  x"


def test_errors_and_warnings_are_coloured_only_when_asked():
    plain = log_lines.render("2026-12-07T09:30:00Z", "error", "boom")
    coloured = log_lines.render("2026-12-07T09:30:00Z", "error", "boom", colour=True)
    assert "\033[" not in plain and "\033[31m" in coloured and coloured.endswith("\033[0m")
    assert "\033[" not in log_lines.render("2026-12-07T09:30:00Z", "info", "fine", colour=True)


def test_colour_only_on_a_terminal_without_no_color():
    assert log_lines.use_colour(Terminal(), {"TERM": "xterm"})
    assert not log_lines.use_colour(io.StringIO(), {"TERM": "xterm"})
    assert not log_lines.use_colour(Terminal(), {"TERM": "xterm", "NO_COLOR": "1"})
    assert not log_lines.use_colour(Terminal(), {"TERM": "dumb"})
