"""The configuration files the monitoring services run with, derived from the declaration: Prometheus's
`prometheus.yml` and Alertmanager's `alertmanager.yml`. Pure functions, no Pulumi inside; the
targets (dev's containers, Railway's services) deploy what these documents describe.

Prometheus (`prometheus_config`): the scrape and evaluation interval of
`monitoring.scrape_interval_seconds`, the stack's rule file (`alerts.py`, written beside the config
as `rule_file_name(stack)`), its Alertmanager, and exactly the scrape jobs the rules read
(`alerts.scrape_jobs`: the job names are the contract with the rules): one per long-running
service at `monitoring.metrics_path`, `postgres-exporter`, with backups `pushgateway` with
`honor_labels: true`, so the runner's pushed `job="backup"` and `stack` labels stay, and on Railway
with `monitoring.edge_metrics.enabled` `edge-metrics` (the exporter of edge_metrics/, at
`monitoring.edge_metrics.port`; its series carry a `service` label naming the declared service).
Where each job is reached is the caller's `targets` (job -> host:port, plus `alertmanager`), so one function
serves dev (network aliases on the private network: `local_targets`), Railway
(`<service>.railway.internal:<port>`: `railway_targets`) and the tests (loopback ports).

Alertmanager (`alertmanager_config`): one receiver per stack with every declared kind
(`monitoring.receivers`: webhook, Slack, e-mail), all with `send_resolved: true`, and one route
grouping by alert name and stack. The webhook URL, the Slack webhook URL and the SMTP password are
secrets: their values come in through `secrets` (name -> value) and appear nowhere but in the
returned document. **The rendered Alertmanager file is therefore a secret**: keep it out of logs,
diffs and plain Pulumi outputs (wrap it with `pulumi.Output.secret` before it becomes a resource
input, write it with mode 0600). Errors name missing secrets, never values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..spec import EnvironmentSpec
from .alerts import EDGE_METRICS_JOB, POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB, long_running_services, scrape_jobs

ALERTMANAGER = "alertmanager"  # the `targets` key of Prometheus's Alertmanager (no service may be named so)
POSTGRES_EXPORTER_PORT = 9187
PUSHGATEWAY_PORT = 9091
ALERTMANAGER_PORT = 9093
EXPORTER_METRICS_PATH = "/metrics"  # postgres_exporter, the Pushgateway and edge-metrics serve their metrics here
EXPORTER_JOBS = (POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB, EDGE_METRICS_JOB)
GROUP_BY = ["alertname", "stack"]

# The notification text of Slack and e-mail: each alert's summary and where to look further.
ALERT_TEXT = "{{ range .Alerts }}[{{ .Status }}] {{ .Annotations.summary }}\n{{ .Annotations.runbook }}\n{{ end }}"
SLACK_TITLE = "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.stack }})"


class MonitoringConfigError(ValueError):
    """A configuration that cannot be made: a missing target or secret. The message names what is
    missing and never holds a secret's value."""


@dataclass(frozen=True)
class RouteTimings:
    """Alertmanager's route timings. group_wait: how long a new group waits for more alerts before
    its first notification; group_interval: how long before telling about changes in a group
    (new alerts, resolved ones); repeat_interval: how long before repeating an unchanged one."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    repeat_interval: str = "4h"


def rule_file_name(stack: str) -> str:
    """The stack's rule file, relative to prometheus.yml (Prometheus resolves it from there)."""
    return f"{stack}.rules.yml"


def _seconds(value: int) -> str:
    return f"{value}s"


def _targets(spec: EnvironmentSpec, host) -> dict[str, str]:
    ports = {name: spec.services[name].port for name in long_running_services(spec)}
    ports.update(
        {
            POSTGRES_EXPORTER_JOB: POSTGRES_EXPORTER_PORT,
            PUSHGATEWAY_JOB: PUSHGATEWAY_PORT,
            EDGE_METRICS_JOB: spec.monitoring.edge_metrics.port,
        }
    )
    ports[ALERTMANAGER] = ALERTMANAGER_PORT
    wanted = [*scrape_jobs(spec), ALERTMANAGER]
    return {name: f"{host(name)}:{ports[name]}" for name in wanted}


def local_targets(spec: EnvironmentSpec) -> dict[str, str]:
    """dev: each container by its network alias (its service name) on the stack's private network."""
    return _targets(spec, lambda name: name)


