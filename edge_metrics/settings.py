"""The exporter's settings, read from the variables its Railway service is deployed with.

A setting it cannot use stops it before it starts: `ConfigError` names the variable and what is
wrong (the CLI prints that one line and exits 2). The token's value is never part of a message,
nor of the settings' repr.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_ENDPOINT = "https://backboard.railway.com/graphql/v2"
DEFAULT_PORT = 9121
DEFAULT_LISTEN_ADDRESS = "::"  # Railway's private network is IPv6 (dual stack in newer environments)

ACCOUNT_TOKEN = "RAILWAY_API_TOKEN"  # account or workspace token: Authorization: Bearer
PROJECT_TOKEN = "RAILWAY_TOKEN"  # project token: Project-Access-Token
ENVIRONMENT = "RAILWAY_ENVIRONMENT_ID"
SERVICES = "EDGE_SERVICES"
BUDGET = "EDGE_REQUESTS_PER_HOUR"
PORT = "PORT"
ENDPOINT = "RAILWAY_API_ENDPOINT"
LISTEN_ADDRESS = "EDGE_LISTEN_ADDRESS"  # optional; tests bind loopback


class ConfigError(ValueError):
    """A variable the exporter cannot start with; the message names it and never holds a secret."""


@dataclass(frozen=True)
class Token:
    """A Railway token and the header Railway expects it in; its repr never shows the value."""

    value: str = field(repr=False)
    kind: Literal["account", "project"]

    def headers(self) -> dict[str, str]:
        if self.kind == "project":
            return {"Project-Access-Token": self.value}
        return {"Authorization": f"Bearer {self.value}"}


@dataclass(frozen=True)
class Settings:
    token: Token
    environment_id: str
    services: dict[str, str]  # declared service name -> Railway service id
    requests_per_hour: int
    port: int = DEFAULT_PORT
    endpoint: str = DEFAULT_ENDPOINT
    listen_address: str = DEFAULT_LISTEN_ADDRESS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def get(name: str) -> str:
            return (environ.get(name) or "").strip()

        if get(ACCOUNT_TOKEN):
            token = Token(get(ACCOUNT_TOKEN), "account")
        elif get(PROJECT_TOKEN):
            token = Token(get(PROJECT_TOKEN), "project")
        else:
            raise ConfigError(
                f"{ACCOUNT_TOKEN} is not set: give an account or workspace token (or {PROJECT_TOKEN} a project token)"
            )
        if not get(ENVIRONMENT):
            raise ConfigError(f"{ENVIRONMENT} is not set: the Railway environment whose services are read")
        endpoint = get(ENDPOINT) or DEFAULT_ENDPOINT
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigError(f"{ENDPOINT} must be an http(s) URL, not {endpoint[:80]!r}")
        return cls(
            token=token,
            environment_id=get(ENVIRONMENT),
            services=_services(get(SERVICES)),
            requests_per_hour=_whole(BUDGET, get(BUDGET), 1, None, "a positive whole number of requests per hour"),
            port=_whole(PORT, get(PORT) or str(DEFAULT_PORT), 1, 65535, "a TCP port (1 to 65535)"),
            endpoint=endpoint,
            listen_address=get(LISTEN_ADDRESS) or DEFAULT_LISTEN_ADDRESS,
        )


def _whole(name: str, text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise ConfigError(f"{name} must be {what}, not {text[:40]!r}" if text else f"{name} is not set: {what}")
    return value


def _services(text: str) -> dict[str, str]:
    shape = 'a JSON object of service name -> Railway service id, e.g. {"frontend": "4f1c..."}'
    if not text:
        raise ConfigError(f"{SERVICES} is not set: {shape}")
    try:
        services = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{SERVICES} is not valid JSON ({error.msg} at character {error.pos}): {shape}") from None
    if not isinstance(services, dict) or not services:
        raise ConfigError(f"{SERVICES} must be {shape}, with at least one service")
    for name, service_id in services.items():
        if not name.strip() or not isinstance(service_id, str) or not service_id.strip():
            raise ConfigError(f"{SERVICES} must be {shape}; {name!r} maps to {service_id!r}")
    return {name: service_id.strip() for name, service_id in services.items()}
