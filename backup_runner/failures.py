"""How every failure reaches the operator: one line saying what failed and what to do next, with
the documented exit code. The CLI and the scheduler both go through `explain`, so no command
ends in a Python traceback, and `Redacting` keeps the settings' secrets out of all output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

import psycopg

from components.errors import BackupCorrupt, BackupSettingsInvalid, DrillStopped, MvsError, RestoreRefused, ToolError

EXIT_VERIFY_FAILED, EXIT_USAGE, EXIT_CORRUPT, EXIT_REFUSED, EXIT_FAILED, EXIT_INTERRUPTED = 1, 2, 3, 4, 5, 130


@dataclass
class Explained:
    exit_code: int
    line: str  # the last line printed: what failed, and what to do
    details: str = ""  # printed before it (a tool's own last lines)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _bucket_error(error: Exception) -> Explained | None:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is in the runner's requirements
        return None
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return Explained(
            EXIT_FAILED,
            f"the backup bucket refused {error.operation_name}: {info.get('Code')} {info.get('Message', '')}".strip()
            + "; check the bucket name, its prefix and the keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
        )
    if isinstance(error, BotoCoreError):
        return Explained(
            EXIT_FAILED,
            f"could not reach the backup bucket: {_first_line(error)}; check AWS_ENDPOINT_URL, the network and "
            "the keys, then run again (an unfinished upload is removed by the next run or prune)",
        )
    return None


def explain(error: BaseException, command: str) -> Explained:
    """The exit code and the line to print for a failure of `command`. A drill that failed for a
    reason that is not the backup's says that the backup stays unverified."""
    explained = _explain(error, command)
    if command == "verify" and not isinstance(error, (BackupCorrupt, ToolError, BackupSettingsInvalid)):
        explained.line += "; the backup stays as it was (unverified) and the next drill tries again"
    return explained


def _explain(error: BaseException, command: str) -> Explained:
    if isinstance(error, DrillStopped):
        return Explained(EXIT_FAILED, f"{command} stopped before it could judge the backup: {error}")
    if isinstance(error, KeyboardInterrupt):
        return Explained(
            EXIT_INTERRUPTED,
            f"{command} was interrupted; what it had written was removed (anything left is removed by the next "
            "run or prune)",
        )
    if isinstance(error, BackupSettingsInvalid):
        return Explained(EXIT_USAGE, f"{error} (see `python -m backup_runner --help`)")
    if isinstance(error, BackupCorrupt):
        return Explained(EXIT_CORRUPT, str(error))
    if isinstance(error, RestoreRefused):
        return Explained(EXIT_REFUSED, str(error))
    if isinstance(error, ToolError):
        return Explained(
            EXIT_FAILED,
            f"{command} failed: `{error.command[0]}` exited with code {error.exit_code}; its last lines are above",
            error.stderr.strip(),
        )
    if isinstance(error, MvsError):
        return Explained(EXIT_FAILED, f"{command} failed: {error}")
    if isinstance(error, psycopg.OperationalError):
        return Explained(
            EXIT_FAILED,
            f"{command} could not use the database: {_first_line(error)}; check DATABASE_URL and that the "
            "server is up and accepts connections",
        )
    if isinstance(error, psycopg.Error):
        return Explained(EXIT_FAILED, f"{command} failed in the database: {_first_line(error)}")
    if isinstance(error, Exception) and (bucket := _bucket_error(error)):
        return bucket
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return Explained(
            EXIT_FAILED, f"{command} failed: {error.strerror or error}{where}; check the path and its permissions"
        )
    return Explained(
        EXIT_FAILED,
        f"{command} failed unexpectedly: {type(error).__name__}: {_first_line(error)}; this is a bug in the "
        "backup runner: please report it with the command you ran",
    )


class Redacting:
    """A text stream that replaces the given secrets before they reach the real one."""

    def __init__(self, stream: TextIO, secrets: list[str]):
        self._stream = stream
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def write(self, text: str) -> int:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return self._stream.write(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
