"""Bad declarations: each is refused with a DeclarationError that names the key, what was found and what is allowed.

Every case starts from a fresh copy of a default stack's raw `mvs:environment` mapping and changes one thing
(or two that only make sense together).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.errors import DeclarationError, Problem
from components.spec import CONFIG_KEY, RAILWAY_REGIONS, SecretState, parse_environment

from .conftest import Stack

ENV = CONFIG_KEY
TOP_LEVEL_KEYS = "target, base, release, database, services, backups, monitoring, railway"
SERVICE_KEYS = (
    "port, build, start_command, health_check, restart, replicas, region, env, secrets, "
    "database_url_env, depends_on, cron_schedule, pre_deploy_command, public, custom_domains, host_port"
)
REGIONS = "'us-west2', 'us-east4-eqdc4a', 'europe-west4-drams3a' or 'asia-southeast1-eqsg3a'"

Mutation = Callable[[Any], Any]


def _parent(raw: Any, dotted_path: str) -> tuple[Any, str]:
    *parents, last = dotted_path.split(".")
    node = raw
    for part in parents:
        node = node[part]  # a KeyError here means the case names a path the stack does not have
    return node, last


def mutate(raw: Any, dotted_path: str, value: Any) -> Any:
    """Set `dotted_path` (e.g. services.backend.port) to `value`; returns `raw` so mutations compose."""
    node, last = _parent(raw, dotted_path)
    node[last] = value
    return raw


def delete(raw: Any, dotted_path: str) -> Any:
    """Remove `dotted_path`, which must exist; returns `raw`."""
    node, last = _parent(raw, dotted_path)
    del node[last]
    return raw


def add_service(raw: Any, name: Any, service: Any) -> Any:
    """Declare a service under any key, including ones a dotted path cannot spell (a YAML integer)."""
    raw["services"][name] = service
    return raw


# (case id, stack, mutation, expected key, substring of found, substring of allowed)
CASES: list[tuple[str, str, Mutation, str, str, str]] = [
    # base
    ("base-unknown", "dev", lambda r: mutate(r, "base", "alpine"), f"{ENV}.base", "'alpine'", "'official' or 'debian'"),
    (
        "base-debian-on-railway",
        "staging",
        lambda r: mutate(r, "base", "debian"),
        f"{ENV}.base",
        "debian on the railway target",
        "staging and prod always run the official images",
    ),
    (
        "base-debian-with-monitoring",
        "dev",
        lambda r: mutate(mutate(r, "base", "debian"), "monitoring.enabled", True),
        f"{ENV}.base",
        "debian with monitoring.enabled",
        "Grafana has no Debian package",
    ),
    # target
    ("unknown-target", "dev", lambda r: mutate(r, "target", "aws"), f"{ENV}.target", "'aws'", "'railway'"),
    ("missing-target", "staging", lambda r: delete(r, "target"), f"{ENV}.target", "nothing", "required"),
    # images
    (
        "image-latest",
        "staging",
        lambda r: mutate(r, "release.images.backend", "ghcr.io/mvs-app/backend:latest"),
        f"{ENV}.release.images.backend",
        "backend:latest'",
        "the tag latest moves",
    ),
    (
        "image-without-tag",
        "staging",
        lambda r: mutate(r, "release.images.backend", "ghcr.io/mvs-app/backend"),
        f"{ENV}.release.images.backend",
        "'ghcr.io/mvs-app/backend'",
        "no tag or digest",
    ),
    (
        "image-floating-major",
        "staging",
        lambda r: mutate(r, "release.images.backend", "node:18"),
        f"{ENV}.release.images.backend",
        "'node:18'",
        "'18' is not immutable",
    ),
    (
        "image-malformed-digest",
        "staging",
        lambda r: mutate(r, "release.images.frontend", "ghcr.io/mvs-app/frontend@sha256:abc123"),
        f"{ENV}.release.images.frontend",
        "@sha256:abc123",
        "digest is not sha256:<64 lowercase hex>",
    ),
    (
        "image-uppercase-name",
        "staging",
        lambda r: mutate(r, "release.images.frontend", "ghcr.io/MVS-app/frontend:2.0.0"),
        f"{ENV}.release.images.frontend",
        "MVS-app",
        "image name is malformed",
    ),
    # ports
    (
        "port-0",
        "dev",
        lambda r: mutate(r, "services.backend.port", 0),
        f"{ENV}.services.backend.port",
        "0",
        "greater than or equal to 1",
    ),
    (
        "port-70000",
        "staging",
        lambda r: mutate(r, "services.backend.port", 70000),
        f"{ENV}.services.backend.port",
        "70000",
        "65535",
    ),
    # unknown keys
    (
        "top-level-typo",
        "dev",
        lambda r: mutate(r, "monitorng", {"enabled": True}),
        f"{ENV}.monitorng",
        "unknown key 'monitorng'",
        f"one of the keys {TOP_LEVEL_KEYS}",
    ),
    (
        "service-key-typo",
        "staging",
        lambda r: mutate(r, "services.backend.replica", 2),
        f"{ENV}.services.backend.replica",
        "unknown key 'replica'",
        f"one of the keys {SERVICE_KEYS}",
    ),
    (
        "health-check-key-typo",
        "dev",
        lambda r: mutate(r, "services.frontend.health_check.timeout", 3),
        f"{ENV}.services.frontend.health_check.timeout",
        "unknown key 'timeout'",
        "timeout_seconds",
    ),
    # health checks
    (
        "health-timeout-equals-interval",
        "dev",
        lambda r: mutate(r, "services.backend.health_check.timeout_seconds", 10),
        f"{ENV}.services.backend.health_check",
        "'timeout_seconds': 10",
        "must be less than interval_seconds (10)",
    ),
    (
        "health-timeout-above-interval",
        "staging",
        lambda r: mutate(r, "services.frontend.health_check.timeout_seconds", 30),
        f"{ENV}.services.frontend.health_check",
        "'timeout_seconds': 30",
        "timeout_seconds (30) must be less than interval_seconds (10)",
    ),
    (
        "health-path-without-slash",
        "dev",
        lambda r: mutate(r, "services.backend.health_check.path", "health"),
        f"{ENV}.services.backend.health_check.path",
        "'health'",
        "starting with '/'",
    ),
    (
        "health-retries-0",
        "staging",
        lambda r: mutate(r, "services.backend.health_check.retries", 0),
        f"{ENV}.services.backend.health_check.retries",
        "0",
        "greater than or equal to 1",
    ),
    (
        "missing-health-check",
        "dev",
        lambda r: delete(r, "services.frontend.health_check"),
        f"{ENV}.services.frontend.health_check",
        "nothing",
        "required",
    ),
    # restart policy
    (
        "restart-policy-sometimes",
        "dev",
        lambda r: mutate(r, "services.backend.restart.policy", "sometimes"),
        f"{ENV}.services.backend.restart.policy",
        "'sometimes'",
        "'on_failure', 'always' or 'never'",
    ),
    (
        "max-retries-with-policy-always",
        "staging",
        lambda r: mutate(r, "services.backend.restart.policy", "always"),
        f"{ENV}.services.backend.restart",
        "'policy': 'always'",
        "max_retries applies only to policy on_failure",
    ),
    # replicas and regions
    (
        "replicas-0",
        "staging",
        lambda r: mutate(r, "services.backend.replicas", 0),
        f"{ENV}.services.backend.replicas",
        "0",
        "greater than or equal to 1",
    ),
    (
        "replicas-2-on-local",
        "dev",
        lambda r: mutate(r, "services.backend.replicas", 2),
        f"{ENV}.services.backend.replicas",
        "2",
        "1 on the local target",
    ),
    (
        "unknown-railway-region",
        "staging",
        lambda r: mutate(r, "services.frontend.region", "mars-north1"),
        f"{ENV}.services.frontend.region",
        "'mars-north1'",
        REGIONS,
    ),
    (
        "region-on-local",
        "dev",
        lambda r: mutate(r, "services.backend.region", "us-west2"),
        f"{ENV}.services.backend.region",
        "'us-west2'",
        "no region on the local target",
    ),
    # environment variables and secrets
    (
        "env-var-lowercase",
        "dev",
        lambda r: mutate(r, "services.backend.env.log_format", "json"),
        f"{ENV}.services.backend.env.log_format",
        "the name 'log_format'",
        "uppercase letters, digits and '_'",
    ),
    (
        "plaintext-secret-looking-env",
        "staging",
        lambda r: mutate(r, "services.backend.env.DB_PASSWORD", "hunter2"),
        f"{ENV}.services.backend.env.DB_PASSWORD",
        "plaintext value",
        "services.backend.secrets.DB_PASSWORD",
    ),
    (
        "same-var-in-env-and-secrets",
        "dev",
        lambda r: mutate(r, "services.frontend.secrets", {"BACKEND_URL": "apiUrl"}),
        f"{ENV}.services.frontend.env.BACKEND_URL",
        "the same variable in env and secrets",
        "one of them",
    ),
    (
        "database-url-env-also-in-env",
        "staging",
        lambda r: mutate(r, "services.backend.env.DATABASE_URL", "postgres://mvs@db/mvs"),
        f"{ENV}.services.backend.database_url_env",
        "'DATABASE_URL'",
        "only by the database wiring",
    ),
    (
        "malformed-secret-name",
        "dev",
        lambda r: mutate(r, "services.backend.secrets.SESSION_SECRET", "session secret"),
        f"{ENV}.services.backend.secrets.SESSION_SECRET",
        "not shown: it may be the secret itself",
        "a secret name",
    ),
    # dependencies
    (
        "depends-on-unknown-service",
        "dev",
        lambda r: mutate(r, "services.frontend.depends_on", ["backend", "cache"]),
        f"{ENV}.services.frontend.depends_on[1]",
        "'cache'",
        "one of: backend, database",
    ),
    (
        "depends-on-itself",
        "staging",
        lambda r: mutate(r, "services.frontend.depends_on", ["frontend"]),
        f"{ENV}.services.frontend.depends_on[0]",
        "'frontend'",
        "not itself",
    ),
    (
        "dependency-cycle",
        "dev",
        lambda r: mutate(r, "services.backend.depends_on", ["database", "frontend"]),
        f"{ENV}.services.frontend.depends_on",
        "backend -> frontend -> backend",
        "without cycles",
    ),
    (
        "depends-on-not-a-list",
        "dev",
        lambda r: mutate(r, "services.backend.depends_on", "database"),
        f"{ENV}.services.backend.depends_on",
        "'database'",
        "a valid list",
    ),
    # release images, builds
    (
        "release-image-for-undeclared-service",
        "staging",
        lambda r: mutate(r, "release.images.worker", "ghcr.io/mvs-app/worker:2.0.0"),
        f"{ENV}.release.images.worker",
        "unknown service 'worker'",
        "declared services only: backend, frontend",
    ),
    (
        "neither-image-nor-build",
        "dev",
        lambda r: delete(r, "services.frontend.build"),
        f"{ENV}.release.images.frontend",
        "nothing",
        "a pinned image for service 'frontend'",
    ),
    (
        "both-build-and-release-image",
        "dev",
        lambda r: mutate(r, "release.images.backend", "ghcr.io/mvs-app/backend:2.0.0"),
        f"{ENV}.services.backend.build",
        "both a build context and release.images.backend",
        "one of the two",
    ),
    (
        "build-on-railway",
        "staging",
        lambda r: delete(mutate(r, "services.backend.build", {"context": "../backend"}), "release.images.backend"),
        f"{ENV}.services.backend.build",
        "a local build context",
        "on the railway target",
    ),
    (
        "build-key-typo",
        "dev",
        lambda r: mutate(r, "services.backend.build", {"context": ".", "file": "x"}),
        f"{ENV}.services.backend.build.file",
        "unknown key 'file'",
        "context, dockerfile",
    ),
    (
        "invalid-release-version",
        "dev",
        lambda r: mutate(r, "release.version", "2.0"),
        f"{ENV}.release.version",
        "'2.0'",
        "semantic version",
    ),
    # database
    (
        "local-database-without-image",
        "dev",
        lambda r: delete(r, "database.image"),
        f"{ENV}.database.image",
        "nothing",
        "a pinned Postgres image on the local target",
    ),
    (
        "database-image-major-differs",
        "dev",
        lambda r: mutate(r, "database.image", "postgres:16.4-alpine"),
        f"{ENV}.database.image",
        "major 16",
        "Postgres 15",
    ),
    (
        "database-image-floating",
        "dev",
        lambda r: mutate(r, "database.image", "postgres:15"),
        f"{ENV}.database.image",
        "'postgres:15'",
        "not immutable",
    ),
    (
        "postgres-12",
        "staging",
        lambda r: mutate(r, "database.version", 12),
        f"{ENV}.database.version",
        "12",
        "13, 14, 15, 16 or 17",
    ),
    (
        "volume-size-0",
        "staging",
        lambda r: mutate(r, "database.volume_size_gb", 0),
        f"{ENV}.database.volume_size_gb",
        "0",
        "greater than or equal to 1",
    ),
    (
        "database-name-not-sql-identifier",
        "dev",
        lambda r: mutate(r, "database.name", "mvs-db"),
        f"{ENV}.database.name",
        "'mvs-db'",
        "a SQL identifier",
    ),
    (
        "missing-password-secret",
        "staging",
        lambda r: delete(r, "database.password_secret"),
        f"{ENV}.database.password_secret",
        "nothing",
        "required",
    ),
    # host ports
    (
        "database-host-port-taken-by-service",
        "dev",
        lambda r: mutate(r, "database.host_port", 3000),
        f"{ENV}.database.host_port",
        "port 3000, already published by services.backend",
        "a host port used once",
    ),
    (
        "service-host-port-taken-by-service",
        "dev",
        lambda r: mutate(r, "services.frontend.host_port", 3000),
        f"{ENV}.services.frontend.host_port",
        "already published by services.backend",
        "a host port used once",
    ),
    (
        "service-host-port-on-railway",
        "staging",
        lambda r: mutate(r, "services.backend.host_port", 3001),
        f"{ENV}.services.backend.host_port",
        "3001",
        "no host_port on the railway target",
    ),
    (
        "database-host-port-on-railway",
        "staging",
        lambda r: mutate(r, "database.host_port", 5432),
        f"{ENV}.database.host_port",
        "5432",
        "no host_port on the railway target",
    ),
    # shape
    ("empty-services", "dev", lambda r: mutate(r, "services", {}), f"{ENV}.services", "{}", "at least 1 item"),
    (
        "service-not-a-mapping",
        "staging",
        lambda r: mutate(r, "services.frontend", "frontend"),
        f"{ENV}.services.frontend",
        "'frontend'",
        "a valid dictionary",
    ),
    ("raw-is-none", "dev", lambda r: None, ENV, "nothing", "a mapping with target, release, database and services"),
    ("raw-is-a-list", "staging", lambda r: [r], ENV, "[{'target': 'railway'", "a mapping"),
    # cron and railway settings
    (
        "cron-with-two-replicas",
        "staging",
        lambda r: mutate(mutate(r, "services.backend.cron_schedule", "0 3 * * *"), "services.backend.replicas", 2),
        f"{ENV}.services.backend.replicas",
        "2 with a cron_schedule",
        "a cron service runs one replica at a time",
    ),
    (
        "cron-every-minute",
        "staging",
        lambda r: mutate(r, "services.backend.cron_schedule", "* * * * *"),
        f"{ENV}.services.backend.cron_schedule",
        "'* * * * *'",
        "at least 5 minutes apart (it runs 1 minute(s) apart)",
    ),
    (
        "cron-four-fields",
        "staging",
        lambda r: mutate(r, "services.backend.cron_schedule", "0 3 * *"),
        f"{ENV}.services.backend.cron_schedule",
        "'0 3 * *'",
        "it has 4 fields, not 5",
    ),
    (
        "cron-on-local",
        "dev",
        lambda r: mutate(r, "services.backend.cron_schedule", "0 3 * * *"),
        f"{ENV}.services.backend.cron_schedule",
        "'0 3 * * *'",
        "no cron_schedule on the local target",
    ),
    (
        "railway-project-id-not-uuid",
        "staging",
        lambda r: mutate(r, "railway", {"project_id": "my-project"}),
        f"{ENV}.railway.project_id",
        "'my-project'",
        "a Railway id: a lowercase UUID",
    ),
    (
        "custom-domain-not-a-hostname",
        "staging",
        lambda r: mutate(r, "services.frontend.custom_domains", ["https://mvs.example"]),
        f"{ENV}.services.frontend.custom_domains[0]",
        "'https://mvs.example'",
        "a lowercase DNS name",
    ),
    (
        "custom-domain-on-local",
        "dev",
        lambda r: mutate(r, "services.frontend.custom_domains", ["mvs.example"]),
        f"{ENV}.services.frontend.custom_domains",
        "['mvs.example']",
        "no custom_domains on the local target",
    ),
    # what Railway (or Docker) refuses halfway through an `up`
    (
        "custom-domain-on-two-services",
        "prod",
        lambda r: mutate(r, "services.backend.custom_domains", ["mvs.example"]),
        f"{ENV}.services.frontend.custom_domains[0]",
        "'mvs.example', which services.backend.custom_domains[0] also declares",
        "each custom domain once",
    ),
    (
        "custom-domain-twice-in-one-service",
        "prod",
        lambda r: mutate(r, "services.frontend.custom_domains", ["mvs.example", "www.mvs.example", "mvs.example"]),
        f"{ENV}.services.frontend.custom_domains[2]",
        "'mvs.example', which services.frontend.custom_domains[0] also declares",
        "each custom domain once",
    ),
    (
        "custom-domain-under-up-railway-app",
        "staging",
        lambda r: mutate(r, "services.frontend.custom_domains", ["mvs-frontend.up.railway.app"]),
        f"{ENV}.services.frontend.custom_domains[0]",
        "'mvs-frontend.up.railway.app', a name in Railway's own zone railway.app",
        "a domain you own",
    ),
    (
        "custom-domain-railway-internal",
        "prod",
        lambda r: mutate(r, "services.backend.custom_domains", ["backend.railway.internal"]),
        f"{ENV}.services.backend.custom_domains[0]",
        "Railway's own zone railway.internal",
        "a domain you own",
    ),
    (
        "service-named-database",
        "staging",
        lambda r: mutate(
            add_service(r, "database", {"port": 5000, "health_check": {"path": "/"}}),
            "release.images.database",
            "ghcr.io/mvs-app/db-proxy:1.0.0",
        ),
        f"{ENV}.services.database",
        "a service named 'database'",
        "a name other than database, postgres, backup, backup-verify, prometheus, grafana",
    ),
    (
        "service-named-backup-verify",
        "prod",
        lambda r: mutate(
            add_service(r, "backup-verify", {"port": 5000, "health_check": {"path": "/"}}),
            "release.images.backup-verify",
            "ghcr.io/mvs-app/verifier:1.0.0",
        ),
        f"{ENV}.services.backup-verify",
        "a service named 'backup-verify'",
        "a name other than",
    ),
    (
        "service-named-postgres-on-local",
        "dev",
        lambda r: mutate(
            add_service(r, "postgres", {"port": 5433, "health_check": {"path": "/"}}),
            "release.images.postgres",
            "postgres:15.10-alpine",
        ),
        f"{ENV}.services.postgres",
        "a service named 'postgres'",
        "a name other than",
    ),
    (
        "service-named-prometheus-on-local",
        "dev",
        lambda r: mutate(
            add_service(r, "prometheus", {"port": 9091, "health_check": {"path": "/"}}),
            "release.images.prometheus",
            "prom/prometheus:v2.55.1",
        ),
        f"{ENV}.services.prometheus",
        "a service named 'prometheus'",
        "a name other than",
    ),
    # backups
    (
        "backups-enabled-without-destination",
        "staging",
        lambda r: delete(r, "backups.destination"),
        f"{ENV}.backups.destination",
        "nothing",
        "a destination when backups are enabled",
    ),
    (
        "backup-dumps-every-minute",
        "staging",
        lambda r: mutate(r, "backups.dump_schedule", "*/2 * * * *"),
        f"{ENV}.backups.dump_schedule",
        "'*/2 * * * *'",
        "at least 5 minutes apart",
    ),
    (
        "backup-directory-on-railway",
        "staging",
        lambda r: mutate(r, "backups.destination", {"kind": "directory", "path": "/backups"}),
        f"{ENV}.backups.destination.kind",
        "'directory'",
        "'s3' on the railway target",
    ),
    (
        "backup-s3-without-keys",
        "staging",
        lambda r: mutate(r, "backups.destination", {"kind": "s3", "bucket": "mvs-backups"}),
        f"{ENV}.backups.destination",
        "'kind': 's3'",
        "needs bucket, access_key_secret and secret_key_secret",
    ),
    (
        "backup-unknown-volume-schedule",
        "staging",
        lambda r: mutate(r, "backups.volume_schedules", ["HOURLY"]),
        f"{ENV}.backups.volume_schedules[0]",
        "'HOURLY'",
        "'DAILY', 'WEEKLY' or 'MONTHLY'",
    ),
    (
        "backup-schedule-twice",
        "prod",
        lambda r: mutate(r, "backups.volume_schedules", ["DAILY", "DAILY"]),
        f"{ENV}.backups",
        "'volume_schedules': ['DAILY', 'DAILY']",
        "lists a schedule twice",
    ),
    (
        "backup-retention-negative",
        "prod",
        lambda r: mutate(r, "backups.retention.daily", -1),
        f"{ENV}.backups.retention.daily",
        "-1",
        "greater than or equal to 0",
    ),
    (
        "volume-schedules-on-local",
        "dev",
        lambda r: mutate(
            r,
            "backups",
            {
                "enabled": True,
                "dump_schedule": "0 3 * * *",
                "volume_schedules": ["DAILY"],
                "destination": {"kind": "directory", "path": "/backups"},
            },
        ),
        f"{ENV}.backups.volume_schedules",
        "['DAILY']",
        "none on the local target",
    ),
    # monitoring
    (
        "grafana-port-taken-by-backend",
        "dev",
        lambda r: mutate(r, "monitoring", {"enabled": True, "grafana_host_port": 3000}),
        f"{ENV}.monitoring.grafana_host_port",
        "port 3000, already published by services.backend.port",
        "a host port used once",
    ),
    (
        "prometheus-floating-image",
        "dev",
        lambda r: mutate(r, "monitoring", {"enabled": True, "prometheus_image": "prom/prometheus:latest"}),
        f"{ENV}.monitoring.prometheus_image",
        "'prom/prometheus:latest'",
        "never latest",
    ),
    (
        "scrape-interval-too-short",
        "dev",
        lambda r: mutate(r, "monitoring", {"enabled": True, "scrape_interval_seconds": 1}),
        f"{ENV}.monitoring.scrape_interval_seconds",
        "1",
        "greater than or equal to 5",
    ),
]


def test_cases_are_many_and_distinct() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)


def refusal(stack: Stack, raw: Any, secrets: Callable[[str], SecretState] | None = None) -> DeclarationError:
    """Parse `raw` as `stack`'s declaration, expecting a DeclarationError, and check what every error promises."""
    with pytest.raises(DeclarationError) as caught:
        parse_environment(raw, stack.file, secrets)
    error = caught.value
    assert error.problems, "a DeclarationError must carry its problems"
    assert error.problems == sorted(set(error.problems))
    assert all(isinstance(problem, Problem) and problem.file == stack.file for problem in error.problems)
    return error


