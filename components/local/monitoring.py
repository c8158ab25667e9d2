"""Optional Prometheus and Grafana for the local stack (`monitoring.enabled`).

Prometheus scrapes every service on the private network at `monitoring.metrics_path`; Grafana
starts with Prometheus provisioned as its default data source, and its admin password is a
declared secret. Both are pinned images with health checks, like every other container.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
import yaml

from ..monitoring.grafana import provisioning_files
from ..spec import EnvironmentSpec
from .healthchecks import container_healthcheck

PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000


def prometheus_config(spec: EnvironmentSpec) -> str:
    """prometheus.yml: one scrape job per service, addressed by its network alias."""
    monitoring = spec.monitoring
    jobs = [
        {
            "job_name": name,
            "metrics_path": monitoring.metrics_path,
            "static_configs": [{"targets": [f"{name}:{service.port}"]}],
        }
        for name, service in sorted(spec.services.items())
    ]
    config = {"global": {"scrape_interval": f"{monitoring.scrape_interval_seconds}s"}, "scrape_configs": jobs}
    return yaml.safe_dump(config, sort_keys=False)


def _wget_check(url: str) -> docker.ContainerHealthcheckArgs:
    tests = ["CMD", "wget", "-q", "-O", "/dev/null", url]
    return container_healthcheck(tests, interval=10, timeout=5, retries=5, start_period=10)


class LocalMonitoring(pulumi.ComponentResource):
    """Prometheus and Grafana containers on the stack's network."""

    urls: dict[str, str]

    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        network_name: pulumi.Input[str],
        admin_password: pulumi.Output[str],
        labels: list[docker.ContainerLabelArgs],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mvs:local:Monitoring", name, None, opts)
        monitoring = spec.monitoring
        child = pulumi.ResourceOptions(parent=self)

        def image(role: str, ref: str) -> pulumi.Output[str]:
            return docker.RemoteImage(f"{name}-{role}-image", name=ref, keep_locally=True, opts=child).image_id

        def network(alias: str) -> list[docker.ContainerNetworksAdvancedArgs]:
            return [docker.ContainerNetworksAdvancedArgs(name=network_name, aliases=[alias])]

        self.prometheus = docker.Container(
            f"{name}-prometheus",
            name=f"mvs-{name}-prometheus",
            image=image("prometheus", monitoring.prometheus_image),
            uploads=[
                docker.ContainerUploadArgs(file="/etc/prometheus/prometheus.yml", content=prometheus_config(spec))
            ],
            healthcheck=_wget_check(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/healthy"),
            restart="unless-stopped",
            networks_advanced=network("prometheus"),
            ports=[
                docker.ContainerPortArgs(
                    internal=PROMETHEUS_PORT, external=monitoring.prometheus_host_port, ip="127.0.0.1"
                )
            ],
            labels=labels,
            wait=True,
            wait_timeout=120,
            opts=child,
        )
        self.grafana = docker.Container(
            f"{name}-grafana",
            name=f"mvs-{name}-grafana",
            image=image("grafana", monitoring.grafana_image),
            envs=pulumi.Output.secret(
                admin_password.apply(lambda p: ["GF_SECURITY_ADMIN_USER=admin", f"GF_SECURITY_ADMIN_PASSWORD={p}"])
            ),
            uploads=[
                docker.ContainerUploadArgs(file=path, content=content)
                for path, content in provisioning_files(f"http://prometheus:{PROMETHEUS_PORT}").items()
            ],
            healthcheck=_wget_check(f"http://127.0.0.1:{GRAFANA_PORT}/api/health"),
            restart="unless-stopped",
            networks_advanced=network("grafana"),
            ports=[
                docker.ContainerPortArgs(internal=GRAFANA_PORT, external=monitoring.grafana_host_port, ip="127.0.0.1")
            ],
            labels=labels,
            wait=True,
            wait_timeout=120,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus]),
        )
        self.urls = {
            "prometheus": f"http://localhost:{monitoring.prometheus_host_port}",
            "grafana": f"http://localhost:{monitoring.grafana_host_port}",
        }
        self.register_outputs({"urls": self.urls})
