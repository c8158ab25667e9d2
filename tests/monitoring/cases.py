"""promtool unit tests for generated alert rules: for every rule one case where it fires with the
expected labels and annotations and one where it stays silent.

Each case is one `tests[]` entry of a promtool test file, with its own small input series (one
sample a minute) built from the declared thresholds, so a threshold that does not reach the
expression shows up as a failed case. Rules that share an alert name (ServiceDown per service) are
told apart by their input: a case feeds only the series of its own rule.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from components.monitoring import BACKUP_JOB, EDGE_METRICS_JOB, POSTGRES_EXPORTER_JOB, AlertRule
from components.monitoring.alerts import GB, HTTP_WINDOW
from components.spec import EnvironmentSpec

INTERVAL_MINUTES = 1
# Staleness of days (a weekly drill alerts after 14 days) is evaluated every 15 minutes, not every
# minute: promtool evaluates every rule at every step up to the eval time.
LONG_INTERVAL_MINUTES = 15
LONG_AFTER_MINUTES = 600
HTTP_WINDOW_MINUTES = int(HTTP_WINDOW.removesuffix("m"))
PER_MINUTE = 10_000  # requests a minute in the HTTP cases: fine enough for any ratio to 4 digits


@dataclass(frozen=True)
class Case:
    """One promtool test: input series, when to look, and what should be firing then."""

    name: str
    rule: AlertRule
    series: list[tuple[str, str]]  # (series selector, promtool values notation)
    eval_minutes: int
    exp_series_labels: dict[str, str] | None  # labels the alert takes from its series; None: silent
    interval_minutes: int = INTERVAL_MINUTES  # between samples and between evaluations

    def as_test(self) -> dict[str, Any]:
        expected = []
        if self.exp_series_labels is not None:
            expected = [
                {"exp_labels": {**self.exp_series_labels, **self.rule.labels}, "exp_annotations": self.rule.annotations}
            ]
        return {
            "name": self.name,
            "interval": f"{self.interval_minutes}m",
            "input_series": [{"series": s, "values": v} for s, v in self.series],
            "alert_rule_test": [
                {"eval_time": f"{self.eval_minutes}m", "alertname": self.rule.alert, "exp_alerts": expected}
            ],
        }


def _const(value: float, minutes: int) -> str:
    return f"{value:.17g}x{minutes}"


def _counter(per_minute: int, minutes: int) -> str:
    return f"0+{per_minute}x{minutes}"


def _selector(metric: str, **labels: str) -> str:
    return metric + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _above(ratio: float, whole: int) -> int:
    """The smallest count out of `whole` whose share is above `ratio`."""
    count = math.floor(ratio * whole) + 1
    assert count / whole > ratio
    return count


def _below(ratio: float, whole: int) -> int:
    """The largest count out of `whole` whose share is not above `ratio`."""
    count = math.floor(ratio * whole)
    assert count / whole <= ratio
    return count


# Each builder gives (fire case, silent case) for one rule.
Builder = Callable[[AlertRule, EnvironmentSpec], tuple[Case, Case]]


def service_down(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    job = rule.labels["service"]
    labels = {"job": job, "instance": f"{job}:9000"}
    at = rule.for_minutes + 1
    series = _selector("up", **labels)
    return (
        Case("fires", rule, [(series, _const(0, at + 2))], at, labels),
        Case("silent", rule, [(series, _const(1, at + 2))], at, None),
    )


def service_restarting(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    thresholds = spec.monitoring.thresholds
    window, restarts = thresholds.restart_window_minutes, thresholds.restarts
    assert restarts <= window, "these cases restart at most once a minute"
    labels = {"job": rule.labels["service"], "instance": "backend-1:3000"}
    series = _selector("process_start_time_seconds", **labels)
    at = restarts + rule.for_minutes + 1
    # fires: a new start time every minute; silent: one restart fewer than the threshold, then none.
    every_minute = f"1000+60x{at + 2}"
    too_few = f"1000+60x{restarts - 1} {1000 + 60 * (restarts - 1)}x{at + 2}"
    return (
        Case("fires", rule, [(series, every_minute)], at, labels),
        Case("silent", rule, [(series, too_few)], at, None),
    )


def _http_requests(job: str, errors: int) -> list[tuple[str, str]]:
    minutes = 60
    common = {"job": job, "instance": f"{job}:3000", "method": "GET", "route": "/api/notes"}
    return [
        (_selector("http_requests_total", **common, status="200"), _counter(PER_MINUTE - errors, minutes)),
        (_selector("http_requests_total", **common, status="503"), _counter(errors, minutes)),
    ]


def high_error_ratio(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    ratio, job = spec.monitoring.thresholds.error_ratio, rule.labels["service"]
    at = HTTP_WINDOW_MINUTES + rule.for_minutes + 1
    return (
        Case("fires", rule, _http_requests(job, _above(ratio, PER_MINUTE)), at, {}),
        Case("silent", rule, _http_requests(job, _below(ratio, PER_MINUTE)), at, None),
    )


def _latency_buckets(job: str, threshold: float, slow: bool) -> list[tuple[str, str]]:
    """All requests in one bucket: (0, threshold] (p95 = 0.95 x threshold) or (threshold, 4 x threshold]."""
    common = {"job": job, "instance": f"{job}:3000", "method": "GET", "route": "/api/notes", "status": "200"}
    bounds = [(f"{threshold:.17g}", 0 if slow else 100), (f"{4 * threshold:.17g}", 100), ("+Inf", 100)]
    return [
        (_selector("http_request_duration_seconds_bucket", **common, le=le), _counter(count, 60))
        for le, count in bounds
    ]


def high_latency(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    threshold, job = spec.monitoring.thresholds.p95_latency_seconds, rule.labels["service"]
    at = HTTP_WINDOW_MINUTES + rule.for_minutes + 1
    return (
        Case("fires", rule, _latency_buckets(job, threshold, slow=True), at, {}),
        Case("silent", rule, _latency_buckets(job, threshold, slow=False), at, None),
    )


EDGE = {"job": EDGE_METRICS_JOB, "instance": f"{EDGE_METRICS_JOB}:9121"}


def _edge_requests(service: str, errors: int, minutes: int) -> list[tuple[str, str]]:
    """The exporter's window gauges: PER_MINUTE requests in the window, `errors` of them 503; and
    another service's, all failing, which the rule of `service` must not count."""
    window = "railway_edge_window_requests"
    return [
        (_selector(window, **EDGE, service=service, status="200"), _const(PER_MINUTE - errors, minutes)),
        (_selector(window, **EDGE, service=service, status="503"), _const(errors, minutes)),
        (_selector(window, **EDGE, service="other-service", status="503"), _const(PER_MINUTE, minutes)),
    ]


