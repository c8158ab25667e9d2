"""Optional monitoring for the local stack (`monitoring.enabled`), on the stack's private network.

Prometheus runs the configuration and the alert rules generated from the declaration
(components/monitoring), keeps its samples on the named volume `mvs-<stack>-prometheus` (so a
changed rule or configuration, which replaces the container, keeps the history, and `./mvs destroy`
keeps it like the other data volumes), scraping each job at the network alias `local_targets` names: so every
container here is reachable by exactly its job's name (`postgres-exporter`, `pushgateway`,
`alertmanager`). Alertmanager receives what the rules fire; its configuration holds the receivers'
secret URLs and passwords, so the uploaded file is a secret Output (encrypted in the state, never
shown in a diff) and readable in the container by its user only. postgres_exporter reads the
database as the stack's user; its DSN is a secret too. The Pushgateway exists only with backups:
the backup runner is its only user, and only then is it a scrape job. Grafana starts with
Prometheus as its data source. Only Prometheus, Alertmanager and Grafana publish a port (on
127.0.0.1); the exporter and the Pushgateway stay on the private network. Every container is a
pinned image with a health check and a restart policy, like the rest of the stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

from ..monitoring import (
    alert_rules,
    alertmanager_config,
    local_targets,
    prometheus_config,
    render_config,
    render_rules,
    rule_file_name,
)
from ..monitoring.config import ALERTMANAGER_PORT, POSTGRES_EXPORTER_PORT, PUSHGATEWAY_PORT
from ..monitoring.grafana import provisioning_files
from ..spec import EnvironmentSpec
from .healthchecks import container_healthcheck
from .providers.container import UNLESS_STOPPED, Container
from .providers.image import Image
from .providers.volume import Volume
from .secrets import SecretSource
from .volumes import KEEP_DATA, kept_volumes, prometheus_volume_name

PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
PROMETHEUS_DIR = "/etc/prometheus"
PROMETHEUS_CONFIG = f"{PROMETHEUS_DIR}/prometheus.yml"
PROMETHEUS_DATA = "/prometheus"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
ALERTMANAGER_DATA = "/alertmanager"
NOBODY = "65534"  # the user the official Prometheus, Alertmanager and exporter images run as
WAIT_SECONDS = 120
# A stopped database must read as `pg_up 0` within one scrape (5 s at the shortest), not as a failed
# scrape that loses `pg_up`: its name is gone from the network then, and where the engine's DNS
# cannot reach an upstream resolver the lookup alone takes 20 s. The exporter connects twice per
# scrape; with this limit (name lookup included) it answers in about 2 s (measured on such an engine).
EXPORTER_CONNECT_TIMEOUT_SECONDS = 1


def monitoring_parts(spec: EnvironmentSpec) -> list[str]:
    """The monitoring containers the declaration asks for, by role (`mvs-<stack>-<role>`, alias `role`)."""
    if not spec.monitoring.enabled:
        return []
    gateway = ["pushgateway"] if spec.backups.enabled else []
    return ["postgres-exporter", *gateway, "alertmanager", "prometheus", "grafana"]


def pushgateway_url(spec: EnvironmentSpec) -> str | None:
    """Where the backup runner pushes its results: the Pushgateway by its alias, when there is one."""
    return f"http://pushgateway:{PUSHGATEWAY_PORT}" if "pushgateway" in monitoring_parts(spec) else None


def prometheus_files(stack: str, spec: EnvironmentSpec) -> dict[str, str]:
    """prometheus.yml for the private network's aliases, and the stack's rule file beside it."""
    config = prometheus_config(stack, spec, local_targets(spec))
    return {
        PROMETHEUS_CONFIG: render_config(config),
        f"{PROMETHEUS_DIR}/{rule_file_name(stack)}": render_rules(alert_rules(stack, spec)),
    }


def prometheus_command(spec: EnvironmentSpec) -> list[str]:
    """The official image's default arguments, with the declared retention."""
    return [
        f"--config.file={PROMETHEUS_CONFIG}",
        f"--storage.tsdb.path={PROMETHEUS_DATA}",
        f"--storage.tsdb.retention.time={spec.monitoring.prometheus_retention_days}d",
    ]


ALERTMANAGER_COMMAND = [
    f"--config.file={ALERTMANAGER_CONFIG}",
    f"--storage.path={ALERTMANAGER_DATA}",
    "--cluster.listen-address=",  # one instance: no gossip port, and ready without peers
]


def alertmanager_file(stack: str, spec: EnvironmentSpec, secret: SecretSource) -> pulumi.Output[str]:
    """alertmanager.yml with the receivers' secret values filled in: a secret as a whole."""
    names = sorted(spec.monitoring.receivers.secret_names())

    def render(values: list[str]) -> str:
        return render_config(alertmanager_config(stack, spec, dict(zip(names, values, strict=True))))

    return pulumi.Output.secret(pulumi.Output.all(*[secret(name) for name in names]).apply(render))


def exporter_envs(database_url: pulumi.Output[str]) -> pulumi.Output[list[str]]:
    """postgres_exporter's DATA_SOURCE_NAME: the database URL (a secret), without TLS (the
    database container serves none) and with a connect timeout shorter than a scrape."""
    options = f"?sslmode=disable&connect_timeout={EXPORTER_CONNECT_TIMEOUT_SECONDS}"
    return pulumi.Output.secret(database_url.apply(lambda url: [f"DATA_SOURCE_NAME={url}{options}"]))


