"""A Pulumi provider host ends once its engine has gone, from its very start (tools/setup installs
tools/provider_host_watch.py into the venv): a `pulumi` killed with SIGKILL leaves no host waiting."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("provider_host_watch", ROOT / "tools" / "provider_host_watch.py")
watch = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(watch)


@pytest.mark.parametrize(
    "argv, address",
    [
        (["/venv/bin/python", "-u", "-m", "pulumi.dynamic", "127.0.0.1:40123"], ("127.0.0.1", 40123)),
        (["python", "-m", "pulumi.dynamic", "[::1]:5"], ("::1", 5)),
        (["python", "-m", "pytest", "127.0.0.1:40123"], None),  # any other process: nothing to watch
        (["python", "-c", "pass"], None),
        (["python", "-m"], None),
    ],
)
def test_only_a_dynamic_provider_host_is_watched(argv, address):
    assert watch.engine_address(argv) == address


@pytest.mark.slow
def test_a_host_whose_engine_is_gone_ends_though_nothing_ever_called_it():
    with socket.socket() as probe:  # a port nothing listens on: an engine that was killed
        probe.bind(("127.0.0.1", 0))
        gone = probe.getsockname()[1]
    host = subprocess.Popen(
        [str(ROOT / "venv" / "bin" / "python"), "-u", "-m", "pulumi.dynamic", f"127.0.0.1:{gone}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert host.stdout.readline().strip().isdigit()  # it started: it printed its own port
        assert host.wait(timeout=60) == 0
    finally:
        if host.poll() is None:
            host.kill()
