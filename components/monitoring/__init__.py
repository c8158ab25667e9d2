"""Monitoring derived from the declaration, with no Pulumi inside: the alert rules Prometheus
evaluates (`alerts.py`, among them those on Railway's edge metrics, which the exporter of
edge_metrics/ reads), and the configuration files of Prometheus and Alertmanager (`config.py`;
the rendered Alertmanager file holds the receivers' secrets). The targets deploy what these files describe."""

from .alerts import (
    BACKUP_JOB,
    EDGE_METRICS_JOB,
    POSTGRES_EXPORTER_JOB,
    PUSHGATEWAY_JOB,
    AlertRule,
    alert_rules,
    alerts,
    edge_metrics_enabled,
    edge_stale_seconds,
    render_rules,
    scrape_jobs,
    staleness_seconds,
)
from .config import (
    ALERTMANAGER,
    MonitoringConfigError,
    RouteTimings,
    alertmanager_config,
    local_targets,
    prometheus_config,
    railway_targets,
    render_config,
    rule_file_name,
)

__all__ = [
    "ALERTMANAGER",
    "BACKUP_JOB",
    "EDGE_METRICS_JOB",
    "POSTGRES_EXPORTER_JOB",
    "PUSHGATEWAY_JOB",
    "AlertRule",
    "MonitoringConfigError",
    "RouteTimings",
    "alert_rules",
    "alertmanager_config",
    "alerts",
    "edge_metrics_enabled",
    "edge_stale_seconds",
    "local_targets",
    "prometheus_config",
    "railway_targets",
    "render_config",
    "render_rules",
    "rule_file_name",
    "scrape_jobs",
    "staleness_seconds",
]
