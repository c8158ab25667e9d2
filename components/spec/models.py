"""The declaration of one MVS environment, as pydantic models.

This is the single source of truth: resources, outputs and (later) PR summaries are derived
from it. It knows nothing of Pulumi. Rules that involve one field live here as field types and
validators; rules that relate several parts of the declaration live in `references.py` (and
`domains.py`), and rules across the stack files of one directory in `siblings.py`, so that every
problem can be reported at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .cron import cron_problem
from .images import IMAGE_RULE, image_problem

RAILWAY_REGIONS = ("us-west2", "us-east4-eqdc4a", "europe-west4-drams3a", "asia-southeast1-eqsg3a")


def _pinned_image(value: str) -> str:
    reason = image_problem(value)
    if reason:
        raise ValueError(f"{IMAGE_RULE} ({reason})")
    return value


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _cron(value: str) -> str:
    reason = cron_problem(value)
    if reason:
        raise ValueError(f"a 5-field cron schedule in UTC, runs at least 5 minutes apart ({reason})")
    return value


ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
SqlIdentifier = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
ImageRef = Annotated[str, StringConstraints(min_length=1, max_length=512), AfterValidator(_pinned_image)]
Port = Annotated[int, Field(ge=1, le=65535)]
HOSTNAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
Hostname = Annotated[str, StringConstraints(pattern=HOSTNAME_PATTERN, max_length=253)]
Region = Literal[RAILWAY_REGIONS]  # type: ignore[valid-type]


class Model(BaseModel):
    """Strict base: unknown keys are errors (a typo must not silently become a default), and
    values keep their YAML types ("2" is not a number), so every rule sees what the file says."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class HealthCheck(Model):
    """An HTTP check. Railway uses the path and the overall timeout; Docker uses all of it."""

    path: Annotated[str, StringConstraints(pattern=r"^/[^\s]*$")] = "/health"
    interval_seconds: int = Field(10, ge=1, le=3600)
    timeout_seconds: int = Field(5, ge=1, le=300)
    retries: int = Field(3, ge=1, le=20)
    start_period_seconds: int = Field(10, ge=0, le=3600)
    probe: Literal["node", "wget", "curl"] = Field(
        "wget", description="the HTTP client inside the image that the local Docker health check runs"
    )

    def deadline_seconds(self) -> int:
        """How long a new container may take to turn healthy before its deployment has failed."""
        return self.start_period_seconds + self.retries * (self.interval_seconds + self.timeout_seconds)

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> HealthCheck:
        if self.timeout_seconds >= self.interval_seconds:
            raise ValueError(
                f"timeout_seconds ({self.timeout_seconds}) must be less than interval_seconds ({self.interval_seconds})"
            )
        return self


class RestartPolicy(Model):
    """What the platform does when a container exits."""

    policy: Literal["on_failure", "always", "never"] = "on_failure"
    max_retries: int | None = Field(None, ge=1, le=100, description="only with policy on_failure; default 10")

    @model_validator(mode="after")
    def _retries_only_on_failure(self) -> RestartPolicy:
        if self.max_retries is not None and self.policy != "on_failure":
            raise ValueError(f"max_retries applies only to policy on_failure, not {self.policy}")
        return self

    @property
    def retries(self) -> int:
        return self.max_retries if self.max_retries is not None else 10


class BuildOptions(Model):
    """How the local Docker engine builds an image: for proxies, offline mirrors and other CPUs."""

    network: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] | None = Field(
        None, description="the network RUN steps use, e.g. host (to reach a proxy or mirror on the host)"
    )
    platform: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$")] | None = Field(
        None, description="the platform to build for, e.g. linux/amd64 or linux/arm64"
    )
    args: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")], str] = Field(
        {}, description="build arguments (ARG), e.g. BASE_IMAGE to build on another pinned base"
    )


class BuildContext(BuildOptions):
    """A local Docker build from a directory of the repository, for the local target only."""

    context: Annotated[str, StringConstraints(min_length=1)]
    dockerfile: str = "Dockerfile"


