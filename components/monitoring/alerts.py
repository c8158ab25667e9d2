"""The Prometheus alert rules of one stack, derived from its declaration: one rule file per stack.

Rules exist only for what the stack has: an `up` rule for every long-running declared service
(services with a `cron_schedule` are jobs, not scraped), backup rules only when backups are
enabled, drill rules only with a `verify_schedule`. Every alert carries the labels `severity`
(`page` or `ticket`; on the local target everything is `ticket`: a developer's machine pages no
one), `stack` and, where one service is at fault, `service`; and the annotations `summary` and
`runbook`, the `./mvs` command to look further with.

The metric contract: what each rule reads, and which component exports it. Prometheus scrapes
each job below; the job label is the scrape job's name.

- `up{job=<service>}`: Prometheus itself, one scrape job per long-running declared service
  (job = the service's name), at `monitoring.metrics_path`; also `job="postgres-exporter"` and,
  with backups, `job="pushgateway"` (see `scrape_jobs`).
- `http_requests_total{method,route,status}` (counter) and
  `http_request_duration_seconds_bucket{method,route,status,le}` (histogram, buckets 5 ms to 10 s):
  the backend and the frontend (app/{backend,frontend}/src/metrics.js, prom-client, the same
  names, labels and buckets). `route` is the route template, `status` the numeric code. Rules are
  generated for every service: one that does not export them simply never fires them (on Railway
  the edge rules below still cover it).
- `process_start_time_seconds`: prom-client's default metrics (the backend and the frontend); its
  changes count restarts.
- Railway's edge, for every long-running service whether it exports anything or not (railway
  target with `monitoring.edge_metrics.enabled`): the exporter of edge_metrics/ (`python -m
  edge_metrics`, scraped as `job="edge-metrics"`) reads Railway's `httpMetricsGroupedByStatus` and
  `httpDurationMetrics` and shows, with `service` = the declared name,
  `railway_edge_window_requests{service,status}` (gauge: requests per status code within its last
  window, as of its last good poll) and `railway_edge_request_duration_seconds{service,quantile}`
  (gauge: the window's percentiles, quantile "0.95" among them; NaN without requests), plus
  `railway_edge_data_age_seconds` (how old those values are). The rules read these gauges, not
  `rate()` of its counter `railway_edge_requests_total`: the exporter polls every
  3600 / `requests_per_hour` seconds (2 minutes by default), so a counter moves once a poll and a
  5-minute `rate()` sees one step or none, while both counts of the window ratio come from
  Railway's own samples of the same minutes.
- `pg_up`, `pg_stat_activity_count{datname,state,...}`, `pg_settings_max_connections`,
  `pg_database_size_bytes{datname}`: postgres_exporter (`monitoring.postgres_exporter_image`),
  scraped as `job="postgres-exporter"`.
- The backup runner (backup_runner, `PUSHGATEWAY_URL`) pushes to the Pushgateway with grouping
  `job="backup"` and a `stack` label (Prometheus scrapes the Pushgateway with `honor_labels: true`,
  so the pushed labels stay), with pushadd so that a failed run never overwrites a success:
  `mvs_backup_last_success_timestamp_seconds`, `mvs_backup_last_duration_seconds`,
  `mvs_backup_last_size_bytes` after a good backup (`mvs_backup_last_failure_timestamp_seconds`
  after a failed one); for the restore drill `mvs_drill_last_run_timestamp_seconds` and
  `mvs_drill_last_passed` (1 passed, 0 failed) after every drill, however it ended, and
  `mvs_drill_last_success_timestamp_seconds` after one that passed. The rules read the backup
  success and drill run timestamps and `mvs_drill_last_passed`; the rest is for dashboards. They
  select `job="backup"` only, not `stack`: each stack's Prometheus has its own Pushgateway.

The database volume: no node exporter or cAdvisor runs, and a dev Docker volume has no size
limit, so "nearly full" compares the size of all databases (`pg_database_size_bytes`, which leaves
out WAL and temporary files) with the declared `database.volume_size_gb` (10^9 bytes each), a
constant in the rule.

Edge data is stale when the exporter has not read Railway for three poll intervals (at least
EDGE_MIN_STALE_SECONDS): a 429 with a long Retry-After, a revoked token, Railway down.

Staleness: a backup (or drill) is overdue when none succeeded (ran) for twice the longest gap
between two runs of `backups.dump_schedule` (`verify_schedule`). A stack where none ever did
alerts once that long has passed without one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from ..spec import EnvironmentSpec, longest_gap

POSTGRES_EXPORTER_JOB = "postgres-exporter"
PUSHGATEWAY_JOB = "pushgateway"
BACKUP_JOB = "backup"  # the job label the backup runner pushes with
EDGE_METRICS_JOB = "edge-metrics"  # the exporter of Railway's edge metrics (edge_metrics/)
GB = 10**9
HTTP_WINDOW = "5m"
EDGE_MIN_STALE_SECONDS = 300

Severity = Literal["page", "ticket"]


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule; `labels` are the rule's own (severity, stack, service)."""

    group: str
    alert: str
    expr: str
    for_minutes: int
    labels: dict[str, str]
    summary: str
    runbook: str
    annotations: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotations", {"summary": self.summary, "runbook": self.runbook})

    def as_rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.alert, "expr": self.expr}
        if self.for_minutes:
            rule["for"] = _duration(self.for_minutes * 60)
        rule["labels"] = dict(self.labels)
        rule["annotations"] = dict(self.annotations)
        return rule


