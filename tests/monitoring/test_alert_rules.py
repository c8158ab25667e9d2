"""The alert rules as data: what the declaration puts into them, and what it leaves out."""

from __future__ import annotations

import re

import pytest
import yaml

from components.monitoring import (
    alert_rules,
    alerts,
    edge_stale_seconds,
    render_rules,
    scrape_jobs,
    staleness_seconds,
)
from components.spec import parse_environment

from .promtool import DEFAULT_STACKS, monitored_spec, raw_declaration

BACKUP_ALERTS = {"BackupStale", "BackupMissing", "RestoreDrillFailed", "RestoreDrillStale", "RestoreDrillMissing"}
DRILL_ALERTS = {"RestoreDrillFailed", "RestoreDrillStale", "RestoreDrillMissing"}
EDGE_ALERTS = {"EdgeHighErrorRatio", "EdgeHighLatencyP95", "EdgeMetricsStale"}
EVERY_STACK_ALERTS = {
    "ServiceDown",
    "ServiceRestarting",
    "HighErrorRatio",
    "HighLatencyP95",
    "PostgresDown",
    "PostgresTooManyConnections",
    "DatabaseVolumeNearlyFull",
}


def _by_name(rules: list, alert: str, service: str | None = None) -> list:
    return [r for r in rules if r.alert == alert and (service is None or r.labels.get("service") == service)]


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_default_stacks_have_every_alert_with_labels_and_annotations(stack: str) -> None:
    spec = monitored_spec(stack)
    rules = alerts(stack, spec)

    railway = spec.target == "railway"
    assert {r.alert for r in rules} == EVERY_STACK_ALERTS | BACKUP_ALERTS | (EDGE_ALERTS if railway else set())
    for rule in rules:
        assert rule.labels["stack"] == stack
        assert rule.labels["severity"] in ("page", "ticket")
        assert rule.annotations["summary"].startswith(f"{stack}: ")
        assert re.search(rf"`\./mvs [a-z]+ {stack}\b", rule.annotations["runbook"]), rule.runbook
    for service in ("backend", "frontend"):
        assert len(_by_name(rules, "ServiceDown", service)) == 1
        assert _by_name(rules, "ServiceDown", service)[0].expr == f'up{{job="{service}"}} == 0'


def test_one_group_per_concern_and_the_yaml_reads_back() -> None:
    document = alert_rules("prod", monitored_spec("prod"))

    assert [g["name"] for g in document["groups"]] == [
        "prod-services",
        "prod-http",
        "prod-edge",
        "prod-database",
        "prod-backups",
    ]
    assert yaml.safe_load(render_rules(document)) == document


def test_the_local_target_pages_no_one_and_railway_pages_for_outages() -> None:
    dev, prod = alerts("dev", monitored_spec("dev")), alerts("prod", monitored_spec("prod"))

    assert {r.labels["severity"] for r in dev} == {"ticket"}
    assert _by_name(prod, "ServiceDown", "backend")[0].labels["severity"] == "page"
    assert _by_name(prod, "PostgresDown")[0].labels["severity"] == "page"
    assert _by_name(prod, "BackupStale")[0].labels["severity"] == "ticket"


def test_thresholds_flow_into_expressions_and_waits() -> None:
    thresholds = {
        "error_ratio": 0.125,
        "p95_latency_seconds": 2.5,
        "connections_ratio": 0.7,
        "volume_full_ratio": 0.9,
        "restarts": 4,
        "restart_window_minutes": 30,
        "for_minutes": {"service_down": 7, "postgres_down": 0, "volume_full": 60},
    }
    rules = alerts("staging", monitored_spec("staging", thresholds=thresholds))

    assert _by_name(rules, "HighErrorRatio", "backend")[0].expr == (
        'sum(rate(http_requests_total{job="backend",status=~"5.."}[5m])) / '
        'sum(rate(http_requests_total{job="backend"}[5m])) > 0.125'
    )
    assert _by_name(rules, "HighLatencyP95", "backend")[0].expr.endswith(") > 2.5")
    assert _by_name(rules, "PostgresTooManyConnections")[0].expr == (
        'sum(pg_stat_activity_count{job="postgres-exporter"}) > 0.7 * '
        'min(pg_settings_max_connections{job="postgres-exporter"})'
    )
    # staging declares a 10 GB volume
    assert _by_name(rules, "DatabaseVolumeNearlyFull")[0].expr == (
        'sum(pg_database_size_bytes{job="postgres-exporter"}) / 10000000000 > 0.9'
    )
    assert _by_name(rules, "ServiceRestarting", "backend")[0].expr == (
        'changes(process_start_time_seconds{job="backend"}[30m]) >= 4'
    )
    assert _by_name(rules, "ServiceDown", "backend")[0].for_minutes == 7
    assert _by_name(rules, "DatabaseVolumeNearlyFull")[0].as_rule()["for"] == "1h"
    assert "for" not in _by_name(rules, "PostgresDown")[0].as_rule()
    assert "12.5%" in _by_name(rules, "HighErrorRatio", "backend")[0].summary


