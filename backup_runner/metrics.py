"""What the runner tells the Pushgateway, for the backup-staleness and drill alerts.

Pushed with `pushadd_to_gateway` (HTTP POST), which replaces only the metrics of the same name in
the group: a failed run pushes its failure time and leaves the last success's metrics standing
(`push_to_gateway`, a PUT, would replace the whole group and lose them). Group: job="backup",
plus stack=<BACKUP_STACK> when that is set. The names are a contract with the alert rules:

    after a good run (dumped, read back whole, manifest written):
        mvs_backup_last_success_timestamp_seconds, mvs_backup_last_duration_seconds,
        mvs_backup_last_size_bytes
    after a failed run:      mvs_backup_last_failure_timestamp_seconds
    at the end of a drill:   mvs_drill_last_run_timestamp_seconds, mvs_drill_last_passed (1 or 0),
                             and mvs_drill_last_success_timestamp_seconds when it passed

Without PUSHGATEWAY_URL nothing is pushed and nothing is said. A Pushgateway that cannot be
reached, answers an error or takes longer than PUSH_TIMEOUT_SECONDS costs one warning line on
stderr and never changes the outcome or exit code of the backup or drill.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from urllib.error import HTTPError
from urllib.parse import unquote, urlparse, urlunparse

from .settings import known_secrets

PUSHGATEWAY_ENV = "PUSHGATEWAY_URL"
STACK_ENV = "BACKUP_STACK"
JOB = "backup"
PUSH_TIMEOUT_SECONDS = 5.0
# A stack name as the stacks spell it; anything else (a stray value, a secret) is never sent.
STACK_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

BACKUP_SUCCESS = "mvs_backup_last_success_timestamp_seconds"
BACKUP_DURATION = "mvs_backup_last_duration_seconds"
BACKUP_SIZE = "mvs_backup_last_size_bytes"
BACKUP_FAILURE = "mvs_backup_last_failure_timestamp_seconds"
DRILL_RUN = "mvs_drill_last_run_timestamp_seconds"
DRILL_PASSED = "mvs_drill_last_passed"
DRILL_SUCCESS = "mvs_drill_last_success_timestamp_seconds"

HELP = {
    BACKUP_SUCCESS: "When the last good backup finished (Unix time).",
    BACKUP_DURATION: "How long the last good backup took, in seconds.",
    BACKUP_SIZE: "The size of the last good backup's dump, in bytes.",
    BACKUP_FAILURE: "When the last failed backup run ended (Unix time).",
    DRILL_RUN: "When the last restore drill ended, however it ended (Unix time).",
    DRILL_PASSED: "1 if the last restore drill passed, 0 if it failed.",
    DRILL_SUCCESS: "When the last restore drill that passed ended (Unix time).",
}


def backup_succeeded(size_bytes: int, duration_seconds: float, environ: Mapping[str, str] | None = None) -> None:
    push(
        "backup",
        {BACKUP_SUCCESS: time.time(), BACKUP_DURATION: duration_seconds, BACKUP_SIZE: size_bytes},
        environ,
    )


def backup_failed(environ: Mapping[str, str] | None = None) -> None:
    push("backup", {BACKUP_FAILURE: time.time()}, environ)


def drill_finished(passed: bool, environ: Mapping[str, str] | None = None) -> None:
    now = time.time()
    values = {DRILL_RUN: now, DRILL_PASSED: 1 if passed else 0}
    if passed:
        values[DRILL_SUCCESS] = now
    push("drill", values, environ)


def _warn(what: str, why: str) -> None:
    print(
        f"backup-runner: warning: metrics of this {what} not pushed: {why}; the {what} itself is unaffected",
        file=sys.stderr,
        flush=True,
    )


def _gateway(url: str) -> tuple[str, str | None, str | None]:
    """The URL without user and password (to print and to push to), and those two for basic auth."""
    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.username is None and parsed.password is None:
        return urlunparse(parsed), None, None
    host = parsed.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parsed.port is not None:
        netloc += f":{parsed.port}"
    return urlunparse(parsed._replace(netloc=netloc)), unquote(parsed.username or ""), unquote(parsed.password or "")


def push(what: str, values: dict[str, float], environ: Mapping[str, str] | None = None) -> None:
    """pushadd the gauges `values` into the runner's group; warn (never raise) when that fails."""
    environ = os.environ if environ is None else environ
    url = environ.get(PUSHGATEWAY_ENV, "").strip()
    if not url:
        return
    stack = environ.get(STACK_ENV, "").strip()
    if stack and (not STACK_PATTERN.fullmatch(stack) or stack in known_secrets(dict(environ))):
        _warn(what, f"{STACK_ENV} is not a stack name (lowercase letters, digits, '-' and '_')")
        return
    try:
        gateway, username, password = _gateway(url)
    except ValueError:
        _warn(what, f"{PUSHGATEWAY_ENV} is not a URL")
        return
    errors: list[BaseException] = []
    pusher = threading.Thread(target=_push_now, args=(gateway, username, password, stack, values, errors), daemon=True)
    pusher.start()
    # The socket timeout bounds connecting and each read; the join also bounds a slow name lookup.
    pusher.join(PUSH_TIMEOUT_SECONDS + 1)
    if pusher.is_alive():
        _warn(what, f"the Pushgateway at {gateway} did not answer within {PUSH_TIMEOUT_SECONDS:.0f} s")
    elif errors:
        _warn(what, f"the Pushgateway at {gateway}: {_describe(errors[0])}")


def _push_now(
    gateway: str,
    username: str | None,
    password: str | None,
    stack: str,
    values: dict[str, float],
    errors: list[BaseException],
) -> None:
    try:
        from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway
        from prometheus_client.exposition import basic_auth_handler, default_handler

        registry = CollectorRegistry()
        for name, value in values.items():
            Gauge(name, HELP[name], registry=registry).set(value)
        handler = default_handler
        if username is not None:

            def handler(url, method, timeout, headers, data):
                return basic_auth_handler(url, method, timeout, headers, data, username, password)

        pushadd_to_gateway(
            gateway,
            job=JOB,
            registry=registry,
            grouping_key={"stack": stack} if stack else None,
            timeout=PUSH_TIMEOUT_SECONDS,
            handler=handler,
        )
    except BaseException as error:  # reported by the caller as one warning line
        errors.append(error)


def _describe(error: BaseException) -> str:
    """One line: an HTTP error with the Pushgateway's own first line, or the socket's error."""
    if isinstance(error, HTTPError):
        try:
            body = error.read(500).decode(errors="replace").strip().splitlines()
        except Exception:
            body = []
        return f"HTTP {error.code} {error.reason}" + (f": {body[0]}" if body else "")
    reason = getattr(error, "reason", None)  # URLError: why it could not connect
    text = str(reason if reason is not None else error).strip().splitlines()
    return text[0] if text else type(error).__name__
