"""A real S3-compatible server on loopback (moto in server mode), for offline runs.

Rehearsals, tests and benchmarks give the stack's backup bucket one of these, so what reads or
writes the bucket (the runner, the `last_drill` output) talks S3 without reaching the internet.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

from components.errors import SettingInvalid


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def loopback_s3() -> Iterator[str]:
    """Yields the endpoint URL of a fresh server; it stops on exit. moto comes from
    requirements-rehearsal.txt, which `./mvs rehearse` installs; the main job does without it."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise SettingInvalid(
            "the rehearsal's S3 server (moto) is not installed: run it as `./mvs rehearse STACK`, whose setup "
            "installs requirements-rehearsal.txt (or: venv/bin/pip install -r requirements-rehearsal.txt)"
        ) from None

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it would log every request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def create_bucket(endpoint: str, bucket: str, keys: tuple[str, str]) -> None:
    """Make `bucket` unless it exists."""
    from backup_runner.destinations import S3Destination

    client = S3Destination(bucket, "", endpoint, credentials=keys).client
    if bucket not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=bucket)
