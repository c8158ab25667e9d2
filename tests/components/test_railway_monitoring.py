"""Monitoring on Railway under Pulumi mocks: the services monitoring adds to staging, their settings,
start commands, variables, volume and domain; which variables are secret (and that no secret value
shows anywhere else); nothing of it with monitoring off. The engine runs and the real shell are in
tests/engine/test_railway_monitoring.py."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from components.monitoring import alert_rules, alertmanager_config, prometheus_config, railway_targets, render_config
from components.monitoring.alerts import render_rules
from components.monitoring.grafana import provisioning_files
from components.railway import monitoring
from components.railway.monitoring import (
    MonitoringDeliveryError,
    checked_content,
    file_variable,
    start_command,
)
from components.railway.stack import RailwayStack
from components.spec import parse_environment
from tests.components.conftest import ROOT

SECRETS = {
    "mvs:dbPassword": "pw-Never-Shown-1",
    "mvs:sessionSecret": "session-Never-Shown-2",
    "mvs:backupAccessKey": "access-Never-Shown-3",
    "mvs:backupSecretKey": "key-Never-Shown-4",
    "mvs:alertWebhook": "https://hooks.example.com/Never-Shown-5",
    "mvs:grafanaAdminPassword": "grafana-Never-Shown-6",
    "mvs:railwayMetricsToken": "token-Never-Shown-7",
}
DYNAMIC = "pulumi-python:dynamic/railway:"
SIX = ["prometheus", "alertmanager", "pushgateway", "postgres-exporter", "grafana", "edge-metrics"]


def staging_raw(**monitoring: Any) -> dict:
    raw = yaml.safe_load((ROOT / "stacks/Pulumi.staging.yaml").read_text())["config"]["mvs:environment"]
    raw = copy.deepcopy(raw)
    raw["monitoring"] = {
        "enabled": True,
        "receivers": {"webhook_url_secret": "alertWebhook"},
        "prometheus_volume_size_gb": 7,
        "prometheus_retention_days": 30,
        **monitoring,
    }
    return raw


def build(raw: dict, config: dict[str, str] | None = None) -> tuple[RailwayStack, Any]:
    settings = {**SECRETS, **(config or {})}
    pulumi.runtime.set_all_config(settings, list(SECRETS))
    spec = parse_environment(raw, "stacks/Pulumi.staging.yaml")
    stack = RailwayStack("staging", spec, lambda name: pulumi.Config("mvs").require_secret(name))
    return stack, spec


def registered(stack: RailwayStack) -> pulumi.Output:
    return pulumi.Output.all(*[d.urn for d in stack.deployments.values()], stack.urls, stack.service_ids)


def by_name(monitor, kind: str) -> dict[str, Any]:
    return {r.name: r for r in monitor.of_type(DYNAMIC + kind)}


def run(stack: RailwayStack, check: Callable[[Any], None]) -> pulumi.Output:
    return registered(stack).apply(check)


@pulumi.runtime.test
def test_the_monitoring_services_run_their_pinned_images_with_health_checks_and_bounded_restarts(monitor):
    stack, _ = build(staging_raw())

    def check(_):
        settings = by_name(monitor, "ServiceInstance")
        services = {r.inputs["name"] for r in monitor.of_type(DYNAMIC + "Service")}
        assert set(SIX) <= services
        images = {name: settings[f"staging-{name}-settings"].inputs["image"] for name in SIX}
        assert images == {
            "prometheus": "prom/prometheus:v2.55.1",
            "alertmanager": "prom/alertmanager:v0.27.0",
            "pushgateway": "prom/pushgateway:v1.10.0",
            "postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.16.0",
            "grafana": "grafana/grafana:11.3.0",
            "edge-metrics": "ghcr.io/mvs-app/edge-metrics:0.1.0",
        }
        paths = {name: settings[f"staging-{name}-settings"].inputs["healthcheck_path"] for name in SIX}
        assert paths == {
            "prometheus": "/-/ready",
            "alertmanager": "/-/ready",
            "pushgateway": "/-/ready",
            "postgres-exporter": "/",
            "grafana": "/api/health",
            "edge-metrics": "/metrics",
        }
        for name in SIX:
            inputs = settings[f"staging-{name}-settings"].inputs
            assert (inputs["restart_policy_type"], inputs["restart_policy_max_retries"]) == ("ON_FAILURE", 10)
            assert inputs["num_replicas"] == 1 and inputs.get("cron_schedule") is None
            assert inputs["healthcheck_timeout"] > 0
        protected = {r.name for r in monitor.registrations if r.protect}
        assert not {r for r in protected if any(f"staging-{name}" in r for name in SIX)}, protected

    return run(stack, check)


@pulumi.runtime.test
def test_prometheus_keeps_its_samples_on_a_volume_and_runs_the_generated_configuration(monitor):
    stack, spec = build(staging_raw())

    def check(_):
        volume = monitor.named("staging-prometheus-volume")
        assert (volume.inputs["mount_path"], volume.inputs["size_mb"]) == ("/prometheus", 7000)
        assert volume.inputs["declared_as"]["key"] == "mvs:environment.monitoring.prometheus_volume_size_gb"
        assert not volume.protect
        settings = monitor.named("staging-prometheus-settings").inputs
        config_path, rules_path = "/etc/prometheus/prometheus.yml", "/etc/prometheus/staging.rules.yml"
        assert settings["start_command"] == start_command(
            [config_path, rules_path],
            [
                "/bin/prometheus",
                f"--config.file={config_path}",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=30d",
                "--web.listen-address=:9090",
            ],
        )
        variables = monitor.named("staging-prometheus-variables").inputs["variables"]
        expected = render_config(prometheus_config("staging", spec, railway_targets(spec)))
        assert variables[file_variable(config_path)] == expected
        assert "backend.railway.internal:3000" in expected and "postgres-exporter.railway.internal:9187" in expected
        assert variables[file_variable(rules_path)] == render_rules(alert_rules("staging", spec))
        assert (variables["PORT"], variables["RAILWAY_RUN_UID"]) == ("9090", "0")

    return run(stack, check)


@pulumi.runtime.test
def test_grafana_is_public_on_its_port_with_its_provisioning_and_its_url_is_an_output(monitor):
    stack, _ = build(staging_raw())

    def check(outputs):
        *_, urls, _ids = outputs
        domain = monitor.named("staging-grafana-domain")
        assert domain.inputs["target_port"] == 3000
        assert urls["grafana"] == "https://staging-grafana-domain:domain"
        assert not {f"staging-{name}-domain" for name in SIX if name != "grafana"} & {
            r.name for r in monitor.registrations
        }, "only Grafana is public"
        files = provisioning_files("http://prometheus.railway.internal:9090")
        variables = monitor.named("staging-grafana-variables").inputs["variables"]
        assert {file_variable(path): content for path, content in files.items()}.items() <= variables.items()
        assert variables["GF_SECURITY_ADMIN_USER"] == "admin"
        assert monitor.named("staging-grafana-settings").inputs["start_command"] == start_command(
            list(files), ["/run.sh"]
        )

    return run(stack, check)


@pulumi.runtime.test
def test_alertmanager_exporters_and_backups_are_wired_over_the_private_network(monitor):
    stack, spec = build(staging_raw())

    def check(_):
        variables = {r.name: r.inputs["variables"] for r in monitor.of_type(DYNAMIC + "Variables")}
        yml = variables["staging-alertmanager-variables"][file_variable("/etc/alertmanager/alertmanager.yml")]
        secrets = {"alertWebhook": SECRETS["mvs:alertWebhook"]}
        assert yml == render_config(alertmanager_config("staging", spec, secrets))
        assert (
            monitor.named("staging-alertmanager-settings")
            .inputs["start_command"]
            .endswith(
                "exec /bin/alertmanager --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager "
                '--web.listen-address=:9093 --cluster.listen-address="'
            )
        )
        exporter = variables["staging-postgres-exporter-variables"]
        assert exporter == {"PORT": "9187", "DATA_SOURCE_NAME": "${{Postgres.DATABASE_URL}}?sslmode=require"}
        deployments = by_name(monitor, "Deployment")
        assert deployments["staging-database-deployment"].urn in (
            deployments["staging-postgres-exporter-deployment"].dependencies
        )
        assert variables["staging-pushgateway-variables"] == {"PORT": "9091"}
        for job in ("backup", "backup-verify"):
            assert (
                variables[f"staging-{job}-variables"]["PUSHGATEWAY_URL"] == "http://pushgateway.railway.internal:9091"
            )
            assert variables[f"staging-{job}-variables"]["BACKUP_STACK"] == "staging"
        edge = variables["staging-edge-metrics-variables"]
        watched = json.loads(edge.pop("EDGE_SERVICES"))
        assert watched == {"backend": "staging-backend-id", "frontend": "staging-frontend-id"}
        assert edge == {
            "PORT": "9121",
            "RAILWAY_API_TOKEN": SECRETS["mvs:railwayMetricsToken"],
            "RAILWAY_ENVIRONMENT_ID": "staging-environment-id",
            "EDGE_REQUESTS_PER_HOUR": "30",
        }, "no RAILWAY_API_ENDPOINT while the stack uses Railway's own endpoint"

    return run(stack, check)


@pulumi.runtime.test
def test_secrets_are_secret_and_appear_nowhere_in_plaintext(monitor):
    stack, _ = build(staging_raw())
    secret_values = [v for k, v in SECRETS.items() if k != "mvs:dbPassword"] + [SECRETS["mvs:dbPassword"]]

    def check(outputs):
        variables = by_name(monitor, "Variables")
        names = {name: variables[f"staging-{name}-variables"].inputs["secret_names"] for name in SIX}
        assert names == {
            "prometheus": [],
            "alertmanager": [file_variable("/etc/alertmanager/alertmanager.yml")],
            "pushgateway": [],
            "postgres-exporter": [],
            "grafana": ["GF_SECURITY_ADMIN_PASSWORD"],
            "edge-metrics": ["RAILWAY_API_TOKEN"],
        }
        for name, secret in names.items():
            registration = variables[f"staging-{name}-variables"]
            assert ("variables" in registration.secret_inputs) == bool(secret), name
        assert (
            variables["staging-grafana-variables"].inputs["variables"]["GF_SECURITY_ADMIN_PASSWORD"]
            == (SECRETS["mvs:grafanaAdminPassword"])
        )
        for registration in monitor.registrations:
            plain = {k: v for k, v in registration.inputs.items() if k not in registration.secret_inputs}
            text = json.dumps(plain, default=str)
            assert not [v for v in secret_values if v in text], registration.name
        shown = json.dumps(outputs[-2:], default=str)
        assert not [v for v in secret_values if v in shown]

    return run(stack, check)


@pulumi.runtime.test
def test_with_monitoring_off_nothing_of_it_is_registered(monitor):
    raw = staging_raw()
    raw["monitoring"] = {"enabled": False}
    stack, _ = build(raw)

    def check(outputs):
        names = {r.name for r in monitor.registrations}
        assert not {n for n in names if any(n.startswith(f"staging-{service}") for service in SIX)}
        assert "grafana" not in outputs[-2]
        for job in ("backup", "backup-verify"):
            variables = monitor.named(f"staging-{job}-variables").inputs["variables"]
            assert "PUSHGATEWAY_URL" not in variables and "BACKUP_STACK" not in variables

    return run(stack, check)


@pulumi.runtime.test
def test_without_backups_there_is_no_pushgateway_and_without_edge_metrics_no_exporter(monitor):
    raw = staging_raw(edge_metrics={"enabled": False})
    raw["backups"] = {"enabled": False}
    stack, _ = build(raw)

    def check(_):
        services = {r.inputs["name"] for r in monitor.of_type(DYNAMIC + "Service")}
        assert {"prometheus", "alertmanager", "postgres-exporter", "grafana"} <= services
        assert not {"pushgateway", "edge-metrics"} & services
        prometheus = monitor.named("staging-prometheus-variables").inputs["variables"]
        assert "pushgateway" not in prometheus[file_variable("/etc/prometheus/prometheus.yml")]

    return run(stack, check)


@pulumi.runtime.test
def test_a_stack_pointed_at_another_api_endpoint_tells_the_edge_exporter(monitor):
    stack, _ = build(staging_raw(), {"railway:endpoint": "http://127.0.0.1:4567/graphql/v2"})

    def check(_):
        variables = monitor.named("staging-edge-metrics-variables").inputs["variables"]
        assert variables["RAILWAY_API_ENDPOINT"] == "http://127.0.0.1:4567/graphql/v2"

    return run(stack, check)


@pulumi.runtime.test
def test_railways_own_endpoint_in_the_config_is_not_passed_on(monitor):
    stack, _ = build(staging_raw(), {"railway:endpoint": "https://backboard.railway.com/graphql/v2"})

    def check(_):
        assert "RAILWAY_API_ENDPOINT" not in monitor.named("staging-edge-metrics-variables").inputs["variables"]

    return run(stack, check)


# ---- start commands, without Pulumi ----------------------------------------------------------


def test_a_start_command_is_a_shell_wrapping_one_quote_free_script():
    command = start_command(["/etc/a/b.yml", "/var/c-d/e.json"], ["/bin/server", "--flag=1"])
    assert command == (
        '/bin/sh -c "set -ef; IFS=; mkdir -p /etc/a /var/c-d; printf %s $MVS_FILE_ETC_A_B_YML > /etc/a/b.yml; '
        'printf %s $MVS_FILE_VAR_C_D_E_JSON > /var/c-d/e.json; exec /bin/server --flag=1"'
    )


@pytest.mark.parametrize("path", ["relative/path", "/with space", "/quote'd", "/glob*", "/back\\slash"])
def test_a_path_that_would_need_quoting_is_refused(path):
    with pytest.raises(MonitoringDeliveryError, match="plain path"):
        start_command([path], ["/bin/server"])


def test_two_paths_sharing_one_variable_are_refused():
    with pytest.raises(MonitoringDeliveryError, match="share a variable"):
        start_command(["/etc/a-b.yml", "/etc/a_b.yml"], ["/bin/server"])


def test_an_argument_that_would_need_quoting_is_refused():
    with pytest.raises(MonitoringDeliveryError, match="no quotes"):
        start_command([], ["/bin/server", "--name='x'"])


def test_a_file_holding_a_railway_reference_is_refused_without_showing_it():
    with pytest.raises(MonitoringDeliveryError) as refused:
        checked_content("/etc/x.yml", "password: ${{Postgres.PGPASSWORD}}-Never-Shown")
    assert "Never-Shown" not in str(refused.value)


def test_every_generated_file_can_travel():
    """The files of the default stacks with monitoring on: all pass the checks the services apply."""
    raw = staging_raw()
    spec = parse_environment(raw, "stacks/Pulumi.staging.yaml")
    for files in (monitoring.prometheus_files("staging", spec), monitoring.grafana_files()):
        start_command(list(files), ["/bin/true"])
        for path, content in files.items():
            checked_content(path, content)