class Service(Model):
    """One long-running service (backend, frontend, ...)."""

    port: Port
    build: BuildContext | None = Field(None, description="build locally instead of running the release image")
    start_command: Annotated[str, StringConstraints(min_length=1)] | None = None
    health_check: HealthCheck
    restart: RestartPolicy = RestartPolicy()
    replicas: int = Field(1, ge=1, le=50)
    region: Region | None = None
    env: dict[EnvVarName, str] = {}
    secrets: dict[EnvVarName, SecretName] = Field(
        {}, description="environment variable -> name of a secret set with `./mvs secrets set STACK NAME`"
    )
    database_url_env: EnvVarName | None = Field(None, description="variable that receives the database URL")
    depends_on: list[str] = []
    cron_schedule: Annotated[str, AfterValidator(_cron)] | None = Field(
        None, description="railway: run as a cron job (5-field cron, UTC, at least 5 minutes apart)"
    )
    pre_deploy_command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        None,
        description="commands run before each deployment (e.g. migrations); on the local target before the "
        "start command, in the same container",
    )
    public: bool = True
    custom_domains: list[Hostname] = Field([], description="railway: your own domains for this service")
    host_port: Port | None = Field(None, description="local target: port published on 127.0.0.1")


class Database(Model):
    """The environment's PostgreSQL database and its volume."""

    engine: Literal["postgres"] = "postgres"
    version: Literal[13, 14, 15, 16, 17]
    name: SqlIdentifier = "mvs"
    user: SqlIdentifier = "mvs"
    password_secret: SecretName
    volume_size_gb: int = Field(ge=1, le=1000)
    image: ImageRef | None = Field(None, description="local target: the Postgres image, same major as version")
    host_port: Port | None = Field(None, description="local target: publish Postgres on 127.0.0.1")
    protect: bool = Field(False, description="refuse to delete the database and its volume")


class Release(Model):
    """Which build each service runs. Promotion copies this block from one stack to the next."""

    version: Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+\.\d+(?:[-+][A-Za-z0-9.-]+)?$")]
    images: dict[ServiceName, ImageRef] = {}


class RailwaySettings(Model):
    """Where a railway-target stack lives: one environment of a Railway project."""

    project_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")] = "mvs"
    project_id: Annotated[str, StringConstraints(pattern=UUID_PATTERN)] | None = Field(
        None, description="adopt this existing project (never deleted by the stack) instead of creating one"
    )
    environment: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")] | None = Field(
        None, description="the Railway environment's name; default: the stack's name"
    )


class Retention(Model):
    """How many backups to keep: the newest of each of the last N days, weeks and months
    (grandfather-father-son); the newest good backup is always kept."""

    daily: int = Field(7, ge=0, le=366)
    weekly: int = Field(4, ge=0, le=520)
    monthly: int = Field(6, ge=0, le=1200)


class BackupDestination(Model):
    """Where logical dumps go: a directory (dev's named volume) or an S3-compatible bucket."""

    kind: Literal["directory", "s3"]
    path: Annotated[str, StringConstraints(pattern=r"^/[^\s]*$")] | None = Field(
        None, description="directory: the path inside the backup container"
    )
    bucket: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] | None = None
    prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,200}$")] = "mvs"
    endpoint: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")] | None = Field(
        None, description="s3: an S3-compatible endpoint; default AWS"
    )
    region: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{2,32}$")] | None = None
    access_key_secret: SecretName | None = None
    secret_key_secret: SecretName | None = None

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> BackupDestination:
        if self.kind == "directory":
            wrong = [
                f
                for f in ("bucket", "endpoint", "region", "access_key_secret", "secret_key_secret")
                if getattr(self, f)
            ]
            if self.path is None or wrong:
                raise ValueError(f"a directory destination takes path only (found {', '.join(wrong) or 'no path'})")
        else:
            missing = [f for f in ("bucket", "access_key_secret", "secret_key_secret") if getattr(self, f) is None]
            if missing or self.path is not None:
                raise ValueError(
                    "an s3 destination needs bucket, access_key_secret and secret_key_secret, and no path "
                    f"(missing: {', '.join(missing) or '-'}{'; path given' if self.path else ''})"
                )
        return self


