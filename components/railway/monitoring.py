"""Monitoring on Railway (`monitoring.enabled`): Prometheus, Alertmanager, postgres_exporter,
Grafana, with backups the Pushgateway, and with `monitoring.edge_metrics` the edge-metrics exporter,
each a service in the stack's environment beside the declared ones, reached over Railway's private
network as `<service>.railway.internal` (components/monitoring/config.py `railway_targets`).

Railway runs images and cannot upload files, so a configuration file travels as a variable and the
service's start command writes it before it execs the server. How a start command meets the image:
Railway's docs (docs.railway.com/deployments/start-command, "Set a Start Command"): for a Dockerfile
or image deployment "the start command overrides the image's ENTRYPOINT in exec form", and a command
that needs variables must wrap itself in a shell, `/bin/sh -c "exec python main.py --port $PORT"`,
"because commands ran in exec form do not support variable expansion". So each start command here
is `/bin/sh -c "<script>"` (prom/* images are busybox with /bin/sh, Grafana's image has sh) whose
script ends by exec-ing the image's own entrypoint with explicit flags; should Railway still append
the image's CMD, those words only become the script's unused positional parameters.

The script is written to survive any way of splitting the command into words (Railway does not
document its splitter): it holds no quote, backslash or backtick, only `set -ef; IFS=; mkdir -p
<dirs>; printf %s $VAR > <path>; ...; exec <server> <flags>`. With IFS empty and globbing off, an
unquoted `$VAR` expands to its exact value as one word (no field splitting, no pathname expansion),
and printf's `%s` prints it untouched, so the files hold byte for byte what the variables hold
(tests/engine/test_railway_monitoring.py runs these commands with a real /bin/sh and the real
servers). Paths are plain (`[A-Za-z0-9._/-]`), and no file may contain `${{`, which Railway would
read as a reference to resolve.

Secrets: Grafana's admin password, the Railway token of the edge exporter and Alertmanager's whole
`alertmanager.yml` are secret variables (`secret_names`); the Alertmanager file is one variable because
it holds the receivers' URLs and passwords and Alertmanager does not expand environment variables in
its configuration. Nothing else is secret: Prometheus's configuration and rules, the provisioning
files, the ids.

Prometheus keeps its samples on a volume (`monitoring.prometheus_volume_size_gb`, at
`/prometheus`, kept `monitoring.prometheus_retention_days`). Railway mounts volumes owned by root,
and the image runs as nobody, so the service runs as root (`RAILWAY_RUN_UID=0`). Metrics are not the
database: monitoring is never protected, and turning it off deletes the volume with the services.
That is not silent: the preview lists the volume's deletion, `./mvs summary` puts it first among
what holds data, and Railway keeps a deleted volume restorable for 48 hours. Alertmanager's silences
and Grafana's own database live in the container and start over on each deployment: everything
Grafana shows is provisioned, and its admin password is the variable's.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from ..monitoring import config
from ..monitoring.alerts import alert_rules, long_running_services, render_rules
from ..monitoring.grafana import provisioning_files
from ..spec import EnvironmentSpec
from .client import CONFIG_ENDPOINT, DEFAULT_ENDPOINT
from .providers.volume import MB_PER_GB
from .settings import AddedService, SecretSource, plain_settings

PROMETHEUS, ALERTMANAGER, PUSHGATEWAY = "prometheus", config.ALERTMANAGER, "pushgateway"
POSTGRES_EXPORTER, GRAFANA, EDGE_METRICS = "postgres-exporter", "grafana", "edge-metrics"
# The services monitoring adds, in the order `./mvs ps` lists them.
SERVICES = (PROMETHEUS, ALERTMANAGER, PUSHGATEWAY, POSTGRES_EXPORTER, GRAFANA, EDGE_METRICS)

PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"  # the rule file goes beside it
PROMETHEUS_DATA = "/prometheus"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
ALERTMANAGER_DATA = "/alertmanager"
GRAFANA_ADMIN = "admin"
HEALTH_TIMEOUT_SECONDS = 300  # Railway's default; Prometheus replays its WAL from the volume before it is ready
SHELL = "/bin/sh"
PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")
SCRIPT_SAFE = re.compile(r"^[A-Za-z0-9 ._/:=%$;>+-]+$")  # no quotes, backslashes, backticks or globs
RAILWAY_REFERENCE = "${{"


class MonitoringDeliveryError(ValueError):
    """A file that cannot travel as a variable. The message never holds a file's content."""


