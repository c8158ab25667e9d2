"""Stand-ins for the monitoring images a dev declaration pulls (no registry is reachable here),
tagged with exactly the names the declaration pins, so `./mvs up` runs them as it would the
official ones.

The stand-ins (tests/docker/images/<part>/) share one layer with Debian's packages
(images/monitoring-base) and mimic the official images: the same entrypoint, default arguments,
paths (/etc/prometheus/prometheus.yml, /prometheus, /etc/alertmanager/alertmanager.yml,
/alertmanager), user (nobody) and a wget for the health checks. Grafana has no Debian package: its
stand-in answers its health route only.
"""

from __future__ import annotations

from pathlib import Path

import docker

from components.spec import Monitoring

from .conftest import IMAGES, _build_base, build

# The monitoring parts, each with a stand-in in tests/docker/images/<part>/, and the declaration's
# key that names the official image.
STANDINS = {
    "prometheus": "prometheus_image",
    "alertmanager": "alertmanager_image",
    "pushgateway": "pushgateway_image",
    "postgres-exporter": "postgres_exporter_image",
    "grafana": "grafana_image",
}


def build_monitoring(engine: docker.DockerClient, ci_bases: dict[str, str], monitoring: Monitoring, tmp: Path) -> None:
    """A stand-in under the declared name of every monitoring image."""
    base = _build_base(engine, IMAGES / "monitoring-base", ci_bases["debian"], tmp)
    for part, key in STANDINS.items():
        build(engine, IMAGES / part, getattr(monitoring, key), BASE_IMAGE=base)