def railway_targets(spec: EnvironmentSpec) -> dict[str, str]:
    """Railway: each service by its private DNS name, `<service>.railway.internal:<port>`."""
    return _targets(spec, lambda name: f"{name}.railway.internal")


def prometheus_config(
    stack: str, spec: EnvironmentSpec, targets: Mapping[str, str], rule_files: list[str] | None = None
) -> dict[str, Any]:
    """prometheus.yml of `stack`. `targets` maps every job of `scrape_jobs(spec)`, and
    `alertmanager`, to host:port; anything missing or unknown is an error. `rule_files` defaults to
    the stack's rule file beside the config."""
    jobs = scrape_jobs(spec)
    wanted = {*jobs, ALERTMANAGER}
    missing, unknown = sorted(wanted - set(targets)), sorted(set(targets) - wanted)
    if missing or unknown:
        problems = ([f"no target for {', '.join(missing)}"] if missing else []) + (
            [f"targets for undeclared jobs {', '.join(unknown)}"] if unknown else []
        )
        raise MonitoringConfigError(f"prometheus config of {stack}: {'; '.join(problems)}")
    interval = _seconds(spec.monitoring.scrape_interval_seconds)
    scrape_configs = []
    for job in jobs:
        scrape: dict[str, Any] = {"job_name": job}
        if job == PUSHGATEWAY_JOB:
            scrape["honor_labels"] = True
        scrape["metrics_path"] = EXPORTER_METRICS_PATH if job in EXPORTER_JOBS else spec.monitoring.metrics_path
        scrape["static_configs"] = [{"targets": [targets[job]]}]
        scrape_configs.append(scrape)
    return {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "external_labels": {"stack": stack},
        },
        "rule_files": list(rule_files) if rule_files is not None else [rule_file_name(stack)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [targets[ALERTMANAGER]]}]}]},
        "scrape_configs": scrape_configs,
    }


def _secret(secrets: Mapping[str, str], name: str, missing: list[str]) -> str:
    value = secrets.get(name)
    if not value:
        missing.append(name)
        return ""
    return value


def alertmanager_config(
    stack: str, spec: EnvironmentSpec, secrets: Mapping[str, str], timings: RouteTimings | None = None
) -> dict[str, Any]:
    """alertmanager.yml of `stack`: one receiver (named after the stack) with every declared kind,
    one route grouping by alertname and stack. `secrets` maps secret names to values; the result
    holds those values and is a secret itself. No receiver declared (allowed on dev): the receiver
    has no configuration, and Alertmanager keeps the alerts to itself (its UI, amtool)."""
    timings = timings or RouteTimings()
    declared = spec.monitoring.receivers
    missing: list[str] = []
    receiver: dict[str, Any] = {"name": stack}
    if declared.webhook_url_secret is not None:
        url = _secret(secrets, declared.webhook_url_secret, missing)
        receiver["webhook_configs"] = [{"url": url, "send_resolved": True}]
    if declared.slack is not None:
        api_url = _secret(secrets, declared.slack.webhook_url_secret, missing)
        receiver["slack_configs"] = [
            {
                "api_url": api_url,
                "channel": declared.slack.channel,
                "send_resolved": True,
                "title": SLACK_TITLE,
                "text": ALERT_TEXT,
            }
        ]
    if declared.email is not None:
        email = declared.email
        config: dict[str, Any] = {
            "to": ", ".join(email.to),
            "from": email.from_,
            "smarthost": email.smarthost,
            "send_resolved": True,
        }
        if email.username is not None and email.password_secret is not None:
            config["auth_username"] = email.username
            config["auth_password"] = _secret(secrets, email.password_secret, missing)
        receiver["email_configs"] = [config]
    if missing:
        raise MonitoringConfigError(
            f"alertmanager config of {stack}: no value for the secret(s) {', '.join(sorted(set(missing)))}"
        )
    return {
        "route": {
            "receiver": stack,
            "group_by": list(GROUP_BY),
            "group_wait": timings.group_wait,
            "group_interval": timings.group_interval,
            "repeat_interval": timings.repeat_interval,
        },
        "receivers": [receiver],
    }


def render_config(document: dict[str, Any]) -> str:
    """A configuration document as YAML. For the Alertmanager document the text is a secret."""
    return yaml.safe_dump(document, sort_keys=False, width=1_000_000, allow_unicode=True)
