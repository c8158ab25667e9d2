"""The restore drill's own PostgreSQL: a throwaway cluster inside the runner, never the live server.

A drill restores a whole copy of the database. Done on the server it protects, that copy lands on
the live volume; a volume without that much room fills up, the application's writes fail and
PostgreSQL may stop. So the drill makes a cluster of its own in its work directory (DRILL_DIR,
default the temporary directory), on a Unix socket there and no TCP port, restores into it,
compares, and stops it; the directory goes with the drill. It first checks that the directory
has room for the dump, the database as large as it was when backed up, and ROOM_OVERHEAD for the
cluster itself, and stops before fetching anything when it has not.

The cluster is run for speed, not durability (no fsync, minimal WAL, no autovacuum): a crash
means drilling again. PostgreSQL refuses to run as root, so as root the cluster runs as an
unprivileged user (`postgres` when there is one, else `nobody`). The postmaster is told to quit
when the runner dies (PR_SET_PDEATHSIG), and a cluster a killed drill left anyway is stopped by
the next drill's cleanup (`stop_abandoned`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from components.errors import DrillStopped

BIN_VARIABLE = "DRILL_PG_BIN"  # a directory with initdb and postgres, instead of the search below
PG_LIB = Path("/usr/lib/postgresql")  # Debian's layout: /usr/lib/postgresql/<major>/bin
ROOM_OVERHEAD = 256 << 20  # the cluster (about 40 MiB), its WAL (max_wal_size) and some slack
SUPERUSER = "mvs_drill"
START_TIMEOUT_SECONDS = 60.0
CLUSTER_DIR = "cluster"
SETTINGS = {
    "listen_addresses": "",  # the socket in its own directory only
    "port": "5432",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "64MB",  # WAL stays small, so the room check holds
    "min_wal_size": "32MB",
    "autovacuum": "off",
    "dynamic_shared_memory_type": "mmap",  # a container's /dev/shm is often 64 MiB
    "shared_buffers": "32MB",
    "maintenance_work_mem": "256MB",
    "max_connections": "20",
}
_PR_SET_PDEATHSIG = 1


def _mib(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MiB"


def required_room(dump_bytes: int, database_bytes: int | None) -> int:
    """What a drill of a dump needs: the dump itself, the restored database (as large as the source
    was when backed up; four times the dump for manifests that did not record it) and overhead."""
    restored = database_bytes if database_bytes is not None else 4 * dump_bytes
    return dump_bytes + restored + ROOM_OVERHEAD


def check_room(directory: Path, dump_bytes: int, database_bytes: int | None) -> None:
    need, free = required_room(dump_bytes, database_bytes), shutil.disk_usage(directory).free
    if free < need:
        raise DrillStopped(
            f"not enough room for the drill in {directory}: {_mib(free)} free, it needs about {_mib(need)} (the dump, "
            f"the database as large as it was when backed up, and {_mib(ROOM_OVERHEAD)} for the drill's own server); "
            "point DRILL_DIR at a larger disk. Nothing was written to the live server"
        )


def _major(binaries: Path) -> int | None:
    try:
        out = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    match = re.search(r"\(PostgreSQL\) (\d+)", out.stdout)
    return int(match[1]) if match else None


def find_binaries(needed_major: int, environ: Mapping[str, str] | None = None) -> Path:
    """A directory with initdb and postgres of `needed_major` or newer (a dump restores into its
    own major or a later one): DRILL_PG_BIN, else the newest of /usr/lib/postgresql/*/bin."""
    environ = os.environ if environ is None else environ
    if explicit := environ.get(BIN_VARIABLE, "").strip():
        candidates = [Path(explicit)]
    else:
        found = [path for path in PG_LIB.glob("*/bin") if path.parent.name.isdigit()]
        candidates = sorted(found, key=lambda path: int(path.parent.name), reverse=True)
    for binaries in candidates:
        if (binaries / "initdb").exists() and (major := _major(binaries)) and major >= needed_major:
            return binaries
    where = explicit or f"{PG_LIB}/*/bin"
    raise DrillStopped(
        f"the drill needs PostgreSQL {needed_major} (or newer) server binaries, initdb and postgres, and found none "
        f"in {where}; run the drill in the runner image (backup_runner/Dockerfile carries them) or set {BIN_VARIABLE}"
    )


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Whom the cluster runs as: this process's user, or when that is root an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise DrillStopped("the drill runs as root and found no unprivileged user (postgres, nobody) to run its server as")


def _quit_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


class DrillServer:
    """`with DrillServer(work_dir, binaries) as server:` a running cluster; `server.conninfo(db)`."""

    def __init__(self, work_dir: Path, binaries: Path):
        self.base = work_dir / CLUSTER_DIR
        self.data = self.base / "data"
        self.binaries = binaries
        self.user = _unprivileged_user()
        self.process: subprocess.Popen | None = None

    def _as_user(self) -> dict:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def conninfo(self, database: str = "postgres") -> str:
        return make_conninfo(host=str(self.base), port=SETTINGS["port"], user=SUPERUSER, dbname=database)

    def _check_reachable(self) -> None:
        """As root, the cluster runs as another user, who must be able to pass every directory above it."""
        user = self.user
        for directory in self.base.parent.parents:
            info = directory.stat()
            if info.st_uid == user.pw_uid:
                allowed = info.st_mode & 0o100
            elif info.st_gid == user.pw_gid:
                allowed = info.st_mode & 0o010
            else:
                allowed = info.st_mode & 0o001
            if not allowed:
                raise DrillStopped(
                    f"the drill runs its own PostgreSQL as {user.pw_name} (PostgreSQL refuses root), who cannot enter "
                    f"{directory}; point DRILL_DIR at a directory that user can reach, such as /tmp"
                )

    def __enter__(self) -> DrillServer:
        if self.user is not None:
            self._check_reachable()
        self.base.mkdir()
        if self.user is not None:
            os.chmod(self.base.parent, 0o711)  # the work directory: passable, not readable
            os.chown(self.base, self.user.pw_uid, self.user.pw_gid)
        initdb = [str(self.binaries / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync"]
        initdb += ["--encoding=UTF8", "--locale=C"]
        made = subprocess.run(initdb, capture_output=True, text=True, **self._as_user())
        if made.returncode != 0:
            last = (made.stderr.strip().splitlines() or ["no output"])[-1]
            raise DrillStopped(f"the drill could not make its own PostgreSQL: initdb exited {made.returncode}: {last}")
        command = [str(self.binaries / "postgres"), "-D", str(self.data), "-k", str(self.base)]
        for name, value in SETTINGS.items():
            command += ["-c", f"{name}={value}"]
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, preexec_fn=_quit_with_parent, **self._as_user()
        )
        log.close()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise DrillStopped(f"the drill's own PostgreSQL did not start: {self.log_tail()}")
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise DrillStopped(
                        f"the drill's own PostgreSQL did not accept connections within {START_TIMEOUT_SECONDS:.0f}s: "
                        f"{self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.base / "server.log").read_text(errors="replace").strip().splitlines()
            return lines[-1] if lines else "its log is empty"
        return "no log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT): nothing in it is worth a checkpoint."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def stop_abandoned(work_dir: Path) -> None:
    """Stop the cluster a killed drill left running in its work directory, if it is still there."""
    pid_file = work_dir / CLUSTER_DIR / "data" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGQUIT)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.05)