def file_variable(path: str) -> str:
    """The variable that carries the file at `path`: MVS_FILE_ and the path, upper-cased."""
    if not PLAIN_PATH.match(path):
        raise MonitoringDeliveryError(f"{path!r}: a file written by a start command has a plain path ([A-Za-z0-9._/-])")
    return "MVS_FILE" + re.sub(r"[^A-Z0-9]", "_", path.upper())


def file_variables(files: Mapping[str, str]) -> dict[str, str]:
    """path -> its variable, refusing two paths that would share one."""
    names = {path: file_variable(path) for path in files}
    if len(set(names.values())) != len(names):
        raise MonitoringDeliveryError(f"two files would share a variable: {sorted(names)}")
    return names


def checked_content(path: str, content: str) -> str:
    """A file's text, if Railway will keep it as it is (it resolves `${{...}}` in variables)."""
    if RAILWAY_REFERENCE in content:
        raise MonitoringDeliveryError(f"{path} contains {RAILWAY_REFERENCE}, which Railway would resolve")
    return content


def start_command(files: Sequence[str], argv: Sequence[str]) -> str:
    """`/bin/sh -c "<script>"`: write each file in `files` from its variable, then exec `argv`."""
    variables = file_variables(dict.fromkeys(files, ""))
    steps = ["set -ef", "IFS="]
    directories = sorted({posixpath.dirname(path) for path in files})
    if directories:
        steps.append("mkdir -p " + " ".join(directories))
    steps += [f"printf %s ${variables[path]} > {path}" for path in files]
    steps.append("exec " + " ".join(argv))
    script = "; ".join(steps)
    if not SCRIPT_SAFE.match(script):
        raise MonitoringDeliveryError(f"a start command may hold no quotes, backslashes or globs: {script}")
    return f'{SHELL} -c "{script}"'


def prometheus_argv(spec: EnvironmentSpec, binary: str = "/bin/prometheus", port: int = PROMETHEUS_PORT) -> list[str]:
    """The server and its flags: config and data paths, retention, listening on every address
    (Railway's private network reaches a service over IPv6 in older environments)."""
    return [
        binary,
        f"--config.file={PROMETHEUS_CONFIG}",
        f"--storage.tsdb.path={PROMETHEUS_DATA}",
        f"--storage.tsdb.retention.time={spec.monitoring.prometheus_retention_days}d",
        f"--web.listen-address=:{port}",
    ]


def prometheus_files(stack: str, spec: EnvironmentSpec) -> dict[str, str]:
    """prometheus.yml for Railway's private network, and the stack's rule file beside it."""
    document = config.prometheus_config(stack, spec, config.railway_targets(spec))
    rules = posixpath.join(posixpath.dirname(PROMETHEUS_CONFIG), config.rule_file_name(stack))
    return {
        PROMETHEUS_CONFIG: config.render_config(document),
        rules: render_rules(alert_rules(stack, spec)),
    }


def alertmanager_argv(binary: str = "/bin/alertmanager", port: int = config.ALERTMANAGER_PORT) -> list[str]:
    """One Alertmanager: no cluster to gossip with."""
    return [
        binary,
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--storage.path={ALERTMANAGER_DATA}",
        f"--web.listen-address=:{port}",
        "--cluster.listen-address=",
    ]


def grafana_files() -> dict[str, str]:
    """Grafana's provisioning, pointing at Prometheus over the private network."""
    return provisioning_files(f"http://{PROMETHEUS}.railway.internal:{PROMETHEUS_PORT}")


def _settings(image: str, health_path: str, start: str | None = None) -> dict[str, Any]:
    return plain_settings(
        image,
        start_command=start,
        healthcheck_path=health_path,
        healthcheck_timeout=HEALTH_TIMEOUT_SECONDS,
        restart_policy_type="ON_FAILURE",
        restart_policy_max_retries=10,
    )


def _with_files(files: Mapping[str, str]) -> dict[str, str]:
    names = file_variables(files)
    return {names[path]: checked_content(path, content) for path, content in files.items()}


def backup_variables(stack: str, spec: EnvironmentSpec) -> dict[str, str]:
    """What the backup runner needs to push its results, when monitoring runs."""
    if not spec.monitoring.enabled:
        return {}
    return {
        "PUSHGATEWAY_URL": f"http://{PUSHGATEWAY}.railway.internal:{config.PUSHGATEWAY_PORT}",
        "BACKUP_STACK": stack,
    }