def long_running_services(spec: EnvironmentSpec) -> list[str]:
    """Declared services Prometheus scrapes: all but cron jobs."""
    return [name for name in spec.startup_order() if spec.services[name].cron_schedule is None]


def edge_metrics_enabled(spec: EnvironmentSpec) -> bool:
    """Whether the stack runs the edge-metrics exporter: Railway only (dev has no Railway edge)."""
    return spec.target == "railway" and spec.monitoring.edge_metrics.enabled


def monitoring_jobs(spec: EnvironmentSpec) -> list[str]:
    """The scrape jobs of monitoring's own parts: postgres_exporter, the Pushgateway when backups
    run (they are its only users), the edge-metrics exporter on Railway when enabled."""
    jobs = [POSTGRES_EXPORTER_JOB]
    if spec.backups.enabled:
        jobs.append(PUSHGATEWAY_JOB)
    if edge_metrics_enabled(spec):
        jobs.append(EDGE_METRICS_JOB)
    return jobs


def scrape_jobs(spec: EnvironmentSpec) -> list[str]:
    """The scrape jobs the rules expect, by job name: each long-running service, then
    `monitoring_jobs`."""
    return [*long_running_services(spec), *monitoring_jobs(spec)]


def edge_stale_seconds(spec: EnvironmentSpec) -> int:
    """When the edge values are too old: three poll intervals (3600 / requests_per_hour each), at
    least EDGE_MIN_STALE_SECONDS."""
    interval = 3600 / spec.monitoring.edge_metrics.requests_per_hour
    return max(EDGE_MIN_STALE_SECONDS, math.ceil(3 * interval))


def staleness_seconds(schedule: str) -> int:
    """How long without a run of `schedule` is overdue: twice its longest gap between runs."""
    return int(2 * longest_gap(schedule).total_seconds())