class Backups(Model):
    """Backups of the database, each one proven by restoring it.

    Railway volume backup schedules (Railway keeps daily ones 6 days, weekly 1 month, monthly 3
    months) plus logical dumps on a cron schedule to a destination, pruned by retention, and a
    verification drill that restores the newest dump into a scratch database.
    """

    enabled: bool = False
    volume_schedules: list[Literal["DAILY", "WEEKLY", "MONTHLY"]] = Field(
        [], description="railway: backup schedules on the Postgres volume"
    )
    dump_schedule: Annotated[str, AfterValidator(_cron)] | None = Field(
        None, description="logical dumps: 5-field cron, UTC, at least 5 minutes apart"
    )
    retention: Retention = Retention()
    destination: BackupDestination | None = None
    verify_schedule: Annotated[str, AfterValidator(_cron)] | None = Field(
        None, description="the restore drill: 5-field cron, UTC"
    )
    runner_image: ImageRef = "ghcr.io/mvs-app/backup-runner:0.1.0"
    runner_build: BuildOptions = Field(
        BuildOptions(), description="local target: how the backup runner image is built from this repository"
    )

    @model_validator(mode="after")
    def _schedules_once_each(self) -> Backups:
        if len(set(self.volume_schedules)) != len(self.volume_schedules):
            raise ValueError(f"volume_schedules lists a schedule twice: {self.volume_schedules}")
        return self


EMAIL_PATTERN = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,63}$"
SLACK_CHANNEL_PATTERN = r"^#[a-z0-9][a-z0-9._-]{0,79}$"
SMARTHOST_PATTERN = r"^[A-Za-z0-9.-]+:\d{1,5}$"
EmailAddress = Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)]


class SlackReceiver(Model):
    """Alerts posted to a Slack channel through an incoming webhook (its URL holds a token: a secret)."""

    webhook_url_secret: SecretName
    channel: Annotated[str, StringConstraints(pattern=SLACK_CHANNEL_PATTERN)] = Field(
        description="the channel, e.g. #mvs-alerts"
    )


class EmailReceiver(Model):
    """Alerts sent as e-mail through an SMTP relay."""

    model_config = ConfigDict(populate_by_name=True)

    to: Annotated[list[EmailAddress], Field(min_length=1)]
    from_: EmailAddress = Field(alias="from")
    smarthost: Annotated[str, StringConstraints(pattern=SMARTHOST_PATTERN)] = Field(
        description="the SMTP relay as host:port, e.g. smtp.example.com:587"
    )
    username: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    password_secret: SecretName | None = None

    @model_validator(mode="after")
    def _login_complete(self) -> EmailReceiver:
        if (self.username is None) != (self.password_secret is None):
            given = "username" if self.username is not None else "password_secret"
            raise ValueError(f"username and password_secret together or neither (only {given} given)")
        return self


class Receivers(Model):
    """Where Alertmanager sends alerts: any of a webhook, Slack and e-mail. URLs and passwords are
    named secrets, never values in the stack file."""

    webhook_url_secret: SecretName | None = Field(None, description="a webhook URL (Alertmanager's JSON), as a secret")
    slack: SlackReceiver | None = None
    email: EmailReceiver | None = None

    def configured(self) -> list[str]:
        """The kinds of receiver declared, in a fixed order."""
        kinds = {"webhook": self.webhook_url_secret, "slack": self.slack, "email": self.email}
        return [kind for kind, value in kinds.items() if value is not None]

    def secret_names(self) -> set[str]:
        names = {self.webhook_url_secret} if self.webhook_url_secret else set()
        if self.slack is not None:
            names.add(self.slack.webhook_url_secret)
        if self.email is not None and self.email.password_secret is not None:
            names.add(self.email.password_secret)
        return names


Minutes = Annotated[int, Field(ge=0, le=1440)]


class AlertDurations(Model):
    """How long (minutes) a condition must hold before its alert fires (Prometheus `for`)."""

    service_down: Minutes = 2
    error_ratio: Minutes = 5
    p95_latency: Minutes = 10
    postgres_down: Minutes = 1
    connections: Minutes = 5
    volume_full: Minutes = 15
    restarts: Minutes = 0
    backup_stale: Minutes = 5
    drill_failed: Minutes = 0


class Thresholds(Model):
    """When the generated alert rules fire."""

    error_ratio: float = Field(0.05, gt=0, lt=1, description="share of a service's requests answered 5xx, over 5m")
    p95_latency_seconds: float = Field(
        1.0, gt=0, lt=10, description="95th percentile request time, over 5m (the backend's buckets end at 10 s)"
    )
    connections_ratio: float = Field(0.8, gt=0, le=1, description="connections in use / max_connections")
    volume_full_ratio: float = Field(0.85, gt=0, lt=1, description="size of the databases / database.volume_size_gb")
    restarts: int = Field(3, ge=1, le=100, description="restarts of one service within restart_window_minutes")
    restart_window_minutes: int = Field(15, ge=5, le=1440)
    for_minutes: AlertDurations = AlertDurations()


