"""A running monitored stack for the dashboard tests: every component that exports a metric the
dashboards may read, real, on loopback, scraped by a real Prometheus with the stack's generated
scrape jobs.

- PostgreSQL 15 (conftest.py's cluster of the module's own) and Debian's postgres_exporter on it;
- the real backend and the real frontend (`node .../src/server.js`, prom-client), each having
  answered a few requests, so their request counter and histogram have series;
- Debian's Pushgateway, to which the backup runner's own metrics module (backup_runner/metrics.py)
  pushed a good backup, a failed one and a passing drill, so every name it can push is there;
- Debian's Prometheus with `prometheus_config` of staging's declaration (monitoring enabled), its
  jobs backend, frontend, postgres-exporter and pushgateway (honor_labels), scraping every second.
  No rule file and no Alertmanager: the dashboards read scraped series only, and the names
  Prometheus holds are then exactly the scraped ones plus what it adds per scrape (`up`,
  `scrape_*`). Any other job the declaration grows (the edge-metrics exporter) is left out until a
  dashboard reads it.

The names "some component exports" are read from the components themselves (`exported`: each
target's /metrics, parsed), never listed by hand.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from backup_runner import metrics as runner_metrics
from components.monitoring import ALERTMANAGER, POSTGRES_EXPORTER_JOB, PUSHGATEWAY_JOB, prometheus_config, scrape_jobs
from components.monitoring.config import render_config
from mvsctl.loopback_s3 import free_port
from tests.app import conftest as app_fixtures
from tests.app.nodeproc import BACKEND, FRONTEND, start_server

from .conftest import PostgresCluster, Servers, wait_until
from .promtool import monitored_spec

frontend_modules = app_fixtures.frontend_modules  # the real frontend's node_modules, as a fixture here

STACK = "staging"
READY_DEADLINE = 60.0  # seconds for every job to be up and every rate() to have two samples
# A sample line of the text exposition format starts with its metric name, as Prometheus stores it.
# (prometheus_client's parser is not used: it renames a counter's samples that lack `_total`.)
SAMPLE_NAME = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ \t]", re.MULTILINE)


@dataclass
class DashboardStack:
    """The running stack: Prometheus's URL and each scrape job's /metrics URL."""

    prometheus: str
    metrics_urls: dict[str, str]  # job -> URL of what Prometheus scrapes for it
    servers: Servers

    def api(self, path: str, **params: str) -> httpx.Response:
        """GET Prometheus's HTTP API; the response as it came (a bad query is a 400)."""
        return httpx.get(f"{self.prometheus}/api/v1/{path}", params=params, timeout=10)

    def query(self, promql: str) -> list[dict]:
        response = self.api("query", query=promql)
        assert response.status_code == 200, f"{promql}: HTTP {response.status_code} {response.text}"
        return response.json()["data"]["result"]

    def exported(self) -> dict[str, set[str]]:
        """job -> the sample names its target serves now, read from the target itself."""
        found = {}
        for job, url in self.metrics_urls.items():
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            found[job] = set(SAMPLE_NAME.findall(text))
        return found

    def held(self) -> set[str]:
        """Every metric name Prometheus holds."""
        response = self.api("label/__name__/values")
        assert response.status_code == 200, response.text
        return set(response.json()["data"])

    def explain(self) -> str:
        up = json.dumps(self.query("up"), indent=1)
        logs = [f"--- {server.name}\n{server.log_text()[-2000:]}" for server in self.servers.started]
        return "\n".join([f"up: {up}", *logs])


def exercise(url: str, paths: list[str]) -> None:
    """A few real requests, so the request metrics have series (prom-client shows none before)."""
    with httpx.Client(timeout=10) as client:
        for path in paths:
            client.get(f"{url}{path}")


@pytest.fixture(scope="module")
def dashboard_stack(
    own_postgres: PostgresCluster, servers: Servers, backend_modules, frontend_modules
) -> Iterator[DashboardStack]:
    spec = monitored_spec(STACK)
    directory = servers.directory
    exporter_port = servers.start_postgres_exporter(own_postgres.url).port
    gateway_port = servers.start_pushgateway().port
    gateway = f"http://127.0.0.1:{gateway_port}"
    pushing = {runner_metrics.PUSHGATEWAY_ENV: gateway, runner_metrics.STACK_ENV: STACK}
    runner_metrics.backup_succeeded(size_bytes=123_456, duration_seconds=2.5, environ=pushing)
    runner_metrics.backup_failed(environ=pushing)
    runner_metrics.drill_finished(passed=True, environ=pushing)

    backend = start_server(BACKEND / "src" / "server.js", directory / "backend.log", DATABASE_URL=own_postgres.url)
    servers.on_stop(lambda: backend.stop() if backend.alive() else None)
    frontend = start_server(FRONTEND / "src" / "server.js", directory / "frontend.log", BACKEND_URL=backend.url)
    servers.on_stop(lambda: frontend.stop() if frontend.alive() else None)
    exercise(backend.url, ["/health", "/api/notes", "/nowhere"])
    exercise(frontend.url, ["/", "/app.js", "/health", "/api/notes", "/nowhere"])

    path = spec.monitoring.metrics_path
    hosts = {
        "backend": f"127.0.0.1:{backend.port}",
        "frontend": f"127.0.0.1:{frontend.port}",
        POSTGRES_EXPORTER_JOB: f"127.0.0.1:{exporter_port}",
        PUSHGATEWAY_JOB: f"127.0.0.1:{gateway_port}",
    }
    # Jobs the declaration has beyond these (another exporter) get a closed port and are left out:
    # no dashboard here reads them, and a job that is never up would only hold the test up.
    others = set(scrape_jobs(spec)) - set(hosts)
    assert set(hosts) <= set(scrape_jobs(spec)), "the jobs run here are the declaration's"
    unused = {job: f"127.0.0.1:{free_port()}" for job in [*others, ALERTMANAGER]}
    config = prometheus_config(STACK, spec, {**hosts, **unused}, rule_files=[])
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in hosts]
    del config["alerting"]  # nothing to alert on: no rules
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"  # test only
    prometheus_yml = directory / "dashboards-prometheus.yml"
    prometheus_yml.write_text(render_config(config), encoding="utf-8")
    prometheus = servers.start_prometheus(prometheus_yml, "dashboards-prometheus-data")
    metrics_urls = {
        job: f"http://{host}{path if job in ('backend', 'frontend') else '/metrics'}" for job, host in hosts.items()
    }
    stack = DashboardStack(prometheus.url, metrics_urls, servers)

    def all_up_twice() -> bool:
        # Two successful scrapes of each job: rate() and changes() need two samples.
        scraped = stack.query("count_over_time(up[1m]) >= 2 and up == 1")
        return {sample["metric"]["job"] for sample in scraped} == set(hosts)

    wait_until("every job scraped and up twice", all_up_twice, READY_DEADLINE, stack.explain)
    yield stack