def wget_check(port: int, path: str) -> dict[str, Any]:
    """An HTTP check with the wget the official (busybox) images ship. Every 5 s: Docker runs the
    first check one interval after the start, and `up` waits for each of these containers."""
    tests = ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"]
    return container_healthcheck(tests, interval=5, timeout=3, retries=5, start_period=10)


class LocalMonitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager, postgres_exporter, the Pushgateway (with backups) and Grafana."""

    urls: dict[str, str]
    pushgateway: Container | None

    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        network_name: pulumi.Input[str],
        secret: SecretSource,
        database_url: pulumi.Output[str],
        labels: dict[str, str],
        declared_as: Callable[[list[dict[str, Any]]], dict[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mvs:local:Monitoring", name, None, opts)
        self._name, self._network_name, self._labels, self._declared_as = name, network_name, labels, declared_as
        monitoring = spec.monitoring

        self.postgres_exporter = self._container(
            "postgres-exporter",
            monitoring.postgres_exporter_image,
            env=exporter_envs(database_url),
            secret_names=["DATA_SOURCE_NAME"],
            healthcheck=wget_check(POSTGRES_EXPORTER_PORT, "/"),
        )
        self.pushgateway = None
        if "pushgateway" in monitoring_parts(spec):
            self.pushgateway = self._container(
                "pushgateway", monitoring.pushgateway_image, healthcheck=wget_check(PUSHGATEWAY_PORT, "/-/healthy")
            )
        self.alertmanager = self._container(
            "alertmanager",
            monitoring.alertmanager_image,
            command=ALERTMANAGER_COMMAND,
            # Secret as a whole, not only the content inside it: then no diff or output shows the file.
            uploads=pulumi.Output.secret(
                [
                    {
                        "path": ALERTMANAGER_CONFIG,
                        "content": alertmanager_file(name, spec, secret),
                        "owner": NOBODY,
                        "group": NOBODY,
                        "mode": "0600",
                    }
                ]
            ),
            secret_files=True,
            healthcheck=wget_check(ALERTMANAGER_PORT, "/-/healthy"),
            host_port=(ALERTMANAGER_PORT, monitoring.alertmanager_host_port),
        )
        scraped = [self.postgres_exporter, self.alertmanager, *([self.pushgateway] if self.pushgateway else [])]
        self.prometheus_volume = Volume(
            f"{name}-prometheus-data",
            name=prometheus_volume_name(name),
            labels={k: v for k, v in labels.items() if k != "com.mvs.release"},
            holds=kept_volumes(name)[prometheus_volume_name(name)],
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), KEEP_DATA),
        )
        self.prometheus = self._container(
            "prometheus",
            monitoring.prometheus_image,
            command=prometheus_command(spec),
            volumes=[{"volume": self.prometheus_volume.name, "path": PROMETHEUS_DATA}],
            uploads=[{"path": path, "content": content} for path, content in prometheus_files(name, spec).items()],
            healthcheck=wget_check(PROMETHEUS_PORT, "/-/healthy"),
            host_port=(PROMETHEUS_PORT, monitoring.prometheus_host_port),
            depends_on=scraped,
        )
        self.grafana = self._container(
            "grafana",
            monitoring.grafana_image,
            env=pulumi.Output.secret(
                secret(monitoring.grafana_admin_secret).apply(
                    lambda p: ["GF_SECURITY_ADMIN_USER=admin", f"GF_SECURITY_ADMIN_PASSWORD={p}"]
                )
            ),
            secret_names=["GF_SECURITY_ADMIN_PASSWORD"],
            uploads=[
                {"path": path, "content": content}
                for path, content in provisioning_files(f"http://prometheus:{PROMETHEUS_PORT}").items()
            ],
            healthcheck=wget_check(GRAFANA_PORT, "/api/health"),
            host_port=(GRAFANA_PORT, monitoring.grafana_host_port),
            depends_on=[self.prometheus],
        )
        self.urls = {
            "prometheus": f"http://localhost:{monitoring.prometheus_host_port}",
            "alertmanager": f"http://localhost:{monitoring.alertmanager_host_port}",
            "grafana": f"http://localhost:{monitoring.grafana_host_port}",
        }
        self.register_outputs({"urls": self.urls})

    def _container(
        self,
        role: str,
        image_ref: str,
        healthcheck: dict[str, Any],
        host_port: tuple[int, int] | None = None,
        depends_on: list[pulumi.Resource] | None = None,
        **args,
    ) -> Container:
        """`mvs-<stack>-<role>`, reached on the private network by its alias `role` (the job name
        Prometheus scrapes it by), published on 127.0.0.1 only when `host_port` is given."""
        image = Image(f"{self._name}-{role}-image", name=image_ref, opts=pulumi.ResourceOptions(parent=self))
        ports = []
        if host_port is not None:
            internal, external = host_port
            ports = [{"internal": internal, "external": external, "ip": "127.0.0.1"}]
        return Container(
            f"{self._name}-{role}",
            name=f"mvs-{self._name}-{role}",
            image=image.image_id,
            healthcheck=healthcheck,
            restart=UNLESS_STOPPED,
            network=self._network_name,
            aliases=[role],
            ports=ports,
            labels=self._labels,
            wait_seconds=WAIT_SECONDS,
            waits_for=f"{role} to pass its health check",
            declared_as=self._declared_as(ports),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or []),
            **args,
        )
