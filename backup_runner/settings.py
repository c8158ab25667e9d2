"""The runner's settings, read from the environment and checked before anything is done.

A bad value is a usage error (exit 2) that names the variable and what is allowed, and never
echoes a value that may hold a secret. `known_secrets` collects the secrets the environment
carries (the database password, the bucket keys, a Pushgateway password) so the CLI can keep them out of all it prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from psycopg.conninfo import conninfo_to_dict

from components.errors import BackupSettingsInvalid

from .retention import Retention

SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "PGPASSWORD")


@dataclass
class Settings:
    destination_url: str
    database_url: str | None
    retention: Retention


def _password_of(database_url: str) -> list[str]:
    try:
        password = conninfo_to_dict(database_url).get("password")
    except Exception:  # not a conninfo at all: reported by _database_url
        return []
    return [password] if password else []


def _keys_in(destination_url: str) -> list[str]:
    try:
        parsed = urlparse(destination_url)
        return [unquote(part) for part in (parsed.username, parsed.password) if part]
    except ValueError:
        return []


def known_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Every secret value the environment gives the runner, longest first (for redaction)."""
    environ = os.environ if environ is None else environ
    found = [environ[name] for name in SECRET_VARIABLES if environ.get(name)]
    found += _password_of(environ.get("DATABASE_URL", "")) + _keys_in(environ.get("BACKUP_DESTINATION", ""))
    found += _keys_in(environ.get("PUSHGATEWAY_URL", ""))  # basic auth of the Pushgateway (metrics.py)
    return sorted({value for value in found if len(value) >= 3}, key=len, reverse=True)


def _retention(environ: dict[str, str]) -> Retention:
    counts = {}
    for period in ("daily", "weekly", "monthly"):
        name = f"RETAIN_{period.upper()}"
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        if not raw.isdigit():
            raise BackupSettingsInvalid(f"{name}: found {raw[:20]!r}; allowed: a whole number, 0 or more")
        counts[period] = int(raw)
    return Retention(**counts)


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
    return Settings(
        destination_url=_destination(environ),
        database_url=_database_url(environ, needs_database),
        retention=_retention(environ),
    )
