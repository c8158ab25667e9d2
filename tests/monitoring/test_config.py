"""The Prometheus and Alertmanager configuration generated from the declaration (issue 12):
its content, the contract with the alert rules (scrape job names), where the secrets go, and the
rendered files as the real tools read them: `promtool check config` (with the stack's generated
rule file beside it) and `amtool check-config`, for the three default stacks with monitoring
enabled (and, for Alertmanager, every receiver kind declared) in a copy of their declarations."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring import (
    ALERTMANAGER,
    MonitoringConfigError,
    RouteTimings,
    alert_rules,
    alertmanager_config,
    local_targets,
    prometheus_config,
    railway_targets,
    render_config,
    render_rules,
    rule_file_name,
    scrape_jobs,
)
from components.spec import parse_environment

from .conftest import tool
from .promtool import DEFAULT_STACKS, monitored_spec, promtool, raw_declaration

SECRETS = {
    "alertWebhookUrl": "https://hooks.example.com/mvs/Wh-Secret-Token-1",
    "slackWebhookUrl": "https://hooks.slack.com/services/T000/B000/Slack-Secret-2",
    "smtpPassword": "Smtp-Secret-Password-3",
}
ALL_RECEIVERS = {
    "webhook_url_secret": "alertWebhookUrl",
    "slack": {"webhook_url_secret": "slackWebhookUrl", "channel": "#mvs-alerts"},
    "email": {
        "to": ["oncall@mvs.example", "ops@mvs.example"],
        "from": "alertmanager@mvs.example",
        "smarthost": "smtp.mvs.example:587",
        "username": "alertmanager",
        "password_secret": "smtpPassword",
    },
}


def every_receiver(stack: str):
    return monitored_spec(stack, receivers=ALL_RECEIVERS)


def loopback_targets(spec) -> dict[str, str]:
    return {job: f"127.0.0.1:{9100 + i}" for i, job in enumerate([*scrape_jobs(spec), ALERTMANAGER])}


# Prometheus


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_one_scrape_job_per_job_the_rules_read(stack: str) -> None:
    spec = monitored_spec(stack)
    config = prometheus_config(stack, spec, local_targets(spec))

    jobs = [job["job_name"] for job in config["scrape_configs"]]

    assert jobs == scrape_jobs(spec)
    edge = {"edge-metrics"} if spec.target == "railway" else set()
    assert {"backend", "frontend", "postgres-exporter", "pushgateway"} | edge == set(jobs)
    # Every job a rule selects is scraped under that name.
    rule_text = render_rules(alert_rules(stack, spec))
    for job in jobs:
        assert f'job="{job}"' in rule_text


def test_intervals_rule_file_alertmanager_and_paths_from_the_declaration() -> None:
    spec = monitored_spec("prod", scrape_interval_seconds=30, metrics_path="/internal/metrics")
    config = prometheus_config("prod", spec, railway_targets(spec))

    assert config["global"] == {
        "scrape_interval": "30s",
        "evaluation_interval": "30s",
        "external_labels": {"stack": "prod"},
    }
    assert config["rule_files"] == [rule_file_name("prod")] == ["prod.rules.yml"]
    assert config["alerting"] == {
        "alertmanagers": [{"static_configs": [{"targets": ["alertmanager.railway.internal:9093"]}]}]
    }
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["backend"] == {
        "job_name": "backend",
        "metrics_path": "/internal/metrics",
        "static_configs": [{"targets": ["backend.railway.internal:3000"]}],
    }
    assert jobs["postgres-exporter"]["metrics_path"] == "/metrics"
    assert jobs["postgres-exporter"]["static_configs"] == [{"targets": ["postgres-exporter.railway.internal:9187"]}]
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["pushgateway"]["static_configs"] == [{"targets": ["pushgateway.railway.internal:9091"]}]
    assert jobs["edge-metrics"] == {
        "job_name": "edge-metrics",
        "metrics_path": "/metrics",
        "static_configs": [{"targets": ["edge-metrics.railway.internal:9121"]}],
    }
    assert all("honor_labels" not in job for name, job in jobs.items() if name != "pushgateway")


def test_dev_targets_are_network_aliases_and_tests_pass_their_own() -> None:
    spec = monitored_spec("dev")
    assert local_targets(spec) == {
        "backend": "backend:3000",
        "frontend": "frontend:8080",
        "postgres-exporter": "postgres-exporter:9187",
        "pushgateway": "pushgateway:9091",
        "alertmanager": "alertmanager:9093",
    }
    config = prometheus_config("dev", spec, loopback_targets(spec), rule_files=["/rules/a.yml"])
    assert config["rule_files"] == ["/rules/a.yml"]
    assert config["scrape_configs"][0]["static_configs"] == [{"targets": ["127.0.0.1:9100"]}]


def test_the_edge_exporter_is_scraped_on_railway_at_its_declared_port() -> None:
    spec = monitored_spec("staging", edge_metrics={"port": 9500})
    disabled = monitored_spec("staging", edge_metrics={"enabled": False})

    assert railway_targets(spec)["edge-metrics"] == "edge-metrics.railway.internal:9500"
    assert scrape_jobs(spec)[-1] == "edge-metrics"
    assert "edge-metrics" not in railway_targets(disabled)
    assert "edge-metrics" not in [
        job["job_name"] for job in prometheus_config("staging", disabled, railway_targets(disabled))["scrape_configs"]
    ]
    assert "edge-metrics" not in local_targets(monitored_spec("dev"))


def test_without_backups_there_is_no_pushgateway_job() -> None:
    raw = raw_declaration("dev")
    raw["backups"] = {"enabled": False}
    raw["monitoring"] = {"enabled": True}
    spec = parse_environment(raw, "stacks/Pulumi.dev.yaml")

    config = prometheus_config("dev", spec, local_targets(spec))

    assert [job["job_name"] for job in config["scrape_configs"]] == ["backend", "frontend", "postgres-exporter"]
    assert "pushgateway" not in local_targets(spec)


def test_cron_jobs_are_not_scraped() -> None:
    raw = raw_declaration("staging")
    nightly = {k: v for k, v in raw["services"]["backend"].items() if k != "pre_deploy_command"}
    raw["services"]["nightly"] = {**nightly, "cron_schedule": "0 2 * * *", "restart": {"policy": "never"}}
    raw["release"]["images"]["nightly"] = raw["release"]["images"]["backend"]
    raw["monitoring"] = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhookUrl"}}
    spec = parse_environment(raw, "stacks/Pulumi.staging.yaml")

    jobs = [job["job_name"] for job in prometheus_config("staging", spec, railway_targets(spec))["scrape_configs"]]

    assert "nightly" in spec.services
    assert "nightly" not in jobs and "nightly" not in railway_targets(spec)


def test_a_missing_or_unknown_target_is_an_error_naming_it() -> None:
    spec = monitored_spec("staging")
    targets = railway_targets(spec)
    del targets["postgres-exporter"]
    targets["grafana"] = "grafana:3000"

    with pytest.raises(MonitoringConfigError) as error:
        prometheus_config("staging", spec, targets)

    assert "no target for postgres-exporter" in str(error.value)
    assert "undeclared jobs grafana" in str(error.value)


# Alertmanager


def test_every_receiver_kind_with_its_secrets_and_send_resolved() -> None:
    spec = every_receiver("prod")

    config = alertmanager_config("prod", spec, SECRETS)

    assert config["route"] == {
        "receiver": "prod",
        "group_by": ["alertname", "stack"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
    }
    (receiver,) = config["receivers"]
    assert receiver["name"] == "prod"
    assert receiver["webhook_configs"] == [{"url": SECRETS["alertWebhookUrl"], "send_resolved": True}]
    (slack,) = receiver["slack_configs"]
    assert slack["api_url"] == SECRETS["slackWebhookUrl"]
    assert slack["channel"] == "#mvs-alerts"
    assert slack["send_resolved"] is True
    assert "summary" in slack["text"] and "runbook" in slack["text"]
    assert receiver["email_configs"] == [
        {
            "to": "oncall@mvs.example, ops@mvs.example",
            "from": "alertmanager@mvs.example",
            "smarthost": "smtp.mvs.example:587",
            "send_resolved": True,
            "auth_username": "alertmanager",
            "auth_password": SECRETS["smtpPassword"],
        }
    ]


def test_email_without_login_has_no_auth() -> None:
    email = {k: v for k, v in ALL_RECEIVERS["email"].items() if k not in ("username", "password_secret")}
    spec = monitored_spec("staging", receivers={"email": email})

    (receiver,) = alertmanager_config("staging", spec, {})["receivers"]

    assert set(receiver) == {"name", "email_configs"}
    assert "auth_username" not in receiver["email_configs"][0]
    assert "auth_password" not in receiver["email_configs"][0]


def test_route_timings_can_be_shortened() -> None:
    spec = monitored_spec("staging")
    timings = RouteTimings(group_wait="1s", group_interval="1s", repeat_interval="1h")

    route = alertmanager_config("staging", spec, SECRETS, timings)["route"]

    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("1s", "1s", "1h")


def test_dev_without_receivers_keeps_alerts_in_alertmanager() -> None:
    raw = raw_declaration("dev")
    raw["monitoring"] = {"enabled": True}
    spec = parse_environment(raw, "stacks/Pulumi.dev.yaml")

    assert alertmanager_config("dev", spec, {})["receivers"] == [{"name": "dev"}]


def test_a_missing_secret_is_named_and_no_value_is_shown() -> None:
    spec = every_receiver("prod")
    given = {"alertWebhookUrl": SECRETS["alertWebhookUrl"]}

    with pytest.raises(MonitoringConfigError) as error:
        alertmanager_config("prod", spec, given)

    message = str(error.value)
    assert "slackWebhookUrl" in message and "smtpPassword" in message
    assert "alertWebhookUrl" not in message
    assert all(value not in message for value in SECRETS.values())


def test_secret_values_appear_only_in_the_alertmanager_file() -> None:
    spec = every_receiver("prod")
    prometheus = render_config(prometheus_config("prod", spec, railway_targets(spec)))
    alertmanager = render_config(alertmanager_config("prod", spec, SECRETS))
    rules = render_rules(alert_rules("prod", spec))

    for value in SECRETS.values():
        assert value in alertmanager
        assert value not in prometheus and value not in rules


# The real tools


def write_prometheus_files(stack: str, spec, directory: Path) -> Path:
    (directory / rule_file_name(stack)).write_text(render_rules(alert_rules(stack, spec)), encoding="utf-8")
    path = directory / "prometheus.yml"
    path.write_text(render_config(prometheus_config(stack, spec, local_targets(spec))), encoding="utf-8")
    return path


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_promtool_check_config_accepts_each_default_stacks_config(stack: str, tmp_path: Path) -> None:
    spec = monitored_spec(stack)
    path = write_prometheus_files(stack, spec, tmp_path)

    result = promtool("check", "config", path)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"SUCCESS: {path} is valid prometheus config file syntax" in output
    count = sum(len(group["rules"]) for group in alert_rules(stack, spec)["groups"])
    assert f"SUCCESS: {count} rules found" in output, output


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
@pytest.mark.parametrize("receivers", ["webhook", "all"])
def test_amtool_check_config_accepts_each_default_stacks_config(stack: str, receivers: str, tmp_path: Path) -> None:
    spec = monitored_spec(stack) if receivers == "webhook" else every_receiver(stack)
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_config(alertmanager_config(stack, spec, SECRETS)), encoding="utf-8")

    result = subprocess.run(
        [tool("amtool"), "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SUCCESS" in output
    assert "1 receivers" in output, output


def test_amtool_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check is not vacuous: a route naming no receiver fails amtool."""
    document = alertmanager_config("prod", monitored_spec("prod"), SECRETS)
    document["route"]["receiver"] = "nobody"
    path = tmp_path / "alertmanager.yml"
    path.write_text(render_config(document), encoding="utf-8")

    result = subprocess.run([tool("amtool"), "check-config", str(path)], capture_output=True, text=True, check=False)

    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


def test_rendered_files_are_yaml_of_the_documents() -> None:
    spec = every_receiver("staging")
    for document in (
        prometheus_config("staging", spec, railway_targets(spec)),
        alertmanager_config("staging", spec, SECRETS),
    ):
        assert yaml.safe_load(render_config(document)) == document
