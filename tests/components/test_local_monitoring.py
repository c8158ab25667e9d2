"""The dev stack's monitoring under Pulumi mocks: every container with its pinned image, network
alias (the job name Prometheus scrapes it by), ports and health check; Prometheus's files exactly
as components/monitoring generates them; the Alertmanager file and the exporter's DSN secret; the
backup runner pushing to the Pushgateway only when there is one. (The containers on a real engine:
tests/docker/test_dev_monitoring_on_engine.py.)"""

from __future__ import annotations

import pulumi
import pytest
import yaml

from components.environment import build_environment
from components.local.monitoring import monitoring_parts
from components.monitoring import (
    alert_rules,
    alertmanager_config,
    local_targets,
    prometheus_config,
    render_config,
    render_rules,
    scrape_jobs,
)
from components.spec import parse_environment
from tests.components.conftest import CONTAINER, IMAGE, ROOT, SECRETS, dev_raw
from tests.components.recording import RecordingMocks, RecordingMonitor

MONITORING_SECRETS = {
    **SECRETS,
    "mvs:grafanaAdminPassword": "grafana-Never-Shown-3",
    "mvs:alertWebhookUrl": "http://hooks.example/Never-Shown-4",
}
STACK = "dev"
PARTS = ["postgres-exporter", "pushgateway", "alertmanager", "prometheus", "grafana"]


@pytest.fixture
def monitor():
    pulumi.runtime.set_all_config(MONITORING_SECRETS, list(MONITORING_SECRETS))
    monitor = RecordingMonitor(RecordingMocks())
    pulumi.runtime.set_mocks(RecordingMocks(), project="mvs", stack=STACK, preview=False, monitor=monitor)
    yield monitor
    pulumi.runtime.set_all_config({}, [])


def monitored_raw(webhook: bool = True, backups: bool = True) -> dict:
    raw = dev_raw()
    raw["monitoring"] = {"enabled": True, "alertmanager_host_port": 9393, "prometheus_retention_days": 7}
    if webhook:
        raw["monitoring"]["receivers"] = {"webhook_url_secret": "alertWebhookUrl"}
    if not backups:
        raw["backups"] = {"enabled": False}
    return raw


def build(raw: dict):
    spec = parse_environment(raw, f"stacks/Pulumi.{STACK}.yaml")
    return spec, build_environment(STACK, spec, ROOT)


def registered(stack) -> pulumi.Output:
    """Resolves once every container of the stack has been registered with the monitor."""
    children = [stack.database, *stack.containers.values()]
    if stack.monitoring is not None:
        parts = stack.monitoring
        children += [parts.prometheus, parts.grafana, parts.alertmanager, parts.postgres_exporter]
        children += [parts.pushgateway] if parts.pushgateway is not None else []
    if stack.backups is not None:
        children += [stack.backups.container]
    return pulumi.Output.all(*[child.urn for child in children], stack.urls)


def envs_of(registration) -> dict[str, str]:
    return dict(e.split("=", 1) for e in registration.inputs.get("env") or [])


def uploads_of(registration) -> dict[str, str]:
    return {upload["path"]: upload["content"] for upload in registration.inputs.get("uploads") or []}