def test_a_stack_without_backups_has_no_backup_alerts_and_no_pushgateway() -> None:
    raw = raw_declaration("staging")
    raw["backups"] = {"enabled": False}
    raw["monitoring"] = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhookUrl"}}
    spec = parse_environment(raw, "stacks/Pulumi.staging.yaml")

    rules = alerts("staging", spec)

    assert not {r.alert for r in rules} & BACKUP_ALERTS
    assert "pushgateway" not in {r.labels.get("service") for r in rules}
    assert "pushgateway" not in scrape_jobs(spec)
    assert [g["name"] for g in alert_rules("staging", spec)["groups"]] == [
        "staging-services",
        "staging-http",
        "staging-edge",
        "staging-database",
    ]


def test_no_drill_alerts_without_a_verify_schedule() -> None:
    spec = monitored_spec("prod")
    spec = spec.model_copy(update={"backups": spec.backups.model_copy(update={"verify_schedule": None})})

    names = {r.alert for r in alerts("prod", spec)}

    assert {"BackupStale", "BackupMissing"} <= names
    assert not names & DRILL_ALERTS


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [
        ("0 * * * *", 2 * 3600),  # dev: hourly
        ("0 */6 * * *", 12 * 3600),  # prod
        ("15 3 * * *", 2 * 86400),  # staging: daily
        ("45 4 * * 0", 14 * 86400),  # staging's drill: weekly
        ("0 9 * * 1-5", 6 * 86400),  # weekdays: the weekend is the longest gap
        ("0 2,20 * * *", 2 * 18 * 3600),  # uneven: 20:00 to 02:00 is 6 h, 02:00 to 20:00 is 18 h
    ],
)
def test_staleness_is_twice_the_longest_gap_of_the_schedule(schedule: str, seconds: int) -> None:
    assert staleness_seconds(schedule) == seconds


def test_backup_staleness_follows_the_declared_schedules() -> None:
    spec = monitored_spec("dev")
    spec = spec.model_copy(
        update={
            "backups": spec.backups.model_copy(update={"dump_schedule": "0 9 * * 1-5", "verify_schedule": "0 3 1 * *"})
        }
    )
    rules = alerts("dev", spec)

    stale = _by_name(rules, "BackupStale")[0]
    assert stale.expr == f'time() - max(mvs_backup_last_success_timestamp_seconds{{job="backup"}}) > {6 * 86400}'
    assert "6d" in stale.summary and "'0 9 * * 1-5'" in stale.summary
    assert _by_name(rules, "BackupMissing")[0].as_rule()["for"] == "6d"
    # monthly on the 1st: the longest gap is 31 days
    assert _by_name(rules, "RestoreDrillStale")[0].expr.endswith(f"> {62 * 86400}")
    assert _by_name(rules, "RestoreDrillMissing")[0].for_minutes == 62 * 1440


def test_runbooks_name_the_targets_commands() -> None:
    dev, staging = alerts("dev", monitored_spec("dev")), alerts("staging", monitored_spec("staging"))

    assert "`docker exec mvs-dev-backup python -m backup_runner list`" in _by_name(dev, "BackupStale")[0].runbook
    assert "`./mvs logs dev backup`" in _by_name(dev, "RestoreDrillFailed")[0].runbook
    drill = _by_name(staging, "RestoreDrillFailed")[0]
    assert drill.labels["service"] == "backup-verify"
    assert "`./mvs logs staging backup-verify`" in drill.runbook
    assert "`./mvs logs staging database`" in _by_name(staging, "PostgresDown")[0].runbook


