"""Docker health checks derived from the declaration.

Docker runs a health check inside the container, so an HTTP check needs an HTTP client that the
image ships: the declaration names it (`probe`). Postgres is checked with its own pg_isready,
over TCP: during first start the image runs a temporary server on the Unix socket only, and a
socket check would call that half-initialised server healthy.
"""

from __future__ import annotations

import pulumi_docker as docker

from ..spec import Database, HealthCheck


def go_duration(seconds: int) -> str:
    """A duration written the way Docker reports it back (Go's time.Duration.String(): 60 s is
    `1m0s`, an hour `1h0m0s`). The provider reads health checks back in this form, so any other
    spelling of the same duration is a diff on every refresh."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def container_healthcheck(
    tests: list[str], interval: int, timeout: int, retries: int, start_period: int
) -> docker.ContainerHealthcheckArgs:
    """Every container's health check, with durations in the form Docker reports back."""
    return docker.ContainerHealthcheckArgs(
        tests=tests,
        interval=go_duration(interval),
        timeout=go_duration(timeout),
        retries=retries,
        start_period=go_duration(start_period),
    )


def http_probe(check: HealthCheck, port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}{check.path}"
    if check.probe == "node":
        script = f"fetch('{url}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
        return ["CMD", "node", "-e", script]
    if check.probe == "curl":
        return ["CMD", "curl", "-fsS", "-o", "/dev/null", url]
    return ["CMD", "wget", "-q", "-O", "/dev/null", url]


def http_healthcheck(check: HealthCheck, port: int) -> docker.ContainerHealthcheckArgs:
    timing = (check.interval_seconds, check.timeout_seconds, check.retries, check.start_period_seconds)
    return container_healthcheck(http_probe(check, port), *timing)


def postgres_healthcheck(database: Database) -> docker.ContainerHealthcheckArgs:
    tests = ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", database.user, "-d", database.name]
    return container_healthcheck(tests, interval=5, timeout=3, retries=10, start_period=10)


def healthy_within_seconds(check: HealthCheck) -> int:
    """How long Pulumi waits for a container to turn healthy before calling the create failed."""
    return check.deadline_seconds() + 30
