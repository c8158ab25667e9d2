"""One POST to Railway's GraphQL API, and what came of it as the exporter needs to know.

Every attempt ends as an `Answer` with one of OUTCOMES; nothing is retried here: when to ask again
is the poller's decision, as every request counts against the hourly budget. Errors carry
Railway's messages and the HTTP status, never the request's headers (the token).
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any

import httpx

from .settings import Token

USER_AGENT = "mvs-edge-metrics/0.1.0"
REQUEST_TIMEOUT_SECONDS = 15.0
OUTCOMES = ("ok", "rate_limited", "http_error", "graphql_error", "timeout", "network_error")


@dataclass(frozen=True)
class Answer:
    outcome: str  # one of OUTCOMES
    data: dict[str, Any] | None = None
    retry_after: float | None = None  # seconds, from a 429's Retry-After
    message: str = ""


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds: delta-seconds (what Railway sends) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - now, 0.0)


def _messages(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    messages = [str(e.get("message")) for e in errors if isinstance(e, dict)]
    return "; ".join(dict.fromkeys(messages))[:300]


class RailwayApi:
    """Railway's GraphQL endpoint with the exporter's token; `transport` is the tests' seam."""

    def __init__(
        self,
        endpoint: str,
        token: Token,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ):
        self.endpoint = endpoint
        self._http = httpx.Client(
            timeout=timeout, headers={**token.headers(), "User-Agent": USER_AGENT}, transport=transport
        )

    def post(self, query: str, variables: dict[str, Any], operation_name: str) -> Answer:
        body = {"query": query, "variables": variables, "operationName": operation_name}
        try:
            response = self._http.post(self.endpoint, json=body)
        except httpx.TimeoutException:
            return Answer("timeout", message=f"no answer within {self._http.timeout.read:g} s")
        except httpx.TransportError as error:
            return Answer("network_error", message=f"{type(error).__name__}: {error}"[:300])
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"), time.time())
            return Answer("rate_limited", retry_after=wait, message="HTTP 429 " + _messages(payload))
        if response.status_code != 200 or not isinstance(payload, dict):
            return Answer("http_error", message=f"HTTP {response.status_code} {_messages(payload)}".strip())
        if payload.get("errors"):
            return Answer("graphql_error", message=_messages(payload))
        if not isinstance(payload.get("data"), dict):
            return Answer("http_error", message="HTTP 200 without data")
        return Answer("ok", data=payload["data"])

    def close(self) -> None:
        self._http.close()