def railway_endpoint() -> str | None:
    """The API endpoint the stack's config points at (`railway:endpoint`), unless it is Railway's own."""
    namespace, key = CONFIG_ENDPOINT.split(":")
    endpoint = pulumi.Config(namespace).get(key)
    return endpoint if endpoint and endpoint != DEFAULT_ENDPOINT else None


def monitoring_services(
    stack: str, spec: EnvironmentSpec, secret: SecretSource, environment_id: Any, service_ids: Mapping[str, Any]
) -> list[AddedService]:
    """The monitoring services of `stack`, for RailwayStack to add after the declared services (the
    edge exporter names their ids, `service_ids`). None when monitoring is off."""
    monitoring = spec.monitoring
    if not monitoring.enabled:
        return []

    def port(value: int) -> dict[str, str]:
        return {"PORT": str(value)}  # the port Railway's health check and domain reach

    files = prometheus_files(stack, spec)
    prometheus_volume = (
        PROMETHEUS_DATA,
        monitoring.prometheus_volume_size_gb * MB_PER_GB,
        "monitoring.prometheus_volume_size_gb",
        MB_PER_GB,
    )
    services = [
        AddedService(
            PROMETHEUS,
            _settings(monitoring.prometheus_image, "/-/ready", start_command(list(files), prometheus_argv(spec))),
            {**port(PROMETHEUS_PORT), "RAILWAY_RUN_UID": "0", **_with_files(files)},
            volume=prometheus_volume,
        )
    ]

    receivers = sorted(monitoring.receivers.secret_names())

    def alertmanager_yml(values: dict[str, str]) -> str:
        text = config.render_config(config.alertmanager_config(stack, spec, values))
        return checked_content(ALERTMANAGER_CONFIG, text)

    rendered = pulumi.Output.all(**{ref: secret(ref) for ref in receivers}).apply(alertmanager_yml)
    alertmanager_start = start_command([ALERTMANAGER_CONFIG], alertmanager_argv())
    services.append(
        AddedService(
            ALERTMANAGER,
            _settings(monitoring.alertmanager_image, "/-/ready", alertmanager_start),
            {**port(config.ALERTMANAGER_PORT), file_variable(ALERTMANAGER_CONFIG): pulumi.Output.secret(rendered)},
            secret_names=[file_variable(ALERTMANAGER_CONFIG)],
        )
    )
    if spec.backups.enabled:  # the Pushgateway's only users are the backup jobs
        pushgateway = _settings(monitoring.pushgateway_image, "/-/ready")
        services.append(AddedService(PUSHGATEWAY, pushgateway, port(config.PUSHGATEWAY_PORT)))
    # Railway's Postgres image serves TLS with a self-signed certificate: encrypted, not verified
    # (the private network is Railway's own); lib/pq's verify modes would refuse it.
    services.append(
        AddedService(
            POSTGRES_EXPORTER,
            _settings(monitoring.postgres_exporter_image, "/"),
            {**port(config.POSTGRES_EXPORTER_PORT), "DATA_SOURCE_NAME": "${{Postgres.DATABASE_URL}}?sslmode=require"},
            after_database=True,
        )
    )
    grafana = grafana_files()
    services.append(
        AddedService(
            GRAFANA,
            _settings(monitoring.grafana_image, "/api/health", start_command(list(grafana), ["/run.sh"])),
            {
                **port(GRAFANA_PORT),
                "GF_SECURITY_ADMIN_USER": GRAFANA_ADMIN,
                "GF_SECURITY_ADMIN_PASSWORD": secret(monitoring.grafana_admin_secret),
                **_with_files(grafana),
            },
            secret_names=["GF_SECURITY_ADMIN_PASSWORD"],
            port=GRAFANA_PORT,
            public=True,
        )
    )
    edge = monitoring.edge_metrics
    if edge.enabled:
        watched = {service: service_ids[service] for service in long_running_services(spec)}
        variables: dict[str, Any] = {
            **port(edge.port),
            "RAILWAY_API_TOKEN": secret(edge.token_secret),
            "RAILWAY_ENVIRONMENT_ID": environment_id,
            "EDGE_SERVICES": pulumi.Output.all(**watched).apply(lambda ids: json.dumps(ids, sort_keys=True)),
            "EDGE_REQUESTS_PER_HOUR": str(edge.requests_per_hour),
        }
        endpoint = railway_endpoint()
        if endpoint:
            variables["RAILWAY_API_ENDPOINT"] = endpoint
        edge_settings = _settings(edge.image, "/metrics")
        services.append(AddedService(EDGE_METRICS, edge_settings, variables, secret_names=["RAILWAY_API_TOKEN"]))
    return services
