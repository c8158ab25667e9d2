"""End to end with real servers (issue 12): the generated Prometheus config and rule file and the
generated Alertmanager config, run by Debian's real Prometheus 2.42, Alertmanager 0.25,
Pushgateway 1.5 and postgres_exporter 0.11 on loopback, deliver the declared alerts to a webhook.

What runs, all started and stopped by fixtures (free ports, temporary directories):
- a PostgreSQL 15 cluster of this module's own (conftest.py), which the tests stop and start;
- postgres_exporter pointed at it (DATA_SOURCE_NAME);
- the real backend (`node app/backend/src/server.js`, prom-client metrics, tests/app/nodeproc.py);
- a real Pushgateway, which the real backup runner (`python -m backup_runner run`) pushes to;
- a real Prometheus loading the config of `prometheus_config` and the rules of `alert_rules`;
- a real Alertmanager loading the config of `alertmanager_config`, whose webhook receiver (the
  secret `alertWebhookUrl`) is a local HTTP server recording every delivery.

The declaration is staging's (railway: PostgresDown is `severity: page`) without the frontend
(one app service is enough to show the path; tests/monitoring/test_dashboards.py scrapes both),
with monitoring enabled, a webhook receiver and, as the declaration
allows, `for_minutes` of 0 for postgres_down and backup_stale. Shortened for the test only, in the
rendered documents and nowhere else:
- the scrape and evaluation interval is 1 s (the declaration's minimum is 5 s), except
  postgres-exporter's at EXPORTER_SCRAPE: postgres_exporter 0.11 takes about a second to answer
  (with `pg_up 0`) while PostgreSQL is down, and a scrape's timeout cannot exceed its interval, so
  at 1 s that scrape would fail and `pg_up` vanish instead of being 0 (at 5 s or more it cannot);
- the BackupStale staleness constant (twice the dump_schedule's longest gap, 600 s for
  `*/5 * * * *`) becomes STALE_SECONDS;
- Alertmanager's group_wait and group_interval are 1 s (RouteTimings, as a caller may set them).
Time is driven by these short intervals and polling with deadlines; nothing asserts on wall-clock
durations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.monitoring import (
    ALERTMANAGER,
    BACKUP_JOB,
    POSTGRES_EXPORTER_JOB,
    PUSHGATEWAY_JOB,
    RouteTimings,
    alert_rules,
    alertmanager_config,
    prometheus_config,
    render_config,
    render_rules,
    rule_file_name,
    scrape_jobs,
    staleness_seconds,
)
from components.spec import EnvironmentSpec, parse_environment
from mvsctl.loopback_s3 import free_port
from tests.app.nodeproc import BACKEND, NodeServer, start_server

from .conftest import PostgresCluster, Servers, WebhookRecorder, alertmanager_command, wait_until
from .promtool import raw_declaration

STACK = "staging"
STALE_SECONDS = 8  # BackupStale's threshold in the test's rule file (see the module docstring)
DUMP_SCHEDULE = "*/5 * * * *"
ALERT_DEADLINE = 40.0  # seconds for a condition to reach the webhook (intervals are 1 s)
WEBHOOK_SECRET = "alertWebhookUrl"
EXPORTER_SCRAPE = "3s"  # postgres_exporter 0.11 takes about 1 s to answer while PostgreSQL is down


def e2e_declaration() -> EnvironmentSpec:
    raw = raw_declaration(STACK)
    del raw["services"]["frontend"]
    del raw["release"]["images"]["frontend"]
    raw["backups"]["dump_schedule"] = DUMP_SCHEDULE
    raw["monitoring"] = {
        "enabled": True,
        "receivers": {"webhook_url_secret": WEBHOOK_SECRET},
        "thresholds": {"for_minutes": {"postgres_down": 0, "backup_stale": 0}},
        "edge_metrics": {"enabled": False},  # test_edge_metrics_e2e.py runs it with the emulator
    }
    return parse_environment(raw, f"stacks/Pulumi.{STACK}.yaml")


def e2e_rules(spec: EnvironmentSpec) -> dict:
    """The generated rule file with BackupStale's staleness constant shortened to STALE_SECONDS."""
    document = alert_rules(STACK, spec)
    stale = staleness_seconds(DUMP_SCHEDULE)
    shortened = 0
    for group in document["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == "BackupStale":
                assert rule["expr"].endswith(f"> {stale}"), rule["expr"]
                rule["expr"] = rule["expr"].removesuffix(f"> {stale}") + f"> {STALE_SECONDS}"
                assert "for" not in rule, "the declaration's for_minutes.backup_stale is 0"
                shortened += 1
            if rule["alert"] == "PostgresDown":
                assert "for" not in rule, "the declaration's for_minutes.postgres_down is 0"
    assert shortened == 1
    return document


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@dataclass
class Monitored:
    """The running stack: what the tests act on and read."""

    postgres: PostgresCluster
    prometheus: str
    pushgateway: str
    webhook: WebhookRecorder
    backup_dir: Path
    servers: Servers

    def query(self, promql: str) -> list[dict]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        return get_json(url)["data"]["result"]

    def alerts(self, alertname: str, status: str, since: int = 0) -> list[dict]:
        """The alerts named `alertname` with `status` the webhook received, from delivery `since` on."""
        return [
            alert
            for delivery in self.webhook.snapshot()[since:]
            for alert in delivery["alerts"]
            if alert["labels"].get("alertname") == alertname and alert["status"] == status
        ]

    def wait_for_alert(self, alertname: str, status: str, since: int = 0) -> dict:
        found = wait_until(
            f"{alertname} {status} delivered to the webhook",
            lambda: self.alerts(alertname, status, since),
            ALERT_DEADLINE,
            self.explain,
        )
        return found[0]

    def explain(self) -> str:
        """What the webhook got, what Prometheus sees and the servers' logs' ends, for a failure."""
        seen = []
        for promql in ("ALERTS", f'pg_up{{job="{POSTGRES_EXPORTER_JOB}"}}'):
            try:
                seen.append(f"{promql}: {json.dumps(self.query(promql))}")
            except OSError as error:
                seen.append(f"{promql}: {error}")
        logs = [f"--- {server.name}\n{server.log_text()[-3000:]}" for server in self.servers.started]
        return "\n".join([self.webhook.describe(), *seen, *logs])

    def run_backup(self) -> subprocess.CompletedProcess:
        env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url,
            "BACKUP_DESTINATION": str(self.backup_dir),
            "PUSHGATEWAY_URL": self.pushgateway,
            "BACKUP_STACK": STACK,
        }
        result = subprocess.run(
            [sys.executable, "-m", "backup_runner", "run"], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "warning" not in result.stderr, result.stderr
        return result


@pytest.fixture(scope="module")
def monitored(own_postgres, servers: Servers, webhook: WebhookRecorder, backend_modules) -> Monitored:
    spec = e2e_declaration()
    directory = servers.directory

    exporter_port = servers.start_postgres_exporter(own_postgres.url).port
    gateway_port = servers.start_pushgateway().port
    backend: NodeServer = start_server(
        BACKEND / "src" / "server.js", directory / "backend.log", DATABASE_URL=own_postgres.url
    )
    servers.on_stop(lambda: backend.stop() if backend.alive() else None)

    alertmanager_yml = directory / "alertmanager.yml"
    timings = RouteTimings(group_wait="1s", group_interval="1s", repeat_interval="1h")
    alertmanager_yml.write_text(
        render_config(alertmanager_config(STACK, spec, {WEBHOOK_SECRET: webhook.url}, timings)), encoding="utf-8"
    )
    alertmanager_yml.chmod(0o600)  # it holds the webhook URL, a secret
    alertmanager_port = free_port()
    servers.start(
        "alertmanager",
        alertmanager_command(
            f"--config.file={alertmanager_yml}",
            f"--storage.path={directory / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{alertmanager_port}",
            "--cluster.listen-address=",
        ),
        alertmanager_port,
        "/-/ready",
    )

    targets = {
        "backend": f"127.0.0.1:{backend.port}",
        POSTGRES_EXPORTER_JOB: f"127.0.0.1:{exporter_port}",
        PUSHGATEWAY_JOB: f"127.0.0.1:{gateway_port}",
        ALERTMANAGER: f"127.0.0.1:{alertmanager_port}",
    }
    config = prometheus_config(STACK, spec, targets)
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"  # test only
    for job in config["scrape_configs"]:
        if job["job_name"] == POSTGRES_EXPORTER_JOB:  # see the module docstring
            job["scrape_interval"] = job["scrape_timeout"] = EXPORTER_SCRAPE
    (directory / rule_file_name(STACK)).write_text(render_rules(e2e_rules(spec)), encoding="utf-8")
    prometheus_yml = directory / "prometheus.yml"
    prometheus_yml.write_text(render_config(config), encoding="utf-8")
    prometheus = servers.start_prometheus(prometheus_yml)
    stack = Monitored(
        own_postgres, prometheus.url, f"http://127.0.0.1:{gateway_port}", webhook, directory / "backups", servers
    )

    # Every job the rules read is scraped and up before anything is tested.
    def all_up() -> bool:
        up = {sample["metric"]["job"]: sample["value"][1] for sample in stack.query("up")}
        return set(up) == set(scrape_jobs(spec)) and set(up.values()) == {"1"}

    wait_until("every scrape job up", all_up, 30, lambda: json.dumps(stack.query("up"), indent=1))
    wait_until("pg_up 1", lambda: stack.query(f'pg_up{{job="{POSTGRES_EXPORTER_JOB}"}} == 1'), 30)
    wait_until(
        "Alertmanager known to Prometheus",
        lambda: get_json(f"{prometheus.url}/api/v1/alertmanagers")["data"]["activeAlertmanagers"],
        30,
    )
    return stack


def test_postgres_down_is_delivered_and_resolved(monitored: Monitored) -> None:
    assert monitored.alerts("PostgresDown", "firing") == []

    monitored.postgres.stop()
    try:
        firing = monitored.wait_for_alert("PostgresDown", "firing")
        since = len(monitored.webhook.snapshot())
    finally:
        monitored.postgres.start()

    assert firing["labels"]["alertname"] == "PostgresDown"
    assert firing["labels"]["stack"] == STACK
    assert firing["labels"]["severity"] == "page"
    assert firing["labels"]["service"] == "database"
    assert firing["labels"]["job"] == POSTGRES_EXPORTER_JOB
    assert firing["annotations"]["summary"] == f"{STACK}: PostgreSQL does not answer postgres_exporter"
    assert f"./mvs ps {STACK}" in firing["annotations"]["runbook"]

    resolved = monitored.wait_for_alert("PostgresDown", "resolved", since)
    assert resolved["labels"] == firing["labels"]
    assert monitored.query("pg_up == 1"), "postgres_exporter reaches the restarted server"


def test_backup_success_then_stale_then_resolved_by_a_new_backup(monitored: Monitored) -> None:
    success = f'mvs_backup_last_success_timestamp_seconds{{job="{BACKUP_JOB}"}}'

    monitored.run_backup()
    samples = wait_until(f"{success} scraped from the Pushgateway", lambda: monitored.query(success), 30)
    assert samples[0]["metric"]["stack"] == STACK, "honor_labels keeps the pushed stack label"
    assert samples[0]["metric"]["job"] == BACKUP_JOB

    # No new backup: after STALE_SECONDS the last success is "older than the threshold".
    stale = monitored.wait_for_alert("BackupStale", "firing")
    assert stale["labels"]["stack"] == STACK
    assert stale["labels"]["severity"] == "ticket"
    assert stale["labels"]["alertname"] == "BackupStale"

    since = len(monitored.webhook.snapshot())
    monitored.run_backup()
    resolved = monitored.wait_for_alert("BackupStale", "resolved", since)
    assert resolved["labels"]["alertname"] == "BackupStale" and resolved["labels"]["stack"] == STACK
    assert monitored.alerts("PostgresDown", "firing", since) == [], "nothing else fired meanwhile"
