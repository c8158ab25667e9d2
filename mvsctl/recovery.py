"""After an interrupted `up`: what it left (a lock, operations left pending) and how to recover.

A `pulumi up` that is killed leaves its stack locked (the file backend keeps a lock file naming
the process) and may leave operations pending: resources whose create or update was sent but
whose outcome never reached the state. `./mvs up` and `./mvs destroy` look for both first and
say which commands recover the stack; `./mvs recover STACK` runs them: it removes a lock whose
process is gone and clears pending creates with a refresh (the providers adopt what a lost create
made, so the next `up` makes nothing twice).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from components.errors import StackBusy

from .pulumi_cli import PROJECT_ROOT, pulumi


@dataclass
class Lock:
    path: Path
    pid: int
    hostname: str
    timestamp: str

    @property
    def alive(self) -> bool:
        """The process that holds it still runs (we can only tell on this machine)."""
        if self.hostname != socket.gethostname():
            return True  # another machine's: assume it runs
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        return f"locked by pid {self.pid} on {self.hostname} since {self.timestamp}"


@dataclass
class Interruption:
    stack: str
    locks: list[Lock] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # "creating staging-database", ...

    @property
    def running(self) -> list[Lock]:
        return [lock for lock in self.locks if lock.alive]

    @property
    def found(self) -> bool:
        return bool(self.locks or self.pending)

    def explain(self) -> str:
        if self.running:
            return (
                f"an update of {self.stack} is running ({self.running[0].describe()}); wait for it to finish, "
                "then run the command again"
            )
        parts = [lock.describe() for lock in self.locks] + [f"left pending: {p}" for p in self.pending]
        return (
            f"the last update of {self.stack} was interrupted ({'; '.join(parts)}). Recover it with "
            f"`./mvs recover {self.stack}`, then run `./mvs preview {self.stack}` and `./mvs up {self.stack}`"
        )


def backend_directory() -> Path | None:
    """Where a file backend keeps its state, or None for other backends."""
    url = urlparse(os.environ.get("PULUMI_BACKEND_URL", ""))
    return Path(unquote(url.path)) if url.scheme == "file" else None


def locks(stack: str, project: str = "mvs") -> list[Lock]:
    directory = backend_directory()
    if directory is None:
        return []
    found = []
    for path in sorted((directory / ".pulumi" / "locks" / "organization" / project / stack).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            found.append(Lock(path, int(data["pid"]), str(data["hostname"]), str(data.get("timestamp", "?"))))
        except (OSError, ValueError, KeyError):
            continue  # unreadable: pulumi itself will say so
    return found


def pending_operations(stack: str, project: Path = PROJECT_ROOT) -> list[str]:
    exported = json.loads(pulumi("stack", "export", "--stack", stack, project=project) or "{}")
    pending = (exported.get("deployment") or {}).get("pending_operations") or []
    return [f"{op.get('type', '?')} {op['resource']['urn'].rsplit('::', 1)[-1]}" for op in pending]


def interruption(stack: str, project: Path = PROJECT_ROOT) -> Interruption:
    return Interruption(stack, locks(stack), pending_operations(stack, project))


def recover(stack: str, project: Path = PROJECT_ROOT) -> list[str]:
    """Remove stale locks and clear pending creates. Returns what was done; raises nothing for a
    stack that needs nothing."""
    found = interruption(stack, project)
    if found.running:
        raise StackBusy(found.explain())
    done = []
    if found.locks:
        pulumi("cancel", "--yes", "--stack", stack, project=project)
        done += [f"removed the lock left by {lock.describe().removeprefix('locked by ')}" for lock in found.locks]
    if found.pending:
        pulumi("refresh", "--yes", "--skip-preview", "--clear-pending-creates", "--stack", stack, project=project)
        cleared = f"{len(found.pending)} pending operation(s): {', '.join(found.pending)}"
        done.append(f"refreshed the state and cleared {cleared}")
    return done