class EdgeMetrics(Model):
    """Railway's own edge metrics (requests by status, latency percentiles) of each long-running
    service, read through Railway's API by a small exporter service in the stack and exposed to
    Prometheus as job `edge-metrics`: the error-rate alert then works for a service that exports
    nothing itself. Railway target only. Every API request counts against the account's hourly
    limit (Free 100 in all, Hobby 1,000, Pro 10,000), so the exporter keeps to `requests_per_hour`."""

    enabled: bool = True
    image: ImageRef = Field(
        "ghcr.io/mvs-app/edge-metrics:0.1.0", description="the exporter's image, built from edge_metrics/ in this repo"
    )
    token_secret: SecretName = Field(
        "railwayMetricsToken", description="a Railway API token the exporter reads metrics with, as a secret"
    )
    requests_per_hour: int = Field(
        30, ge=1, le=10000, description="the exporter's share of the account's hourly API limit (Free: 100 in all)"
    )
    port: Port = 9121


class Monitoring(Model):
    """Prometheus scraping every service, Alertmanager sending what the generated alert rules find,
    a Pushgateway for the backup jobs' results, postgres_exporter, and Grafana on top."""

    enabled: bool = False
    metrics_path: Annotated[str, StringConstraints(pattern=r"^/[^\s]*$")] = "/metrics"
    scrape_interval_seconds: int = Field(15, ge=5, le=300)
    prometheus_image: ImageRef = "prom/prometheus:v2.55.1"
    alertmanager_image: ImageRef = "prom/alertmanager:v0.27.0"
    pushgateway_image: ImageRef = "prom/pushgateway:v1.10.0"
    postgres_exporter_image: ImageRef = "quay.io/prometheuscommunity/postgres-exporter:v0.16.0"
    grafana_image: ImageRef = "grafana/grafana:11.3.0"
    grafana_admin_secret: SecretName = "grafanaAdminPassword"
    prometheus_host_port: Port = 9090
    grafana_host_port: Port = 3001
    alertmanager_host_port: Port = 9093
    prometheus_retention_days: int = Field(15, ge=1, le=365, description="how long Prometheus keeps samples")
    prometheus_volume_size_gb: int = Field(
        5, ge=1, le=1000, description="railway target: the volume Prometheus keeps its samples on"
    )
    receivers: Receivers = Field(
        Receivers(), description="where alerts go; at least one on the railway target when enabled"
    )
    thresholds: Thresholds = Thresholds()
    edge_metrics: EdgeMetrics = EdgeMetrics()

    def secret_names(self, target: str = "local") -> set[str]:
        """The secrets monitoring uses when enabled; the edge exporter's token only on Railway."""
        if not self.enabled:
            return set()
        names = {self.grafana_admin_secret, *self.receivers.secret_names()}
        if target == "railway" and self.edge_metrics.enabled:
            names.add(self.edge_metrics.token_secret)
        return names


class EnvironmentSpec(Model):
    """One environment: where it runs, what runs there and which release."""

    target: Literal["local", "railway"]
    base: Literal["official", "debian"] = Field(
        "official",
        description="local target: where the base images come from: official (node:18…, python:3.11…, "
        "postgres:15… from Docker Hub) or debian (made here from Debian bookworm's packages on a "
        "debootstrap base, for machines that reach no image registry)",
    )
    release: Release
    database: Database
    services: Annotated[dict[ServiceName, Service], Field(min_length=1)]
    backups: Backups = Backups()
    monitoring: Monitoring = Monitoring()
    railway: RailwaySettings = RailwaySettings()

    def secret_names(self) -> set[str]:
        """Every secret the declaration uses."""
        names = {self.database.password_secret}
        names.update(ref for service in self.services.values() for ref in service.secrets.values())
        names.update(self.monitoring.secret_names(self.target))
        destination = self.backups.destination
        if self.backups.enabled and destination is not None and destination.kind == "s3":
            names.update({destination.access_key_secret, destination.secret_key_secret})
        return names

    def image_for(self, service: str) -> str | None:
        return self.release.images.get(service)

    def startup_order(self) -> list[str]:
        """Services in an order where each comes after everything it depends on."""
        ordered: list[str] = []

        def visit(name: str) -> None:
            if name in ordered:
                return
            for dep in self.services[name].depends_on:
                if dep in self.services:
                    visit(dep)
            ordered.append(name)

        for name in sorted(self.services):
            visit(name)
        return ordered
