"""Every image a dev declaration names, made on the test engine (no registry is reachable here):
the services and the backup runner built from the repository's Dockerfiles on Debian bases, and
stand-ins for the pulled images, tagged with exactly the names the declaration pins, so the
containers run from the image references `LocalStack` registers.

The monitoring stand-ins (tests/docker/images/<role>/) share one layer with Debian's packages
(images/monitoring-base) and mimic the official images: the same entrypoint, default arguments,
paths (/etc/prometheus/prometheus.yml, /prometheus, /etc/alertmanager/alertmanager.yml,
/alertmanager), user (nobody) and a wget for the health checks. Grafana has no Debian package and
no stand-in.
"""

from __future__ import annotations

import os
from pathlib import Path

import docker

from .conftest import IMAGES, _build_base, build, postgres_standin
from .declared import IMAGE, Declared

# The monitoring parts with a stand-in, each in tests/docker/images/<part>/.
MONITORING_STANDINS = ("prometheus", "alertmanager", "pushgateway", "postgres-exporter")


def build_services(engine: docker.DockerClient, ci_bases: dict[str, str], declared: Declared) -> None:
    """The images the stack builds from this repository (services and the backup runner)."""
    for image in declared.of_type(IMAGE):
        options = image.inputs["build"]
        base = ci_bases["python"] if "backup_runner" in options["dockerfile"] else ci_bases["node"]
        relative = os.path.relpath(options["dockerfile"], options["context"])
        args = {**options.get("args", {}), "BASE_IMAGE": base}
        build(engine, options["context"], image.inputs["imageName"], dockerfile=relative, **args)


def build_monitoring(engine: docker.DockerClient, ci_bases: dict[str, str], declared: Declared, tmp: Path) -> None:
    """A stand-in under the declared name of every monitoring image the stack pulls (but Grafana's)."""
    base = _build_base(engine, "monitoring-base", ci_bases["debian"], tmp)
    for part in MONITORING_STANDINS:
        name = f"{declared.stack}-{part}-image"
        if any(r.name == name for r in declared.registrations):
            build(engine, IMAGES / part, declared.named(name).inputs["name"], BASE_IMAGE=base)


def build_all(engine: docker.DockerClient, ci_bases: dict[str, str], declared: Declared, tmp: Path) -> None:
    build_services(engine, ci_bases, declared)
    postgres_standin(engine, ci_bases, declared.named(f"{declared.stack}-postgres-image").inputs["name"])
    build_monitoring(engine, ci_bases, declared, tmp)