def problems_at(error: DeclarationError, key: str) -> list[Problem]:
    found = [problem for problem in error.problems if problem.key == key]
    assert found, f"no problem at {key}; got:\n{error}"
    return found


@pytest.mark.parametrize(
    ("stack_name", "mutation", "key", "found", "allowed"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_declaration_is_refused(
    load_stack: Callable[[str], Stack], stack_name: str, mutation: Mutation, key: str, found: str, allowed: str
) -> None:
    stack = load_stack(stack_name)

    error = refusal(stack, mutation(stack.raw))

    candidates = problems_at(error, key)
    assert any(found in p.found and allowed in p.allowed for p in candidates), (
        f"no problem at {key} with found ~ {found!r} and allowed ~ {allowed!r}; got {candidates}"
    )
    message = str(error)
    assert stack.file in message
    assert f"{key}: found" in message


def test_unknown_region_lists_every_railway_region(load_stack: Callable[[str], Stack]) -> None:
    stack = load_stack("staging")

    error = refusal(stack, mutate(stack.raw, "services.backend.region", "eu-central"))

    [problem] = problems_at(error, f"{ENV}.services.backend.region")
    for region in RAILWAY_REGIONS:
        assert repr(region) in problem.allowed


def test_several_problems_are_reported_in_one_error(load_stack: Callable[[str], Stack]) -> None:
    stack = load_stack("dev")
    raw = stack.raw
    mutate(raw, "services.backend.port", 0)  # per field
    mutate(raw, "database.volume_size_gb", 0)  # per field
    mutate(raw, "services.frontend.depends_on", ["cache"])  # cross-reference
    mutate(raw, "release.images.worker", "ghcr.io/mvs-app/worker:2.0.0")  # cross-reference
    mutate(raw, "services.backend.replicas", 3)  # target rule
    expected = {
        f"{ENV}.services.backend.port",
        f"{ENV}.database.volume_size_gb",
        f"{ENV}.services.frontend.depends_on[0]",
        f"{ENV}.release.images.worker",
        f"{ENV}.services.backend.replicas",
    }

    error = refusal(stack, raw)

    assert len(error.problems) >= len(expected)
    assert expected <= {problem.key for problem in error.problems}
    message = str(error)
    assert f"({len(error.problems)} problems)" in message
    for key in expected:
        assert f"{key}: found" in message


def test_schema_and_secret_problems_come_together(load_stack: Callable[[str], Stack]) -> None:
    stack = load_stack("staging")
    mutate(stack.raw, "target", "aws")

    error = refusal(stack, stack.raw, secrets=lambda name: "missing" if name == "dbPassword" else "secret")

    assert {f"{ENV}.target", f"{ENV}.database.password_secret"} <= {problem.key for problem in error.problems}


class RecordingLookup:
    """A secrets lookup with fixed answers (default "secret") that remembers what it was asked."""

    def __init__(self, **states: SecretState):
        self.states = states
        self.asked: set[str] = set()

    def __call__(self, name: str) -> SecretState:
        self.asked.add(name)
        return self.states.get(name, "secret")


@pytest.mark.parametrize("stack_name", ["dev", "staging", "prod"])
def test_all_secrets_set_parses(load_stack: Callable[[str], Stack], stack_name: str) -> None:
    stack = load_stack(stack_name)
    lookup = RecordingLookup()

    spec = parse_environment(stack.raw, stack.file, lookup)

    assert spec.database.password_secret == "dbPassword"
    s3 = spec.backups.enabled and spec.backups.destination.kind == "s3"
    backup_keys = {"backupAccessKey", "backupSecretKey"} if s3 else set()
    assert lookup.asked == {"dbPassword", "sessionSecret"} | backup_keys
    assert spec.secret_names() == lookup.asked


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        ("dbPassword", f"{ENV}.database.password_secret"),
        ("sessionSecret", f"{ENV}.services.backend.secrets.SESSION_SECRET"),
        ("backupSecretKey", f"{ENV}.backups.destination.secret_key_secret"),
    ],
)
@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_missing_secret_says_how_to_set_it(
    load_stack: Callable[[str], Stack], stack_name: str, secret: str, key: str
) -> None:
    stack = load_stack(stack_name)

    error = refusal(stack, stack.raw, RecordingLookup(**{secret: "missing"}))

    [problem] = error.problems
    assert problem.key == key
    assert "not set" in problem.found
    command = f"`./mvs secrets set {stack_name} {secret}` (it reads the value from stdin, or asks for it)"
    assert command in problem.allowed
    assert command in str(error)


