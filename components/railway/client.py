"""A small Railway GraphQL client over httpx. It knows nothing of Pulumi.

Why it is careful:
- Reads are retried with exponential backoff and full jitter; a write is repeated only when it
  is marked retry-safe or when it provably never reached the server (connection refused). A write
  that may have happened raises RailwayOutcomeUnknown, so the caller can adopt what it made.
- A 429 waits for Retry-After, whatever the operation: a rate-limited request was not executed.
- Every request has a timeout. The token is sent in a header and never logged or put in errors.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx

from ..errors import (
    RailwayError,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutcomeUnknown,
    RailwayRateLimited,
    RailwayRequestInvalid,
    RailwayTokenMissing,
    RailwayUnavailable,
)
from .echoes import without_secrets
from .operations import Operation, operation

DEFAULT_ENDPOINT = "https://backboard.railway.com/graphql/v2"
ENDPOINT_ENV = "RAILWAY_API_ENDPOINT"
ACCOUNT_TOKEN_ENV = "RAILWAY_API_TOKEN"  # account or workspace token, sent as Bearer
PROJECT_TOKEN_ENV = "RAILWAY_TOKEN"  # project token, sent as Project-Access-Token
# The stack config that overrides the environment (the providers read it through configure()).
CONFIG_TOKEN = "railway:token"
CONFIG_TOKEN_KIND = "railway:tokenKind"
CONFIG_ENDPOINT = "railway:endpoint"

log = logging.getLogger("mvs.railway")


@dataclass(frozen=True)
class RailwayToken:
    """A token and how Railway expects it; its repr never shows the value."""

    value: str = field(repr=False)
    kind: Literal["account", "project"] = "account"

    def headers(self) -> dict[str, str]:
        if self.kind == "project":
            return {"Project-Access-Token": self.value}
        return {"Authorization": f"Bearer {self.value}"}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RailwayToken:
        environ = os.environ if environ is None else environ
        if environ.get(ACCOUNT_TOKEN_ENV):
            return cls(environ[ACCOUNT_TOKEN_ENV], "account")
        if environ.get(PROJECT_TOKEN_ENV):
            return cls(environ[PROJECT_TOKEN_ENV], "project")
        raise RailwayTokenMissing(
            f"no Railway token: set {ACCOUNT_TOKEN_ENV} to an account or workspace token "
            f"(or {PROJECT_TOKEN_ENV} to a project token)"
        )

    @classmethod
    def configured(
        cls, value: str | None, kind: str | None = None, environ: Mapping[str, str] | None = None
    ) -> RailwayToken:
        """The stack's `railway:token` (of `railway:tokenKind`, account by default) when it has
        one, else the environment's, as the providers choose."""
        if value:
            return cls(value, "project" if kind == "project" else "account")
        return cls.from_env(environ)


_POLICY_WINDOW = re.compile(r"\bw=(\d+)")


@dataclass
class RateLimitStatus:
    """What the last response said about the rate-limit window."""

    limit: int | None = None
    remaining: int | None = None
    reset_epoch: int | None = None
    window_seconds: int | None = None  # from RateLimit-Policy ("100;w=3600")

    def update(self, headers: httpx.Headers) -> None:
        for attribute, header in (
            ("limit", "x-ratelimit-limit"),
            ("remaining", "x-ratelimit-remaining"),
            ("reset_epoch", "x-ratelimit-reset"),
        ):
            if header in headers and headers[header].isdigit():
                setattr(self, attribute, int(headers[header]))
        window = _POLICY_WINDOW.search(headers.get("ratelimit-policy", ""))
        if window:
            self.window_seconds = int(window.group(1))