def _number(value: float) -> str:
    """A threshold as PromQL reads it: short, and exactly the declared value."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _percent(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Builder:
    def __init__(self, stack: str, spec: EnvironmentSpec):
        self.stack, self.spec = stack, spec
        self.local = spec.target == "local"
        self.thresholds = spec.monitoring.thresholds
        self.wait = self.thresholds.for_minutes
        self.rules: list[AlertRule] = []

    def add(
        self,
        group: str,
        alert: str,
        expr: str,
        for_minutes: int,
        severity: Severity,
        summary: str,
        runbook: str,
        service: str | None = None,
    ) -> None:
        labels = {"severity": "ticket" if self.local else severity, "stack": self.stack}
        if service is not None:
            labels["service"] = service
        self.rules.append(AlertRule(f"{self.stack}-{group}", alert, expr, for_minutes, labels, summary, runbook))

    def services(self) -> None:
        stack, th = self.stack, self.thresholds
        for name in long_running_services(self.spec):
            self.add(
                "services",
                "ServiceDown",
                f'up{{job="{name}"}} == 0',
                self.wait.service_down,
                "page",
                f"{stack}: {name} is down or does not answer its metrics scrape",
                f"`./mvs ps {stack}` shows its state and health; `./mvs logs {stack} {name}` why",
                name,
            )
        for name in long_running_services(self.spec):
            window = th.restart_window_minutes
            self.add(
                "services",
                "ServiceRestarting",
                f'changes(process_start_time_seconds{{job="{name}"}}[{window}m]) >= {th.restarts}',
                self.wait.restarts,
                "ticket",
                f"{stack}: {name} restarted {th.restarts} times or more within {window} minutes",
                f"`./mvs logs {stack} {name}` shows why it exits; `./mvs ps {stack}` its restarts",
                name,
            )
        for job in monitoring_jobs(self.spec):
            self.add(
                "services",
                "ServiceDown",
                f'up{{job="{job}"}} == 0',
                self.wait.service_down,
                "ticket",
                f"{stack}: {job} is down, so the alerts that read its metrics cannot fire",
                f"`./mvs ps {stack}` shows its state; `./mvs logs {stack} {job}` why",
                job,
            )

    def http(self) -> None:
        stack, th = self.stack, self.thresholds
        for name in long_running_services(self.spec):
            requests = f'http_requests_total{{job="{name}"}}'
            errors = f'http_requests_total{{job="{name}",status=~"5.."}}'
            ratio = f"sum(rate({errors}[{HTTP_WINDOW}])) / sum(rate({requests}[{HTTP_WINDOW}]))"
            self.add(
                "http",
                "HighErrorRatio",
                f"{ratio} > {_number(th.error_ratio)}",
                self.wait.error_ratio,
                "page",
                f"{stack}: more than {_percent(th.error_ratio)} of {name}'s requests are answered 5xx",
                f"`./mvs logs {stack} {name}` shows each failed request (status, route) and its error",
                name,
            )
            buckets = f'http_request_duration_seconds_bucket{{job="{name}"}}'
            p95 = f"histogram_quantile(0.95, sum by (le) (rate({buckets}[{HTTP_WINDOW}])))"
            self.add(
                "http",
                "HighLatencyP95",
                f"{p95} > {_number(th.p95_latency_seconds)}",
                self.wait.p95_latency,
                "ticket",
                f"{stack}: 95% of {name}'s requests take longer than {_number(th.p95_latency_seconds)} s",
                f"`./mvs logs {stack} {name}` shows each request's duration_ms; `./mvs ps {stack}` the database",
                name,
            )

    def edge(self) -> None:
        """Railway's edge: the same questions as `http` asked of what Railway's proxy saw, so a
        service without metrics of its own is covered; and whether those answers are fresh."""
        if not edge_metrics_enabled(self.spec):
            return
        stack, th, edge = self.stack, self.thresholds, f'job="{EDGE_METRICS_JOB}"'
        for name in long_running_services(self.spec):
            requests = f'railway_edge_window_requests{{{edge},service="{name}"}}'
            errors = f'railway_edge_window_requests{{{edge},service="{name}",status=~"5.."}}'
            self.add(
                "edge",
                "EdgeHighErrorRatio",
                f"sum({errors}) / sum({requests}) > {_number(th.error_ratio)}",
                self.wait.error_ratio,
                "page",
                f"{stack}: more than {_percent(th.error_ratio)} of {name}'s requests are answered 5xx "
                "at Railway's edge",
                f"`./mvs logs {stack} {name}` shows why it fails; `./mvs ps {stack}` its deployment and health",
                name,
            )
            p95 = f'railway_edge_request_duration_seconds{{{edge},service="{name}",quantile="0.95"}}'
            self.add(
                "edge",
                "EdgeHighLatencyP95",
                f"max({p95}) > {_number(th.p95_latency_seconds)}",
                self.wait.p95_latency,
                "ticket",
                f"{stack}: 95% of {name}'s requests take longer than {_number(th.p95_latency_seconds)} s "
                "at Railway's edge",
                f"`./mvs logs {stack} {name}` shows slow requests; `./mvs ps {stack}` the database and replicas",
                name,
            )
        stale = edge_stale_seconds(self.spec)
        self.add(
            "edge",
            "EdgeMetricsStale",
            f"max(railway_edge_data_age_seconds{{{edge}}}) > {stale}",
            0,
            "ticket",
            f"{stack}: {EDGE_METRICS_JOB} has not read Railway's metrics for {_duration(stale)}: "
            "the edge alerts see old values",
            f"`./mvs logs {stack} {EDGE_METRICS_JOB}` says why (a 429 and its Retry-After, the token, "
            f"Railway's errors); `./mvs ps {stack}` its state",
            EDGE_METRICS_JOB,
        )

    def database(self) -> None:
        stack, th, db = self.stack, self.thresholds, "database"
        job = f'job="{POSTGRES_EXPORTER_JOB}"'
        max_connections = f"min(pg_settings_max_connections{{{job}}})"
        self.add(
            "database",
            "PostgresDown",
            f"pg_up{{{job}}} == 0",
            self.wait.postgres_down,
            "page",
            f"{stack}: PostgreSQL does not answer postgres_exporter",
            f"`./mvs ps {stack}` shows the database's state; `./mvs logs {stack} database` why",
            db,
        )
        self.add(
            "database",
            "PostgresTooManyConnections",
            f"sum(pg_stat_activity_count{{{job}}}) > {_number(th.connections_ratio)} * {max_connections}",
            self.wait.connections,
            "page",
            f"{stack}: more than {_percent(th.connections_ratio)} of PostgreSQL's max_connections are in use",
            f"`./mvs logs {stack} database` shows who connects; `./mvs ps {stack}` how many backend replicas run",
            db,
        )
        size = self.spec.database.volume_size_gb
        self.add(
            "database",
            "DatabaseVolumeNearlyFull",
            f"sum(pg_database_size_bytes{{{job}}}) / {size * GB} > {_number(th.volume_full_ratio)}",
            self.wait.volume_full,
            "ticket",
            f"{stack}: the databases fill more than {_percent(th.volume_full_ratio)} of the {size} GB volume",
            f"`./mvs logs {stack} database`; grow database.volume_size_gb in stacks/Pulumi.{stack}.yaml, "
            f"then `./mvs up {stack}`",
            db,
        )

    def _runner(self, command: str, service: str) -> str:
        if self.local:
            return f"`docker exec mvs-{self.stack}-backup python -m backup_runner {command}`"
        return f"`railway run --service {service} python -m backup_runner {command}`"

    def backups(self) -> None:
        backups = self.spec.backups
        if not backups.enabled or backups.dump_schedule is None:
            return
        stack, job = self.stack, f'job="{BACKUP_JOB}"'
        stale = staleness_seconds(backups.dump_schedule)
        success = f"mvs_backup_last_success_timestamp_seconds{{{job}}}"
        look = f"`./mvs logs {stack} backup` shows the runs; {self._runner('list', 'backup')} the backups"
        self.add(
            "backups",
            "BackupStale",
            f"time() - max({success}) > {stale}",
            self.wait.backup_stale,
            "ticket",
            f"{stack}: no good backup for {_duration(stale)} (dump_schedule {backups.dump_schedule!r})",
            look,
            BACKUP_JOB,
        )
        self.add(
            "backups",
            "BackupMissing",
            f"absent({success})",
            stale // 60,
            "ticket",
            f"{stack}: no good backup recorded in {_duration(stale)} (dump_schedule {backups.dump_schedule!r})",
            look,
            BACKUP_JOB,
        )
        if backups.verify_schedule is None:
            return
        drill_service = "backup" if self.local else "backup-verify"
        drill_stale = staleness_seconds(backups.verify_schedule)
        last_run = f"mvs_drill_last_run_timestamp_seconds{{{job}}}"
        look = f"`./mvs logs {stack} {drill_service}` shows the drills; {self._runner('list', drill_service)} the last"
        schedule = f"verify_schedule {backups.verify_schedule!r}"
        self.add(
            "backups",
            "RestoreDrillFailed",
            f"mvs_drill_last_passed{{{job}}} == 0",
            self.wait.drill_failed,
            "ticket",
            f"{stack}: the last restore drill failed: the newest backup may not restore",
            look,
            drill_service,
        )
        self.add(
            "backups",
            "RestoreDrillStale",
            f"time() - max({last_run}) > {drill_stale}",
            self.wait.backup_stale,
            "ticket",
            f"{stack}: no restore drill for {_duration(drill_stale)} ({schedule})",
            look,
            drill_service,
        )
        self.add(
            "backups",
            "RestoreDrillMissing",
            f"absent({last_run})",
            drill_stale // 60,
            "ticket",
            f"{stack}: no restore drill recorded in {_duration(drill_stale)} ({schedule})",
            look,
            drill_service,
        )


def alerts(stack: str, spec: EnvironmentSpec) -> list[AlertRule]:
    """Every alert rule of `stack`, in file order. Independent of `monitoring.enabled`: whoever
    deploys monitoring decides whether to."""
    builder = _Builder(stack, spec)
    builder.services()
    builder.http()
    builder.edge()
    builder.database()
    builder.backups()
    return builder.rules


def alert_rules(stack: str, spec: EnvironmentSpec) -> dict[str, Any]:
    """The Prometheus rule file of `stack`: one group per concern (services, http, edge, database,
    backups), in the order the rules were made."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in alerts(stack, spec):
        groups.setdefault(rule.group, []).append(rule.as_rule())
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}


def render_rules(document: dict[str, Any]) -> str:
    """A rule file document as YAML, one expression per line."""
    return yaml.safe_dump(document, sort_keys=False, width=1_000_000, allow_unicode=True)
