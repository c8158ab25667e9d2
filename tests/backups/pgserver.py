"""A throwaway PostgreSQL 15 server on a loopback port, for tests and benchmarks.

PostgreSQL comes from Debian's packages (/usr/lib/postgresql/15/bin, or MVS_PG_BIN); the server
is made with initdb in a temporary directory and stopped and removed afterwards. initdb refuses
to run as root, so as root it runs as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mvsctl.loopback_s3 import free_port

PG_BIN = Path(os.environ.get("MVS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


SUPERUSER_PASSWORD = "pg-Super-Secret-7"  # TCP logins need it (scram-sha-256), as on Railway


@contextlib.contextmanager
def running_postgres(fsync: bool = False, under: Path | None = None, settings: str = "") -> Iterator[str]:
    """Yields the URL of the new server's `postgres` database. Logins over TCP need the password,
    which the URL carries, so every test also proves that the password reaches the tools.
    `under`: the directory to make the server's files in (a small filesystem, say); `settings`:
    more `-c name=value` options."""
    assert (PG_BIN / "initdb").exists(), (
        f"PostgreSQL 15 server binaries not found in {PG_BIN} (apt-get install postgresql-15)"
    )
    # Not under pytest's tmp dirs: they are private to root, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="mvs-postgres-", dir=under))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    try:
        password_file = base / "password"
        password_file.write_text(SUPERUSER_PASSWORD)
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--no-sync"]
        initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"]
        subprocess.run(as_postgres_user(initdb), check=True, capture_output=True)
        port = free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if not fsync:
            options += " -c fsync=off"
        if settings:
            options += f" {settings}"
        subprocess.run(
            as_postgres_user(
                [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        try:
            yield f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                check=False,
                capture_output=True,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
