"""Monitoring derived from the declaration, with no Pulumi inside: the alert rules Prometheus
evaluates (`alerts.py`). The targets deploy what these files describe."""

from .alerts import (
    BACKUP_JOB,
    POSTGRES_EXPORTER_JOB,
    PUSHGATEWAY_JOB,
    AlertRule,
    alert_rules,
    alerts,
    render_rules,
    scrape_jobs,
    staleness_seconds,
)

__all__ = [
    "BACKUP_JOB",
    "POSTGRES_EXPORTER_JOB",
    "PUSHGATEWAY_JOB",
    "AlertRule",
    "alert_rules",
    "alerts",
    "render_rules",
    "scrape_jobs",
    "staleness_seconds",
]
