"""Every error this project raises on purpose, in one place.

The hierarchy (callers catch the narrowest one they can act on):

    MvsError                    base of everything below
    ├── DeclarationError        a stack's declaration is invalid; carries every Problem at once
    ├── ToolError               an external command failed; carries the command, exit code, stderr
    ├── StackBusy               another update of the stack is still running
    ├── BackupError             a backup, restore or verification could not be done
    │   ├── BackupSettingsInvalid   the runner's settings (environment, arguments) are wrong
    │   ├── BackupCorrupt           a dump does not match its manifest (size or sha256)
    │   ├── BackupDestinationFull   the destination has no space left; the partial write was removed
    │   ├── BackupExists            a write would have replaced an object another run wrote
    │   └── RestoreRefused          restoring would destroy data, or names would not fit PostgreSQL
    ├── RailwayTokenMissing     no Railway token is configured; says which variables to set
    ├── RailwayProjectAmbiguous several existing projects could be the declared one; lists them
    ├── StackNotUp              a command needs what `up` records, and the stack has none yet
    ├── DockerUnavailable       no Docker engine answers where the dev stack expects one
    ├── DockerRefused           the Docker engine answered a request with an error
    ├── PortInUse               a port the dev stack publishes is taken by something else
    ├── UnknownService          the stack has no service by that name; lists the ones it has
    ├── ServiceNotDeployed      the service has no deployment to show or restart yet
    ├── RestartFailed           a restarted service crashed, or was not back in time
    ├── SettingInvalid          an environment variable `./mvs` reads holds what it cannot use
    └── RailwayError            a Railway API call failed; carries the operation, HTTP status, code
        ├── RailwayRequestInvalid   400: the document or its variables do not fit the schema
        ├── RailwayNotAuthorized    the token is unknown or may not touch this resource
        ├── RailwayNotFound         "<Type> not found"
        ├── RailwayRateLimited      429s outlasted the retries
        ├── RailwayUnavailable      5xx, timeouts or network errors outlasted the retries
        └── RailwayOutcomeUnknown   a write that is unsafe to repeat may or may not have happened

A DeclarationError is raised before any resource is registered or any API call is made, so
fixing the stack file and running again is always safe.
"""

from __future__ import annotations

from dataclasses import dataclass


class MvsError(Exception):
    """Base class for the project's own errors."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a declaration: where it is, what was there, what would be accepted."""

    file: str
    key: str
    found: str
    allowed: str

    def render(self) -> str:
        return f"{self.key}: found {self.found}; allowed: {self.allowed}"


FILE_KEY = "(file)"  # a Problem with the whole file, not one key in it


class DeclarationError(MvsError):
    """A stack declaration is invalid. The message lists every problem, not just the first."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("a DeclarationError needs at least one problem")
        self.problems = sorted(set(problems))
        files = sorted({p.file for p in self.problems})
        count = len(self.problems)
        if count == 1 and self.problems[0].key == FILE_KEY:  # the file itself: one line naming it
            problem = self.problems[0]
            super().__init__(f"{problem.file} cannot be read: found {problem.found}; allowed: {problem.allowed}")
            return
        lines = [
            f"Invalid declaration in {', '.join(files)} "
            f"({count} problem{'s' if count != 1 else ''}); nothing was changed:"
        ]
        lines += [f"  - {p.render()}" for p in self.problems]
        super().__init__("\n".join(lines))


class ToolError(MvsError):
    """An external command failed. Says which command, how it ended and what it printed."""

    def __init__(self, command: list[str], exit_code: int, stderr: str, hint: str = ""):
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr
        message = f"`{' '.join(command)}` exited with code {exit_code}"
        if stderr.strip():
            message += f":\n{stderr.strip()}"
        if hint:
            message += f"\n{hint}"
        super().__init__(message)


class StackBusy(MvsError):
    """An update of the stack is still running: nothing may be removed or started under it."""


class RailwayTokenMissing(MvsError):
    """No token to talk to Railway with."""


class RailwayProjectAmbiguous(MvsError):
    """More than one existing Railway project could be the one a stack declares (by name, or by a
    sibling stack's id): nothing is created, and the message lists them and the key that decides."""


class StackNotUp(MvsError):
    """The stack has no outputs: it was never brought up, or was destroyed. `./mvs up` makes them."""


class DockerUnavailable(MvsError):
    """No Docker engine answers at DOCKER_HOST: nothing was changed; start one and run again."""


class DockerRefused(MvsError):
    """The Docker engine refused a request (a volume still in use, a name taken): its explanation
    and what to do, in one line."""


class PortInUse(MvsError):
    """A host port the dev stack publishes on 127.0.0.1 is taken by another program. Found before
    anything is created; the message names the port and the declaration key that sets it."""


class ContainerUnhealthy(MvsError):
    """A container of the dev stack did not pass its health check in time, or stopped for good; the
    message quotes its last check and log lines (secret values cut out)."""


class UnknownService(MvsError):
    """A service name the stack does not have; the message lists the ones it has."""


class SettingInvalid(MvsError):
    """An environment variable `./mvs` reads (not the declaration) holds a value it cannot use; the
    message names the variable, what it holds and what is allowed. Raised before anything runs."""


class ServiceNotDeployed(MvsError):
    """The service exists but has never been deployed in this environment, so it has no logs and
    nothing to restart."""


class RestartFailed(MvsError):
    """A restart was sent and the service did not come back: it crashed, or was still starting
    when the wait ended. The message names the deployment and what to look at next."""


class RailwayError(MvsError):
    """A Railway API call failed. Never carries the token or variable values."""

    def __init__(self, message: str, operation: str, status: int | None = None, code: str | None = None):
        self.operation = operation
        self.status = status
        self.code = code
        where = f"Railway {operation}" + (f" (HTTP {status})" if status is not None else "")
        super().__init__(f"{where}: {message}")


class RailwayRequestInvalid(RailwayError):
    """The request does not fit Railway's schema: a bug in a document or in its variables."""


class RailwayNotAuthorized(RailwayError):
    """The token is not accepted, or may not act on this resource."""


class RailwayNotFound(RailwayError):
    """The resource does not exist (deleted out of band, or a wrong id)."""


class RailwayRateLimited(RailwayError):
    """Still rate limited after waiting Retry-After as many times as allowed."""


class RailwayUnavailable(RailwayError):
    """Server errors, timeouts or network errors outlasted the retries."""


class RailwayOutcomeUnknown(RailwayError):
    """A write that is unsafe to repeat failed after it was sent: it may have happened.

    Callers look for what it would have made (and adopt it) instead of sending it again.
    """


class BackupError(MvsError):
    """A backup, restore or verification could not be done; nothing was deleted because of it."""


class BackupSettingsInvalid(BackupError):
    """A setting of the runner is missing or malformed; nothing was done."""


class BackupDestinationFull(BackupError):
    """No space left where backups go. What was being written is removed; nothing else is touched."""


class BackupExists(BackupError):
    """The object to write exists already: runs never replace each other's files."""


class BackupCorrupt(BackupError):
    """A dump does not match its manifest: it was truncated or changed after it was taken."""


class DrillStopped(BackupError):
    """A restore drill stopped for a reason that says nothing about the backup (no room, killed,
    its own server lost, a tool or extension the drill lacks): the backup stays unverified, and
    the next drill tries it again."""


class RestoreRefused(BackupError):
    """Restoring would overwrite a database that holds data (without --force), or needs a
    database name PostgreSQL would truncate."""