@pulumi.runtime.test
def test_each_part_is_a_pinned_healthchecked_container_reached_by_its_job_name(monitor):
    spec, stack = build(monitored_raw())

    def check(args):
        urls = args[-1]
        network = monitor.named("dev-network").inputs["name"]
        images = {r.name: r.inputs["name"] for r in monitor.of_type(IMAGE)}
        declared = spec.monitoring
        assert {part: images[f"dev-{part}-image"] for part in PARTS} == {
            "postgres-exporter": declared.postgres_exporter_image,
            "pushgateway": declared.pushgateway_image,
            "alertmanager": declared.alertmanager_image,
            "prometheus": declared.prometheus_image,
            "grafana": declared.grafana_image,
        }
        for part in PARTS:
            container = monitor.named(f"dev-{part}")
            inputs = container.inputs
            assert inputs["name"] == f"mvs-dev-{part}"
            assert (inputs["network"], inputs["aliases"]) == (network, [part]), part
            assert inputs["image"].startswith("sha256:"), part
            assert monitor.named(f"dev-{part}-image").urn in container.property_dependencies["image"], part
            assert inputs["healthcheck"]["test"][:2] == ["CMD", "wget"], part
            assert inputs["restart"]["policy"] == "unless-stopped" and inputs["wait_seconds"] > 0, part
            labels = inputs["labels"]
            assert labels["com.mvs.stack"] == "dev" and labels["com.mvs.role"] == "monitoring", part
        checks = {part: monitor.named(f"dev-{part}").inputs["healthcheck"]["test"][-1] for part in PARTS}
        assert checks == {
            "postgres-exporter": "http://127.0.0.1:9187/",
            "pushgateway": "http://127.0.0.1:9091/-/healthy",
            "alertmanager": "http://127.0.0.1:9093/-/healthy",
            "prometheus": "http://127.0.0.1:9090/-/healthy",
            "grafana": "http://127.0.0.1:3000/api/health",
        }
        ports = {part: monitor.named(f"dev-{part}").inputs.get("ports", []) for part in PARTS}
        assert ports == {
            "postgres-exporter": [],
            "pushgateway": [],
            "alertmanager": [{"internal": 9093, "external": 9393, "ip": "127.0.0.1"}],
            "prometheus": [{"internal": 9090, "external": 9090, "ip": "127.0.0.1"}],
            "grafana": [{"internal": 3000, "external": 3001, "ip": "127.0.0.1"}],
        }
        # Every host Prometheus is told to scrape is a container's alias on the network.
        aliases = {monitor.named(f"dev-{part}").inputs["aliases"][0] for part in PARTS}
        aliases |= {c.inputs["aliases"][0] for c in monitor.of_type(CONTAINER)}
        hosts = {target.split(":")[0] for target in local_targets(spec).values()}
        assert hosts <= aliases and set(scrape_jobs(spec)) <= aliases
        assert urls["alertmanager"] == "http://localhost:9393" and urls["prometheus"] == "http://localhost:9090"
        made = [c.name.removeprefix("dev-") for c in monitor.of_type(CONTAINER) if c.parent.endswith("Monitoring::dev")]
        assert sorted(made) == sorted(monitoring_parts(spec)) == sorted(PARTS)  # what `./mvs ps` expects to find

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_prometheus_runs_the_generated_config_and_rules_with_the_declared_retention(monitor):
    spec, stack = build(monitored_raw())

    def check(_):
        prometheus = monitor.named("dev-prometheus")
        files = uploads_of(prometheus)
        assert files == {
            "/etc/prometheus/prometheus.yml": render_config(prometheus_config(STACK, spec, local_targets(spec))),
            "/etc/prometheus/dev.rules.yml": render_rules(alert_rules(STACK, spec)),
        }
        config = yaml.safe_load(files["/etc/prometheus/prometheus.yml"])
        assert config["rule_files"] == ["dev.rules.yml"]  # resolved beside prometheus.yml
        assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
        assert prometheus.inputs["command"] == [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--storage.tsdb.retention.time=7d",
        ]
        assert "uploads" not in prometheus.secret_inputs and "uploads" not in prometheus.secret_outputs
        volume = monitor.named("dev-prometheus-data")
        assert volume.inputs["name"] == "mvs-dev-prometheus" and volume.retain_on_delete, "kept like the database"
        assert prometheus.inputs["volumes"] == [{"volume": "mvs-dev-prometheus", "path": "/prometheus"}]
        for part in ("postgres-exporter", "pushgateway", "alertmanager"):
            assert monitor.named(f"dev-{part}").urn in prometheus.dependencies, part

    return registered(stack).apply(check)


def assert_no_plaintext(monitor, secret: str) -> None:
    """No registered input shows `secret` unless that input is marked secret."""
    for registration in monitor.registrations:
        shown = {k: v for k, v in registration.inputs.items() if k not in registration.secret_inputs}
        assert secret not in repr(shown), f"{registration.name} shows a secret in plaintext"


