"""How `./mvs logs` shows a line, on every target: when it was written, how severe it is, which
service wrote it, and errors in colour on a terminal; and what `--since` accepts.

In an incident the first questions are "when?" and "is that an error?": Railway sends each line's
timestamp and severity (or a `level` attribute), Docker its timestamp; where no severity is sent
it is read from the line itself (the reference app writes JSON lines with a `level`, pino-style
apps a number) or, failing that, from words such as ERROR or WARN in it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TextIO

from components.errors import SettingInvalid

SEVERITIES = ("error", "warn", "info", "debug")
_ALIASES = {
    "fatal": "error",
    "critical": "error",
    "crit": "error",
    "err": "error",
    "panic": "error",
    "warning": "warn",
    "notice": "info",
    "information": "info",
    "trace": "debug",
}
_PINO = ((50, "error"), (40, "warn"), (30, "info"))  # pino's numeric levels: 60 fatal .. 10 trace
_WORDS = (
    (re.compile(r"\b(error|fatal|panic|exception|traceback)\b", re.IGNORECASE), "error"),
    (re.compile(r"\bwarn(ing)?\b", re.IGNORECASE), "warn"),
)
_COLOURS = {"error": "\033[31m", "warn": "\033[33m"}
_RESET = "\033[0m"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def severity(given: str | None, message: str, attributes: Mapping[str, str] | None = None) -> str:
    """One of SEVERITIES: the one sent (or a `level` attribute), unless that is the plain `info`
    every unparsed stdout line gets and the line is a JSON object naming its own level; with
    nothing sent, the line's JSON level, else its words (ERROR, WARN, ...), else info."""
    candidates = (given, (attributes or {}).get("level"), (attributes or {}).get("severity"))
    sent = next((named for named in map(_named, candidates) if named), None)
    if sent is not None and sent != "info":
        return sent
    structured = _structured_level(message)
    if structured is not None:
        return structured
    return sent or _from_words(message)


def _named(text: object) -> str | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return next((name for floor, name in _PINO if text >= floor), "debug")
    if not isinstance(text, str) or not text.strip():
        return None
    word = text.strip().lower()
    word = _ALIASES.get(word, word)
    return word if word in SEVERITIES else None


def _structured_level(message: str) -> str | None:
    """The level a JSON line names for itself (the reference app's `level`, pino's number)."""
    stripped = message.strip()
    if not stripped.startswith("{"):
        return None
    try:
        document = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    return next((named for key in ("level", "severity", "lvl") if (named := _named(document.get(key)))), None)


def _from_words(message: str) -> str:
    for pattern, name in _WORDS:
        if pattern.search(message):
            return name
    return "info"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a duration back from now (90s, 10m, 2h, 1d, 1h30m) or a date-time (RFC 3339,
    UTC when it names no zone); SettingInvalid for anything else, naming what is accepted."""
    now = now or datetime.now(UTC)
    given = text.strip()
    match = _DURATION.fullmatch(given)
    if given and match and any(match.groups()):
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return now - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    try:
        moment = datetime.fromisoformat(given.replace("Z", "+00:00"))
    except ValueError:
        raise SettingInvalid(
            f"--since {text!r}: it takes a duration back from now (90s, 10m, 2h, 1d, 1h30m) or a date-time "
            "(2026-12-07T09:30:00Z)"
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if moment > now:
        raise SettingInvalid(f"--since {text!r} is in the future; it takes a moment in the past")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """A UTC moment as Railway's API takes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def shown_time(timestamp: str) -> str:
    """A line's timestamp as shown: UTC to the millisecond (Railway and Docker send nanoseconds)."""
    match = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?", timestamp)
    if match is None:
        return timestamp
    day, clock, fraction = match.groups()
    return f"{day} {clock}.{(fraction or '0')[:3].ljust(3, '0')}"


def use_colour(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    environ = os.environ if environ is None else environ
    return stream.isatty() and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


def render(timestamp: str, level: str, message: str, source: str | None = None, width: int = 0, colour=False) -> str:
    """`2026-12-07 09:30:00.123 ERROR backend | message` (the source only when several are shown)."""
    label = f"{level.upper():<5}"
    if colour and level in _COLOURS:
        label = f"{_COLOURS[level]}{label}{_RESET}"
        message = f"{_COLOURS[level]}{message}{_RESET}"
    where = f"{source.ljust(width)} | " if source is not None else ""
    return f"{shown_time(timestamp)} {label} {where}{message}"
