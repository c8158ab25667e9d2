"""The runner's settings, read from the environment and checked before anything is done.

A bad value (out of range, too large, digits that are not ASCII, a directory that is not there) is
a usage error (exit 2) that names the variable and what is allowed, and never echoes a value that
may hold a secret. `known_secrets` collects the secrets the environment carries (the database
password, the bucket keys, credentials written into any endpoint URL) so the CLI can keep them out
of all it prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

from psycopg.conninfo import conninfo_to_dict

from components.errors import BackupSettingsInvalid

from .retention import Retention

SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "PGPASSWORD")
# Settings that are URLs: user, password and query values in any of them are kept out of output.
ENDPOINT_VARIABLES = ("BACKUP_DESTINATION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "PUSHGATEWAY_URL")
DRILL_DIR_VARIABLE = "DRILL_DIR"
MAX_ATTEMPTS_VARIABLE, MAX_ATTEMPTS_LIMIT = "AWS_MAX_ATTEMPTS", 20


@dataclass
class Settings:
    destination_url: str
    database_url: str | None
    retention: Retention
    drill_dir: Path | None = None  # where drills run their own PostgreSQL (default: the temporary directory)


def _password_of(database_url: str) -> list[str]:
    try:
        password = conninfo_to_dict(database_url).get("password")
    except Exception:  # not a conninfo at all: reported by _database_url
        return []
    return [password] if password else []


def _keys_in(url: str) -> list[str]:
    """User, password and query values of a URL, as written and as decoded."""
    try:
        parsed = urlparse(url)
        found = [part for part in (parsed.username, parsed.password) if part]
        found += [value for _, value in parse_qsl(parsed.query)]
    except ValueError:
        return []
    return found + [unquote(part) for part in found]


def known_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Every secret value the environment gives the runner, longest first (for redaction)."""
    environ = os.environ if environ is None else environ
    found = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]
    found += _password_of(environ.get("DATABASE_URL", ""))
    for name in ENDPOINT_VARIABLES:
        found += _keys_in(environ.get(name, ""))
    return sorted({value for value in found if len(value) >= 3}, key=len, reverse=True)


def whole_number(name: str, raw: str, low: int, high: int) -> int:
    """`raw` as a whole number within [low, high], or a usage error naming `name` and the range.
    ASCII digits only: Python's int() also takes other scripts' digits, which no operator means."""
    allowed = f"allowed: a whole number from {low} to {high}"
    if not (raw.isascii() and raw.isdigit()):
        raise BackupSettingsInvalid(f"{name}: found {raw[:20]!r}; {allowed}")
    if len(raw) > len(str(high)) or not low <= int(raw) <= high:
        shown = raw if len(raw) <= 20 else f"a number of {len(raw)} digits"
        raise BackupSettingsInvalid(f"{name}: found {shown}; {allowed}")
    return int(raw)


def _upper_bound(period: str) -> int:
    for rule in Retention.model_fields[period].metadata:
        if hasattr(rule, "le"):
            return rule.le
    raise AssertionError(f"Retention.{period} has no upper bound")  # pragma: no cover - the spec sets one


def _retention(environ: dict[str, str]) -> Retention:
    counts = {}
    for period in ("daily", "weekly", "monthly"):
        name = f"RETAIN_{period.upper()}"
        raw = environ.get(name, "").strip()
        if raw:
            counts[period] = whole_number(name, raw, 0, _upper_bound(period))
    return Retention(**counts)


def _drill_dir(environ: dict[str, str]) -> Path | None:
    raw = environ.get(DRILL_DIR_VARIABLE, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not (path.is_absolute() and path.is_dir() and os.access(path, os.W_OK | os.X_OK)):
        raise BackupSettingsInvalid(
            f"{DRILL_DIR_VARIABLE}: found {raw[:80]!r}; allowed: an absolute path to a directory this user can write, "
            "with room for the drill (see the README)"
        )
    return path


def _max_attempts(environ: dict[str, str]) -> None:
    """botocore reads it itself, and fails on a bad one with an error of its own: check it first."""
    raw = environ.get(MAX_ATTEMPTS_VARIABLE, "").strip()
    if raw:
        whole_number(MAX_ATTEMPTS_VARIABLE, raw, 1, MAX_ATTEMPTS_LIMIT)


def _destination(environ: dict[str, str]) -> str:
    url = environ.get("BACKUP_DESTINATION", "").strip()
    if not url:
        raise BackupSettingsInvalid("BACKUP_DESTINATION is not set; allowed: a directory path or s3://bucket/prefix")
    try:
        parsed = urlparse(url)
    except ValueError:
        raise BackupSettingsInvalid("BACKUP_DESTINATION is not a valid URL or path") from None
    if parsed.scheme not in ("", "file", "s3"):
        raise BackupSettingsInvalid(
            f"BACKUP_DESTINATION: found a {parsed.scheme}:// URL; allowed: a directory path or s3://bucket/prefix"
        )
    if parsed.scheme == "s3" and (parsed.username or parsed.password):
        raise BackupSettingsInvalid(
            "BACKUP_DESTINATION: found keys inside the URL; allowed: s3://bucket/prefix, with the keys in "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if parsed.scheme == "s3" and not parsed.netloc:
        raise BackupSettingsInvalid("BACKUP_DESTINATION: found no bucket name; allowed: s3://bucket/prefix")
    return url


def _database_url(environ: dict[str, str], required: bool) -> str | None:
    url = environ.get("DATABASE_URL", "").strip()
    if not url:
        if required:
            raise BackupSettingsInvalid("DATABASE_URL is not set; allowed: postgresql://user:password@host:port/db")
        return None
    try:
        conninfo_to_dict(url)
    except Exception:
        raise BackupSettingsInvalid(
            "DATABASE_URL cannot be parsed (its value is not shown); allowed: postgresql://user:password@host:port/db"
        ) from None
    return url


def read_settings(needs_database: bool, environ: dict[str, str] | None = None) -> Settings:
    environ = dict(os.environ if environ is None else environ)
    _max_attempts(environ)
    return Settings(
        destination_url=_destination(environ),
        database_url=_database_url(environ, needs_database),
        retention=_retention(environ),
        drill_dir=_drill_dir(environ),
    )