@pulumi.runtime.test
def test_the_alertmanager_file_holds_the_receiver_secret_and_is_secret_itself(monitor):
    spec, stack = build(monitored_raw())
    outputs = pulumi.runtime.settings.get_root_resource().outputs
    webhook = MONITORING_SECRETS["mvs:alertWebhookUrl"]

    async def check_all():
        await registered(stack).future()
        alertmanager = monitor.named("dev-alertmanager")
        assert "uploads" in alertmanager.secret_inputs and "uploads" in alertmanager.secret_outputs
        (upload,) = alertmanager.inputs["uploads"]
        assert upload["path"] == "/etc/alertmanager/alertmanager.yml"
        assert upload["content"] == render_config(alertmanager_config(STACK, spec, {"alertWebhookUrl": webhook}))
        assert (upload["owner"], upload["group"], upload["mode"]) == ("65534", "65534", "0600")
        assert alertmanager.inputs["command"][:2] == [
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
        ]
        for value in MONITORING_SECRETS.values():
            assert_no_plaintext(monitor, value)
        for name, value in outputs.items():
            plain = await pulumi.Output.from_input(value).future()
            is_secret = await pulumi.Output.from_input(value).is_secret()
            assert webhook not in repr(plain) or is_secret, f"output {name} shows the webhook URL"

    return pulumi.Output.from_input(check_all())


@pulumi.runtime.test
def test_dev_may_go_without_a_receiver(monitor):
    _, stack = build(monitored_raw(webhook=False))

    def check(_):
        (upload,) = monitor.named("dev-alertmanager").inputs["uploads"]
        config = yaml.safe_load(upload["content"])
        assert config["receivers"] == [{"name": "dev"}]
        assert config["route"]["receiver"] == "dev"

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_the_exporter_reads_the_database_by_its_alias_through_a_secret_dsn(monitor):
    _, stack = build(monitored_raw())

    def check(_):
        exporter = monitor.named("dev-postgres-exporter")
        assert "env" in exporter.secret_inputs and "env" in exporter.secret_outputs
        dsn = envs_of(exporter)["DATA_SOURCE_NAME"]
        assert dsn == (
            f"postgresql://mvs:{SECRETS['mvs:dbPassword']}@database:5432/mvs?sslmode=disable&connect_timeout=1"
        )
        assert monitor.named("dev-database").inputs["aliases"] == ["database"]
        assert "env" in monitor.named("dev-grafana").secret_inputs
        assert not monitor.named("dev-pushgateway").inputs.get("env")

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_the_backup_runner_pushes_to_the_pushgateway_with_monitoring(monitor):
    _, stack = build(monitored_raw())

    def check(_):
        runner = envs_of(monitor.named("dev-backup"))
        assert runner["PUSHGATEWAY_URL"] == "http://pushgateway:9091"
        assert runner["BACKUP_STACK"] == "dev"
        backups = next(r for r in monitor.registrations if r.type == "mvs:local:Backups")
        assert monitor.named("dev-pushgateway").urn in backups.dependencies

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_without_monitoring_the_runner_pushes_nowhere(monitor):
    _, stack = build(dev_raw())

    def check(_):
        runner = envs_of(monitor.named("dev-backup"))
        assert "PUSHGATEWAY_URL" not in runner and "BACKUP_STACK" not in runner
        assert not [r for r in monitor.of_type(CONTAINER) if r.name.removeprefix("dev-") in PARTS]

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_without_backups_there_is_no_pushgateway(monitor):
    spec, stack = build(monitored_raw(backups=False))

    def check(_):
        names = {r.name for r in monitor.of_type(CONTAINER)}
        assert "pushgateway" not in monitoring_parts(spec)
        assert names == {"dev-database", "dev-backend", "dev-frontend", *(f"dev-{p}" for p in PARTS)} - {
            "dev-pushgateway"
        }
        config = yaml.safe_load(uploads_of(monitor.named("dev-prometheus"))["/etc/prometheus/prometheus.yml"])
        assert [job["job_name"] for job in config["scrape_configs"]] == scrape_jobs(spec)
        assert "pushgateway" not in scrape_jobs(spec)

    return registered(stack).apply(check)
