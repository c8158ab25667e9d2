"""Docker health checks derived from the declaration, in seconds (the Container provider gives the
engine nanoseconds and reads them back in seconds, so a check never differs by its spelling).

Docker runs a health check inside the container, so an HTTP check needs an HTTP client that the
image ships: the declaration names it (`probe`). Postgres is checked with its own pg_isready,
over TCP: during first start the image runs a temporary server on the Unix socket only, and a
socket check would call that half-initialised server healthy.
"""

from __future__ import annotations

from typing import Any

from ..spec import Database, HealthCheck


def container_healthcheck(
    tests: list[str], interval: int, timeout: int, retries: int, start_period: int
) -> dict[str, Any]:
    """Every container's health check, as the Container provider takes it."""
    return {
        "test": tests,
        "interval_seconds": interval,
        "timeout_seconds": timeout,
        "retries": retries,
        "start_period_seconds": start_period,
    }


def http_probe(check: HealthCheck, port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}{check.path}"
    if check.probe == "node":
        script = f"fetch('{url}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
        return ["CMD", "node", "-e", script]
    if check.probe == "curl":
        return ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


def http_healthcheck(check: HealthCheck, port: int) -> dict[str, Any]:
    timing = (check.interval_seconds, check.timeout_seconds, check.retries, check.start_period_seconds)
    return container_healthcheck(http_probe(check, port), *timing)


def postgres_healthcheck(database: Database) -> dict[str, Any]:
    tests = ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", database.user, "-d", database.name]
    return container_healthcheck(tests, interval=5, timeout=3, retries=10, start_period=10)


def healthy_within_seconds(check: HealthCheck) -> int:
    """How long `up` waits for a container to turn healthy before calling the create failed."""
    return check.deadline_seconds() + 30