@pytest.mark.parametrize("stack_name", ["dev", "staging"])
def test_plaintext_secret_is_refused(load_stack: Callable[[str], Stack], stack_name: str) -> None:
    stack = load_stack(stack_name)

    error = refusal(stack, stack.raw, RecordingLookup(dbPassword="plaintext"))

    [problem] = error.problems
    assert problem.key == f"{ENV}.database.password_secret"
    assert "plaintext" in problem.found
    assert f"`./mvs secrets set {stack_name} dbPassword`" in problem.allowed


@pytest.mark.parametrize(
    ("pasted", "state"),
    [
        ("hunter2", "missing"),  # fits the name pattern, but reads like a password
        ("correcthorsebatterystaple", "missing"),
        ("summerHoliday2024", "missing"),  # words, but not a name of a secret
        ("Tr0ub4dor-3x", "missing"),
        ("zF9xQ2", "plaintext"),  # even if a config key of that name happens to exist
        ("s3cr3t pass!", None),  # not even a name: the model refuses it
    ],
)
@pytest.mark.parametrize("key", ["database.password_secret", "services.backend.secrets.SESSION_SECRET"])
def test_a_value_pasted_where_a_secret_name_belongs_is_never_echoed(
    load_stack: Callable[[str], Stack], pasted: str, state: str | None, key: str
) -> None:
    stack = load_stack("staging")
    raw = mutate(stack.raw, key, pasted)
    error = refusal(stack, raw, RecordingLookup(**({pasted: state} if state else {})))
    assert pasted not in str(error)
    [problem] = [p for p in error.problems if p.key == f"{ENV}.{key}"]
    assert "not shown" in problem.found
    if state:
        assert "`./mvs secrets set staging <name>`" in problem.allowed


