"""What Grafana starts with, as files under its provisioning directory: Prometheus as the default
data source and the dashboards kept in this repository. Pure functions, no Pulumi inside; dev
uploads these files into its container, Railway's Grafana writes them at start from variables.

The dashboards are the JSON files in dashboards/ (services, PostgreSQL, backups). They name their
data source by DATASOURCE_UID, never by name or id, so the provisioned source is theirs on every
stack, and read only metrics of the contract in alerts.py's docstring (the backend's and the
frontend's prom-client metrics, postgres_exporter's, the backup runner's on the Pushgateway, and
Prometheus's own `up`); tests/monitoring/test_dashboards.py checks both on real servers. They are
handed out compact (no indentation), since on Railway each travels in a variable.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

PROVISIONING = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "/var/lib/grafana/dashboards"
DATASOURCE_UID = "prometheus"  # dashboards name their data source by this uid
DASHBOARD_SOURCES = Path(__file__).parent / "dashboards"


def datasource(prometheus_url: str) -> str:
    """provisioning/datasources/prometheus.yaml: the stack's Prometheus, the default source."""
    source = {
        "name": "Prometheus",
        "type": "prometheus",
        "uid": DATASOURCE_UID,
        "access": "proxy",
        "url": prometheus_url,
        "isDefault": True,
    }
    return yaml.safe_dump({"apiVersion": 1, "datasources": [source]}, sort_keys=False)


def dashboards() -> dict[str, str]:
    """The repository's dashboards: file name -> JSON text, compact. A file that is not JSON fails
    here, before anything is deployed."""
    found = {}
    for path in sorted(DASHBOARD_SOURCES.glob("*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))
        found[path.name] = json.dumps(model, separators=(",", ":"), ensure_ascii=False)
    return found


def provisioning_files(prometheus_url: str) -> dict[str, str]:
    """Every file Grafana needs, by absolute path in its container -> content."""
    files = {f"{PROVISIONING}/datasources/prometheus.yaml": datasource(prometheus_url)}
    found = dashboards()
    if found:
        provider = {
            "apiVersion": 1,
            "providers": [{"name": "mvs", "type": "file", "options": {"path": DASHBOARDS_DIR}}],
        }
        files[f"{PROVISIONING}/dashboards/mvs.yaml"] = yaml.safe_dump(provider, sort_keys=False)
        files.update({f"{DASHBOARDS_DIR}/{name}": text for name, text in found.items()})
    return files