def edge_error_ratio(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    ratio, service = spec.monitoring.thresholds.error_ratio, rule.labels["service"]
    at = rule.for_minutes + 1
    return (
        Case("fires", rule, _edge_requests(service, _above(ratio, PER_MINUTE), at + 2), at, {}),
        Case("silent", rule, _edge_requests(service, _below(ratio, PER_MINUTE), at + 2), at, None),
    )


def edge_latency(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    """p95 just above the threshold fires; exactly at it is silent, however slow p99 is."""
    threshold, service = spec.monitoring.thresholds.p95_latency_seconds, rule.labels["service"]
    at = rule.for_minutes + 1
    duration = "railway_edge_request_duration_seconds"

    def series(p95: float) -> list[tuple[str, str]]:
        return [
            (_selector(duration, **EDGE, service=service, quantile="0.95"), _const(p95, at + 2)),
            (_selector(duration, **EDGE, service=service, quantile="0.99"), _const(10 * threshold, at + 2)),
        ]

    return (
        Case("fires", rule, series(math.nextafter(threshold, math.inf)), at, {}),
        Case("silent", rule, series(threshold), at, None),
    )


def edge_stale(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    """The data age one second past the staleness fires; at it, silent."""
    stale = _stale_after(rule)
    at = rule.for_minutes + 1
    series = _selector("railway_edge_data_age_seconds", **EDGE)
    return (
        Case("fires", rule, [(series, _const(stale + 1, at + 2))], at, {}),
        Case("silent", rule, [(series, _const(stale, at + 2))], at, None),
    )


EXPORTER = {"job": POSTGRES_EXPORTER_JOB, "instance": f"{POSTGRES_EXPORTER_JOB}:9187"}


def postgres_down(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    at = rule.for_minutes + 1
    series = _selector("pg_up", **EXPORTER)
    return (
        Case("fires", rule, [(series, _const(0, at + 2))], at, EXPORTER),
        Case("silent", rule, [(series, _const(1, at + 2))], at, None),
    )


def _connections(in_use: int, minutes: int) -> list[tuple[str, str]]:
    """max_connections 100, `in_use` of them: all but one active, one idle."""
    return [
        (_selector("pg_settings_max_connections", **EXPORTER), _const(100, minutes)),
        (_selector("pg_stat_activity_count", **EXPORTER, datname="mvs", state="active"), _const(in_use - 1, minutes)),
        (_selector("pg_stat_activity_count", **EXPORTER, datname="mvs", state="idle"), _const(1, minutes)),
    ]


def too_many_connections(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    ratio = spec.monitoring.thresholds.connections_ratio
    at = rule.for_minutes + 1
    return (
        Case("fires", rule, _connections(_above(ratio, 100), at + 2), at, {}),
        Case("silent", rule, _connections(_below(ratio, 100), at + 2), at, None),
    )


def _database_sizes(total: int, minutes: int) -> list[tuple[str, str]]:
    small = 8 * 10**6  # the `postgres` database beside the app's
    return [
        (_selector("pg_database_size_bytes", **EXPORTER, datname="mvs"), _const(total - small, minutes)),
        (_selector("pg_database_size_bytes", **EXPORTER, datname="postgres"), _const(small, minutes)),
    ]


def volume_nearly_full(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    ratio, volume = spec.monitoring.thresholds.volume_full_ratio, spec.database.volume_size_gb * GB
    at = rule.for_minutes + 1
    return (
        Case("fires", rule, _database_sizes(_above(ratio, volume), at + 2), at, {}),
        Case("silent", rule, _database_sizes(_below(ratio, volume), at + 2), at, None),
    )


def _stale_after(rule: AlertRule) -> int:
    """The staleness (seconds) a `time() - max(m) > N` rule compares with."""
    return int(rule.expr.rsplit(">", 1)[1])


def _step(minutes: int) -> int:
    return LONG_INTERVAL_MINUTES if minutes > LONG_AFTER_MINUTES else INTERVAL_MINUTES


def _timestamp_stale(metric: str) -> Builder:
    def build(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
        stale_minutes = _stale_after(rule) // 60
        step = _step(stale_minutes)
        at = stale_minutes + step + math.ceil(rule.for_minutes / step) * step + step
        samples = at // step + 2
        series = _selector(metric, job=BACKUP_JOB, stack=rule.labels["stack"])
        # fires: the last success at time 0, never again; silent: one just now, at every sample.
        return (
            Case("fires", rule, [(series, _const(0, samples))], at, {}, step),
            Case("silent", rule, [(series, f"0+{60 * step}x{samples}")], at, None, step),
        )

    return build


def _timestamp_missing(metric: str) -> Builder:
    def build(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
        step = _step(rule.for_minutes)
        at = math.ceil(rule.for_minutes / step) * step + step
        samples = at // step + 2
        other = (_selector("up", job="pushgateway", instance="pushgateway:9091"), _const(1, samples))
        present = (_selector(metric, job=BACKUP_JOB, stack=rule.labels["stack"]), f"0+{60 * step}x{samples}")
        return (
            Case("fires", rule, [other], at, {"job": BACKUP_JOB}, step),
            Case("silent", rule, [other, present], at, None, step),
        )

    return build


def drill_failed(rule: AlertRule, spec: EnvironmentSpec) -> tuple[Case, Case]:
    at = rule.for_minutes + 1
    pushed = {"job": BACKUP_JOB, "stack": rule.labels["stack"]}  # as the backup runner pushes it
    series = _selector("mvs_drill_last_passed", **pushed)
    return (
        Case("fires", rule, [(series, _const(0, at + 2))], at, pushed),
        Case("silent", rule, [(series, _const(1, at + 2))], at, None),
    )


BUILDERS: dict[str, Builder] = {
    "ServiceDown": service_down,
    "ServiceRestarting": service_restarting,
    "HighErrorRatio": high_error_ratio,
    "HighLatencyP95": high_latency,
    "EdgeHighErrorRatio": edge_error_ratio,
    "EdgeHighLatencyP95": edge_latency,
    "EdgeMetricsStale": edge_stale,
    "PostgresDown": postgres_down,
    "PostgresTooManyConnections": too_many_connections,
    "DatabaseVolumeNearlyFull": volume_nearly_full,
    "BackupStale": _timestamp_stale("mvs_backup_last_success_timestamp_seconds"),
    "BackupMissing": _timestamp_missing("mvs_backup_last_success_timestamp_seconds"),
    "RestoreDrillFailed": drill_failed,
    "RestoreDrillStale": _timestamp_stale("mvs_drill_last_run_timestamp_seconds"),
    "RestoreDrillMissing": _timestamp_missing("mvs_drill_last_run_timestamp_seconds"),
}


def cases(rules: list[AlertRule], spec: EnvironmentSpec) -> list[Case]:
    """A firing and a silent case for every rule; a rule without a builder is a KeyError."""
    result = []
    for rule in rules:
        for case in BUILDERS[rule.alert](rule, spec):
            service = rule.labels.get("service", "-")
            result.append(dataclasses.replace(case, name=f"{rule.alert} {service} {case.name}"))
    return result


def promtool_test_files(rule_file: str, selected: list[Case]) -> dict[int, dict[str, Any]]:
    """promtool test files running `selected` against `rule_file`, one per evaluation interval."""
    by_interval: dict[int, list[Case]] = {}
    for case in selected:
        by_interval.setdefault(case.interval_minutes, []).append(case)
    return {
        minutes: {
            "rule_files": [rule_file],
            "evaluation_interval": f"{minutes}m",
            "tests": [case.as_test() for case in group],
        }
        for minutes, group in sorted(by_interval.items())
    }