def test_cron_services_are_not_scraped_or_alerted_on_as_long_running() -> None:
    spec = monitored_spec("staging")
    report = spec.services["frontend"].model_copy(update={"cron_schedule": "0 6 * * *", "depends_on": []})
    spec = spec.model_copy(update={"services": {**spec.services, "report": report}})

    rules = alerts("staging", spec)

    assert "report" not in scrape_jobs(spec)
    assert "report" not in {r.labels.get("service") for r in rules}
    assert scrape_jobs(spec) == ["backend", "frontend", "postgres-exporter", "pushgateway", "edge-metrics"]


# Railway's edge metrics (the exporter of edge_metrics/)


def test_edge_rules_read_the_exporters_window_gauges_per_service() -> None:
    thresholds = {"error_ratio": 0.125, "p95_latency_seconds": 2.5, "for_minutes": {"error_ratio": 3}}
    rules = alerts("staging", monitored_spec("staging", thresholds=thresholds))

    ratio = _by_name(rules, "EdgeHighErrorRatio", "frontend")
    assert len(ratio) == 1
    assert ratio[0].expr == (
        'sum(railway_edge_window_requests{job="edge-metrics",service="frontend",status=~"5.."}) / '
        'sum(railway_edge_window_requests{job="edge-metrics",service="frontend"}) > 0.125'
    )
    assert ratio[0].for_minutes == 3
    assert ratio[0].labels == {"severity": "page", "stack": "staging", "service": "frontend"}
    assert "12.5%" in ratio[0].summary and "Railway's edge" in ratio[0].summary
    assert "`./mvs logs staging frontend`" in ratio[0].runbook
    assert _by_name(rules, "EdgeHighLatencyP95", "backend")[0].expr == (
        'max(railway_edge_request_duration_seconds{job="edge-metrics",service="backend",quantile="0.95"}) > 2.5'
    )
    assert _by_name(rules, "EdgeHighLatencyP95", "backend")[0].labels["severity"] == "ticket"
    # Every long-running service has both, whether it exports metrics of its own or not.
    assert {r.labels["service"] for r in _by_name(rules, "EdgeHighErrorRatio")} == {"backend", "frontend"}


def test_the_edge_exporter_is_scraped_and_watched_like_the_other_monitoring_parts() -> None:
    rules = alerts("prod", monitored_spec("prod"))

    (down,) = _by_name(rules, "ServiceDown", "edge-metrics")
    assert down.expr == 'up{job="edge-metrics"} == 0'
    assert down.labels["severity"] == "ticket"
    (stale,) = _by_name(rules, "EdgeMetricsStale")
    # 30 requests an hour by default: a poll every 120 s; stale after three.
    assert stale.expr == 'max(railway_edge_data_age_seconds{job="edge-metrics"}) > 360'
    assert stale.labels == {"severity": "ticket", "stack": "prod", "service": "edge-metrics"}
    assert "6m" in stale.summary
    assert "`./mvs logs prod edge-metrics`" in stale.runbook
    assert "edge-metrics" in scrape_jobs(monitored_spec("prod"))


@pytest.mark.parametrize(("budget", "stale"), [(30, 360), (10, 1080), (1, 10800), (1000, 300), (10000, 300)])
def test_edge_staleness_is_three_poll_intervals_of_the_declared_budget(budget: int, stale: int) -> None:
    spec = monitored_spec("staging", edge_metrics={"requests_per_hour": budget})

    assert edge_stale_seconds(spec) == stale
    assert _by_name(alerts("staging", spec), "EdgeMetricsStale")[0].expr.endswith(f"> {stale}")


def test_no_edge_rules_or_job_when_disabled_or_on_the_local_target() -> None:
    disabled = monitored_spec("staging", edge_metrics={"enabled": False})
    dev = monitored_spec("dev")

    for stack, spec in (("staging", disabled), ("dev", dev)):
        rules = alerts(stack, spec)
        assert not {r.alert for r in rules} & EDGE_ALERTS
        assert "edge-metrics" not in {r.labels.get("service") for r in rules}
        assert "edge-metrics" not in scrape_jobs(spec)
        assert f"{stack}-edge" not in [g["name"] for g in alert_rules(stack, spec)["groups"]]