class ServerTimes:
    """The newest `Date` each Railway endpoint has answered with: its own clock, to the second.

    Why: a deploy whose answer is lost may or may not have started a deployment, and only one made
    after this run's writes may be taken as ours (providers/deployment.py). Every answer a process
    has received was sent after the writes it has seen answered, so a deployment created at least a
    second after the newest `Date` seen before the deploy was asked was made after them: a lower
    bound for adoption that costs no request. One object is shared by every client of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, datetime] = {}
        self._arrived: dict[str, float] = {}  # when (this machine's monotonic clock) the last answer came

    def note(self, endpoint: str, date_header: str | None) -> None:
        try:
            moment = parsedate_to_datetime(date_header) if date_header else None
        except (TypeError, ValueError):
            return
        if moment is None or moment.tzinfo is None:
            return
        with self._lock:
            self._arrived[endpoint] = time.monotonic()
            if endpoint not in self._latest or moment > self._latest[endpoint]:
                self._latest[endpoint] = moment

    def latest(self, endpoint: str) -> datetime | None:
        with self._lock:
            return self._latest.get(endpoint)

    def until_past_bound(self, endpoint: str) -> float:
        """Seconds until Railway's clock is surely past the adoption bound (the newest `Date` plus a
        second): an answer stamped second T arrived at or after T, so a second after its arrival
        Railway's clock reads at least T + 1. A deploy sent then makes a deployment that a lost
        answer can adopt by time, however soon after the run's last write it comes."""
        with self._lock:
            arrived = self._arrived.get(endpoint)
        return 0.0 if arrived is None else max(0.0, arrived + 1.0 - time.monotonic())


class Unreachable:
    """The endpoints a process could not connect to even after all its retries.

    Why: a run's reads queue on one another (one snapshot per environment is fetched at a time,
    snapshot.py), so with Railway down each of them would retry for seconds in turn, and a drift
    check of a stack said "cannot connect" only after a minute and a half. Once one request has
    exhausted its retries on connection failures, the run's later requests to that endpoint try
    once: the operator hears at once, and a server that is back answers that one try (any answer
    clears the record). One object is shared by every client of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._endpoints: set[str] = set()

    def attempts(self, endpoint: str, policy: int) -> int:
        with self._lock:
            return 1 if endpoint in self._endpoints else policy

    def failed(self, endpoint: str) -> None:
        with self._lock:
            self._endpoints.add(endpoint)

    def answered(self, endpoint: str) -> None:
        with self._lock:
            self._endpoints.discard(endpoint)


PLANS_BY_HOURLY_LIMIT = {100: "Free", 1000: "Hobby", 10000: "Pro"}  # Railway's published request limits


def describe_limit(status: RateLimitStatus) -> str:
    """The rate-limit window in words, as far as Railway's headers told it."""
    if status.limit is None:
        return "Railway did not say the token's limit"
    plan = PLANS_BY_HOURLY_LIMIT.get(status.limit)
    text = f"the token's limit is {status.limit} requests per hour" + (f" (Railway's {plan} plan)" if plan else "")
    if status.remaining is not None:
        text += f", {status.remaining} left"
    if status.reset_epoch:
        text += f"; the window resets at {datetime.fromtimestamp(status.reset_epoch, UTC):%H:%M:%S} UTC"
    return text


def notice_on_stderr(message: str) -> None:
    """Shown to the operator: in a provider process, stderr reaches the `pulumi` output."""
    print(message, file=sys.stderr, flush=True)


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the exponential bound."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


