"""End to end: Debian's real Prometheus scrapes the real exporter (`python -m edge_metrics`), which
reads the Railway emulator, with the rule file `alert_rules` generates for staging; the frontend
exports nothing (its scrape target does not answer), yet EdgeHighErrorRatio fires for it when the
traffic Railway's edge saw is mostly 5xx, and stops when it no longer is.

Shortened for the test only: the scrape and evaluation interval is 1 s, the declared
`for_minutes.error_ratio` 0, and the exporter's budget 3600 requests an hour (a poll a second).
The jobs other than edge-metrics point at loopback ports nothing listens on.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

from components.monitoring import (
    ALERTMANAGER,
    EDGE_METRICS_JOB,
    alert_rules,
    prometheus_config,
    render_config,
    render_rules,
    rule_file_name,
    scrape_jobs,
)
from mvsctl.loopback_s3 import free_port

from . import edge_fixtures
from .conftest import Servers, wait_until
from .edge_fixtures import EdgeWorld
from .promtool import monitored_spec

edge_world = edge_fixtures.edge_world  # the fixtures, for this module's tests
exporters = edge_fixtures.exporters
STACK = "staging"
DEADLINE = 40.0


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_edge_error_ratio_fires_for_a_service_that_exports_nothing(
    edge_world: EdgeWorld, exporters, servers: Servers
) -> None:
    spec = monitored_spec(
        STACK,
        thresholds={"for_minutes": {"error_ratio": 0}},
        edge_metrics={"requests_per_hour": 3600},
    )
    exporter = exporters(edge_world.env(EDGE_REQUESTS_PER_HOUR=str(spec.monitoring.edge_metrics.requests_per_hour)))
    targets = {job: f"127.0.0.1:{free_port()}" for job in [*scrape_jobs(spec), ALERTMANAGER]}
    targets[EDGE_METRICS_JOB] = f"127.0.0.1:{exporter.port}"
    config = prometheus_config(STACK, spec, targets)
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"  # test only
    directory = servers.directory
    (directory / rule_file_name(STACK)).write_text(render_rules(alert_rules(STACK, spec)), encoding="utf-8")
    (directory / "prometheus.yml").write_text(render_config(config), encoding="utf-8")
    prometheus = servers.start_prometheus(directory / "prometheus.yml")

    def query(promql: str) -> list[dict]:
        return get_json(f"{prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))["data"]["result"]

    def edge_alerts(state: str) -> list[dict]:
        return [
            alert
            for alert in get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"]
            if alert["labels"]["alertname"] == "EdgeHighErrorRatio" and alert["state"] == state
        ]

    def explain() -> str:
        seen = {q: query(q) for q in ("up", "railway_edge_window_requests", "ALERTS")}
        return json.dumps(seen, indent=1) + "\n--- exporter\n" + exporter.log()[-3000:]

    wait_until("edge-metrics scraped", lambda: query(f'up{{job="{EDGE_METRICS_JOB}"}} == 1'), DEADLINE, explain)
    wait_until("the frontend answers no scrape", lambda: query('up{job="frontend"} == 0'), DEADLINE, explain)

    at = time.time() - 1
    edge_world.traffic("frontend", 503, 90, at=at)
    edge_world.traffic("frontend", 200, 10, at=at)
    edge_world.traffic("backend", 200, 100, at=at)
    edge_world.traffic("backend", 500, 1, at=at)  # 1%: under the declared 5%

    # A poll may fall between the four recordings (on a busy machine it does), and the alert then
    # fires on the part that poll saw (frontend: 90 of 90 answered 503). Each evaluation updates
    # the value: wait for the one on a poll that saw all the traffic.
    (firing,) = wait_until(
        "EdgeHighErrorRatio firing on all the traffic",
        lambda: [alert for alert in edge_alerts("firing") if float(alert["value"]) == 0.9],
        DEADLINE,
        explain,
    )
    assert firing["labels"] == {
        "alertname": "EdgeHighErrorRatio",
        "severity": "page",
        "stack": STACK,
        "service": "frontend",
    }
    assert firing["annotations"]["summary"] == (
        f"{STACK}: more than 5% of frontend's requests are answered 5xx at Railway's edge"
    )
    assert f"./mvs logs {STACK} frontend" in firing["annotations"]["runbook"]
    assert float(firing["value"]) == 0.9
    assert query('http_requests_total{job="frontend"}') == [], "the frontend's own metrics: none"

    edge_world.traffic("frontend", 200, 3000, at=time.time() - 1)  # 90 of 3100: under 5%
    wait_until(
        "EdgeHighErrorRatio over", lambda: not edge_alerts("firing") and not edge_alerts("pending"), DEADLINE, explain
    )
    assert query('ALERTS{alertname="EdgeHighErrorRatio",alertstate="firing"}') == []
    assert query('ALERTS{alertname="EdgeMetricsStale"}') == [], "its data is fresh"
