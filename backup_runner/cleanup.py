"""Work that interrupted runs leave behind, and how the next run tells it from live work.

- In the destination: partial files, unfinished multipart uploads, and dumps whose manifest was
  never written. A failing run removes its own; a killed one cannot, so the next `run` or `prune`
  discards those nothing has touched for ABANDONED_AFTER (a live run keeps writing, or finishes
  its manifest within moments of its dump).
- On the database server: the drill's scratch databases and restore's staging databases (see
  postgres.claimed / drop_orphans).
- On local disk: the directories restore and verify fetch dumps into (and where a drill runs its
  own PostgreSQL). Each is locked (flock) by the process using it; one that can be locked belongs
  to nobody: the drill's server in it, if one is left running, is stopped, and it is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .catalog import INCOMPLETE, Catalog
from .destinations import Destination
from .drill_server import stop_abandoned

ABANDONED_AFTER = timedelta(hours=1)
WORK_DIR_PREFIX = "mvs-restore-"
LOCK_NAME = ".in-use"


def abandoned(catalog: Catalog, now: datetime | None = None) -> tuple[list, list]:
    """(incomplete backups, leftovers) untouched for ABANDONED_AFTER."""
    cutoff = (now or datetime.now(UTC)) - ABANDONED_AFTER
    backups = [b for b in catalog.in_state(INCOMPLETE) if b.dump is None or b.dump.modified < cutoff]
    leftovers = [leftover for leftover in catalog.leftovers if leftover.last_activity < cutoff]
    return backups, leftovers


def discard_abandoned(
    destination: Destination, catalog: Catalog, now: datetime | None = None, dry_run: bool = False
) -> list[str]:
    """Remove what interrupted runs left (or, dry, only say it); returns it as `list` names it."""
    backups, leftovers = abandoned(catalog, now)
    if not dry_run:
        for backup in backups:
            for key in backup.keys:
                destination.delete(key)
        for leftover in leftovers:
            destination.discard(leftover)
    return [f"incomplete backup {backup.backup_id}" for backup in backups] + [left.what for left in leftovers]


@contextlib.contextmanager
def work_directory(parent: Path | None = None) -> Iterator[Path]:
    """A temporary directory (in `parent`, default the temporary directory), locked for as long as
    this process uses it."""
    path = Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX, dir=parent))
    try:
        with (path / LOCK_NAME).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_orphaned_work_directories(parent: Path | None = None) -> list[str]:
    """Remove the work directories of restores and drills whose process is gone."""
    removed = []
    settled = time.time() - 60  # not one that a live process has only just made (its lock may follow)
    for path in Path(parent or tempfile.gettempdir()).glob(f"{WORK_DIR_PREFIX}*"):
        try:
            if path.stat().st_mtime > settled:
                continue
            with (path / LOCK_NAME).open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stop_abandoned(path)
                shutil.rmtree(path, ignore_errors=True)
                removed.append(str(path))
        except BlockingIOError:
            continue  # a live restore or drill holds it
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue  # gone meanwhile, or not ours to touch
    return removed