@pytest.mark.parametrize(
    "name", ["dbPassword", "sessionSecret", "backup_secret_key", "grafanaAdminPassword", "apiKey2", "railwayToken"]
)
def test_names_that_read_like_names_are_shown(name: str) -> None:
    from components.spec.references import reads_like_a_name

    assert reads_like_a_name(name)


# Shapes YAML can produce that the cross-part rules must survive: the user gets a DeclarationError, not a traceback.
MALFORMED: list[tuple[str, str, Mutation, str]] = [
    (
        "depends-on-entry-is-a-mapping",
        "dev",
        lambda r: mutate(r, "services.frontend.depends_on", [{"service": "backend"}]),
        f"{ENV}.services.frontend.depends_on[0]",
    ),
    (
        "depends-on-entry-is-a-list",
        "staging",
        lambda r: mutate(r, "services.frontend.depends_on", [["backend"]]),
        f"{ENV}.services.frontend.depends_on[0]",
    ),
    (
        "database-url-env-is-a-list",
        "dev",
        lambda r: mutate(r, "services.backend.database_url_env", ["DATABASE_URL"]),
        f"{ENV}.services.backend.database_url_env",
    ),
    (
        "service-name-is-a-number",
        "staging",
        lambda r: add_service(r, 123, {"port": 9000, "health_check": {}}),
        f"{ENV}.services.123",
    ),
]


