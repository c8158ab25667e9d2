"""Docker health checks derived from the declaration.

Docker runs a health check inside the container, so an HTTP check needs an HTTP client that the
image ships: the declaration names it (`probe`). Postgres is checked with its own pg_isready,
over TCP: during first start the image runs a temporary server on the Unix socket only, and a
socket check would call that half-initialised server healthy.
"""

from __future__ import annotations

import pulumi_docker as docker

from ..spec import Database, HealthCheck


def _seconds(value: int) -> str:
    return f"{value}s"


def http_probe(check: HealthCheck, port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}{check.path}"
    if check.probe == "node":
        script = f"fetch('{url}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
        return ["CMD", "node", "-e", script]
    if check.probe == "curl":
        return ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


def http_healthcheck(check: HealthCheck, port: int) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=http_probe(check, port),
        interval=_seconds(check.interval_seconds),
        timeout=_seconds(check.timeout_seconds),
        retries=check.retries,
        start_period=_seconds(check.start_period_seconds),
    )


def postgres_healthcheck(database: Database) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", "pg_isready", "-h", "127.0.0.1", "-U", database.user, "-d", database.name],
        interval="5s",
        timeout="3s",
        retries=10,
        start_period="10s",
    )


def healthy_within_seconds(check: HealthCheck) -> int:
    """How long Pulumi waits for a container to turn healthy before calling the create failed."""
    return check.deadline_seconds() + 30