class RailwayClient:
    """Sends the project's named operations (components/railway/operations/*.graphql)."""

    def __init__(
        self,
        token: RailwayToken,
        endpoint: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        notice: Callable[[str], None] = notice_on_stderr,
        after_write: Callable[[str], None] | None = None,
        server_times: ServerTimes | None = None,
        headers: Mapping[str, str] | None = None,
        unreachable: Unreachable | None = None,
    ):
        """`after_write(operation)` runs once a mutation has been sent, whatever came of it: what
        a caller keeps of earlier reads (components/railway/snapshot.py) is then stale.
        `server_times` records the server's clock from every answer (ServerTimes). `headers` are
        sent with every request besides the token's. `unreachable` is shared with the process's
        other clients: an endpoint one of them could not reach is tried once (Unreachable)."""
        self.endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT
        self.retry = retry or RetryPolicy()
        self.rate_limit = RateLimitStatus()
        self.requests_sent = 0
        self._sleep = sleep
        self._notice = notice
        self._after_write = after_write
        self.server_times = server_times
        self.unreachable = unreachable
        self._http = httpx.Client(
            headers={**(headers or {}), **token.headers(), "Content-Type": "application/json", "x-source": "mvs-infra"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> RailwayClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(self, name: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run one operation and return its `data`, or raise the matching RailwayError."""
        return self.run(operation(name), variables)

    def run(self, op: Operation, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Like execute(), for an operation built at run time (one request asking several things)."""
        name = op.name
        if op.is_mutation and self._after_write is not None:
            try:
                return self._send(op, variables)
            finally:
                self._after_write(name)
        return self._send(op, variables)

    def _send(self, op: Operation, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        name = op.name
        payload = {"query": op.document, "variables": dict(variables or {}), "operationName": op.name}
        attempts = self.retry.max_attempts
        if self.unreachable is not None:
            attempts = self.unreachable.attempts(self.endpoint, attempts)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                self.requests_sent += 1
                response = self._http.post(self.endpoint, json=payload)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # Never reached the server: safe to repeat any operation.
                if last:
                    if self.unreachable is not None:
                        self.unreachable.failed(self.endpoint)
                    raise RailwayUnavailable(f"cannot connect ({type(error).__name__})", name) from None
                self._wait(name, self.retry.backoff(attempt), "connection failed")
                continue
            except httpx.TransportError as error:
                self._unsent_or_unknown(op, f"no answer ({type(error).__name__})", None, last)
                self._wait(name, self.retry.backoff(attempt), "no answer")
                continue

            if self.unreachable is not None:
                self.unreachable.answered(self.endpoint)
            self.rate_limit.update(response.headers)
            if self.server_times is not None:
                self.server_times.note(self.endpoint, response.headers.get("date"))
            log.debug("railway %s -> HTTP %s", name, response.status_code)
            if response.status_code == 429:
                if last:
                    raise RailwayRateLimited("rate limited; retries exhausted", name, 429)
                seconds = self._retry_after(response, attempt)
                self._notice(
                    f"railway: rate limited on {name}: waiting {seconds:.0f}s, as Railway asks; "
                    f"{describe_limit(self.rate_limit)}"
                )
                self._sleep(seconds)
                continue
            if response.status_code >= 500:
                self._unsent_or_unknown(op, "server error", response.status_code, last)
                self._wait(name, self.retry.backoff(attempt), f"HTTP {response.status_code}")
                continue
            return self._result(name, response, payload["variables"])
        raise AssertionError("unreachable: the last attempt always returns or raises")

    def _unsent_or_unknown(self, op: Operation, what: str, status: int | None, last: bool) -> None:
        """Raise unless the operation may be repeated (and attempts remain)."""
        if not op.retry_safe:
            raise RailwayOutcomeUnknown(f"{what} after the request was sent; it may have been applied", op.name, status)
        if last:
            raise RailwayUnavailable(f"{what}; retries exhausted", op.name, status)

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        value = response.headers.get("retry-after", "")
        seconds = float(value) if value.replace(".", "", 1).isdigit() else self.retry.backoff(attempt)
        return min(seconds, self.retry.max_retry_after)

    def _wait(self, name: str, seconds: float, why: str) -> None:
        """A short backoff (seconds at most); rate-limit waits are announced instead (execute)."""
        log.debug("railway %s: %s; retrying in %.1fs", name, why, seconds)
        self._sleep(seconds)

    @staticmethod
    def _result(name: str, response: httpx.Response, sent: Mapping[str, Any]) -> dict[str, Any]:
        """The answer's data, or its first error raised, with the secrets the request carried
        blanked from Railway's message (echoes.py)."""
        try:
            body = response.json()
        except ValueError:
            raise RailwayError("the answer is not JSON", name, response.status_code) from None
        errors = [
            {**e, "message": without_secrets(str(e.get("message", "")), sent)} if isinstance(e, dict) else e
            for e in body.get("errors") or []
        ]
        if response.status_code in (401, 403):
            raise RailwayNotAuthorized(
                f"Not Authorized: check {ACCOUNT_TOKEN_ENV} or {PROJECT_TOKEN_ENV}", name, response.status_code
            )
        if response.status_code == 400 or (response.status_code >= 400 and errors):
            first = errors[0] if errors else {}
            code = first.get("extensions", {}).get("code")
            raise RailwayRequestInvalid(first.get("message", "bad request"), name, response.status_code, code)
        if errors:
            message = errors[0].get("message", "unknown error")
            code = errors[0].get("extensions", {}).get("code")
            if message == "Not Authorized" or message.startswith("Project Token not found"):
                raise RailwayNotAuthorized(
                    f"{message}: check {ACCOUNT_TOKEN_ENV} or {PROJECT_TOKEN_ENV}", name, response.status_code, code
                )
            if message.endswith(" not found"):
                raise RailwayNotFound(message, name, response.status_code, code)
            raise RailwayError(message, name, response.status_code, code)
        return body.get("data") or {}
