"""`./mvs emulator` as a newcomer starts it: the lines it prints are enough to point ./mvs at it,
a taken port is one line, and the polling interval it recommends reaches the providers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.errors import SettingInvalid
from components.railway.client import RailwayClient, RailwayToken
from components.railway.providers.base import POLL_SECONDS_ENV, poll_seconds_setting

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "railway_emulator", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def exports_printed(process: subprocess.Popen) -> dict[str, str]:
    """The `export NAME=VALUE` lines of the greeting, read until its last line."""
    exports: dict[str, str] = {}
    for line in process.stdout:
        if line.strip().startswith("export "):
            name, value = line.strip().removeprefix("export ").split("=", 1)
            exports[name] = value
        if "nearly all of it waiting between reads" in line:
            return exports
    raise AssertionError(f"the emulator ended before its greeting: {process.stderr.read()}")


@pytest.mark.slow  # a server process
def test_the_printed_exports_reach_the_emulator_and_a_taken_port_is_one_line():
    first = start("--port", "0")
    try:
        exports = exports_printed(first)
        assert set(exports) == {"RAILWAY_API_ENDPOINT", "RAILWAY_API_TOKEN", POLL_SECONDS_ENV}
        client = RailwayClient(RailwayToken.from_env(exports), endpoint=exports["RAILWAY_API_ENDPOINT"])
        assert client.execute("me")["me"]["id"], "the printed token is the one it accepts"
        assert poll_seconds_setting(None, exports) == 0.1

        port = exports["RAILWAY_API_ENDPOINT"].split(":")[2].split("/")[0]
        second = start("--port", port)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert err.splitlines() == [
            f"error: port {port} on 127.0.0.1 is taken (another emulator still running?): stop that process, or "
            "start this one on another port with --port N (--port 0 picks a free one)"
        ]
    finally:
        first.terminate()
        first.wait(timeout=30)


@pytest.mark.parametrize(
    ("configured", "environ", "seconds"),
    [
        (None, {}, 2.0),
        (None, {POLL_SECONDS_ENV: "0.1"}, 0.1),
        ("0.5", {POLL_SECONDS_ENV: "0.1"}, 0.5),  # the stack's own setting wins
        (None, {POLL_SECONDS_ENV: ""}, 2.0),
        ("0", {}, 0.0),
    ],
)
def test_the_poll_interval_comes_from_the_stack_then_the_environment(configured, environ, seconds):
    assert poll_seconds_setting(configured, environ) == seconds


@pytest.mark.parametrize(
    ("configured", "environ", "named"),
    [(None, {POLL_SECONDS_ENV: "fast"}, POLL_SECONDS_ENV), ("-1", {}, "railway:pollSeconds"), ("9999", {}, "railway")],
)
def test_a_poll_interval_it_cannot_use_is_named(configured, environ, named):
    with pytest.raises(SettingInvalid, match=f"{named}.*between 0 and 600"):
        poll_seconds_setting(configured, environ)