@pytest.mark.parametrize(("stack_name", "mutation", "key"), [pytest.param(*case[1:], id=case[0]) for case in MALFORMED])
def test_malformed_shape_is_a_declaration_error(
    load_stack: Callable[[str], Stack], stack_name: str, mutation: Mutation, key: str
) -> None:
    stack = load_stack(stack_name)

    error = refusal(stack, mutation(stack.raw))

    problems_at(error, key)


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_railway_services_may_listen_on_the_same_port(load_stack: Callable[[str], Stack], stack_name: str) -> None:
    """Nothing is published on a host on Railway; each service has its own network namespace."""
    stack = load_stack(stack_name)
    mutate(stack.raw, "services.frontend.port", 3000)
    mutate(stack.raw, "services.frontend.env.PORT", "3000")

    spec = parse_environment(stack.raw, stack.file)

    assert spec.services["frontend"].port == spec.services["backend"].port == 3000


def test_monitoring_needs_its_grafana_secret_only_when_enabled(load_stack: Callable[[str], Stack]) -> None:
    stack = load_stack("dev")
    present = {"dbPassword", "sessionSecret"}

    def lookup(name: str) -> SecretState:
        return "secret" if name in present else "missing"

    parse_environment(stack.raw, stack.file, lookup)
    stack.raw["monitoring"] = {"enabled": True}
    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file, lookup)
    assert [p.key for p in error.value.problems] == [f"{ENV}.monitoring.grafana_admin_secret"]
    assert "grafanaAdminPassword" in error.value.problems[0].found
