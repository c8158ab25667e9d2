"""The `monitoring` block: pinned images, alert receivers and thresholds, refused with the usual
Problem (file, key, found, allowed) when bad, and the receivers' secrets collected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.errors import DeclarationError
from components.spec import CONFIG_KEY, Monitoring, SecretState, parse_environment

from .conftest import Stack

ENV = CONFIG_KEY
WEBHOOK = {"webhook_url_secret": "alertWebhookUrl"}
EMAIL = {
    "to": ["ops@mvs.example"],
    "from": "alerts@mvs.example",
    "smarthost": "smtp.mvs.example:587",
    "username": "alerts",
    "password_secret": "smtpPassword",
}
SLACK = {"webhook_url_secret": "slackWebhookUrl", "channel": "#mvs-alerts"}


def _enable(stack: Stack, **monitoring: Any) -> Stack:
    stack.raw["monitoring"] = {"enabled": True, "receivers": WEBHOOK, **monitoring}
    return stack


def test_defaults_pin_every_monitoring_image() -> None:
    defaults = Monitoring()

    assert defaults.alertmanager_image == "prom/alertmanager:v0.27.0"
    assert defaults.pushgateway_image == "prom/pushgateway:v1.10.0"
    assert defaults.postgres_exporter_image == "quay.io/prometheuscommunity/postgres-exporter:v0.16.0"
    assert defaults.thresholds.error_ratio == 0.05
    assert defaults.thresholds.p95_latency_seconds == 1.0
    assert defaults.thresholds.connections_ratio == 0.8
    assert defaults.thresholds.volume_full_ratio == 0.85
    assert (defaults.thresholds.restarts, defaults.thresholds.restart_window_minutes) == (3, 15)
    assert defaults.receivers.configured() == []


@pytest.mark.parametrize("stack_name", ["dev", "staging", "prod"])
def test_every_receiver_and_threshold_is_accepted(load_stack: Callable[[str], Stack], stack_name: str) -> None:
    stack = _enable(
        load_stack(stack_name),
        receivers={**WEBHOOK, "slack": SLACK, "email": EMAIL},
        thresholds={"error_ratio": 0.1, "p95_latency_seconds": 2, "for_minutes": {"service_down": 0}},
        alertmanager_image="prom/alertmanager:v0.27.0",
    )

    spec = parse_environment(stack.raw, stack.file)

    assert spec.monitoring.receivers.configured() == ["webhook", "slack", "email"]
    assert spec.monitoring.receivers.email is not None and spec.monitoring.receivers.email.from_ == EMAIL["from"]
    assert spec.monitoring.thresholds.p95_latency_seconds == 2.0
    assert spec.monitoring.thresholds.for_minutes.service_down == 0
    assert spec.monitoring.thresholds.for_minutes.error_ratio == 5


# (case id, monitoring settings on dev, expected key under monitoring, substring of found, substring of allowed)
BAD: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "alertmanager latest",
        {"alertmanager_image": "prom/alertmanager:latest"},
        "alertmanager_image",
        "latest",
        "pinned",
    ),
    ("pushgateway untagged", {"pushgateway_image": "prom/pushgateway"}, "pushgateway_image", "pushgateway", "pinned"),
    (
        "exporter floating tag",
        {"postgres_exporter_image": "quay.io/prometheuscommunity/postgres-exporter:main"},
        "postgres_exporter_image",
        "main",
        "never latest",
    ),
    ("error ratio above 1", {"thresholds": {"error_ratio": 1.5}}, "thresholds.error_ratio", "1.5", "less than 1"),
    ("error ratio as text", {"thresholds": {"error_ratio": "5%"}}, "thresholds.error_ratio", "'5%'", "number"),
    (
        "latency zero",
        {"thresholds": {"p95_latency_seconds": 0}},
        "thresholds.p95_latency_seconds",
        "0",
        "greater than 0",
    ),
    (
        "latency past the last bucket",
        {"thresholds": {"p95_latency_seconds": 30}},
        "thresholds.p95_latency_seconds",
        "30",
        "less than 10",
    ),
    ("connections over 1", {"thresholds": {"connections_ratio": 1.2}}, "thresholds.connections_ratio", "1.2", "1"),
    ("volume ratio 1", {"thresholds": {"volume_full_ratio": 1}}, "thresholds.volume_full_ratio", "1", "less than 1"),
    ("restarts zero", {"thresholds": {"restarts": 0}}, "thresholds.restarts", "0", "greater than or equal to 1"),
    (
        "window too short",
        {"thresholds": {"restart_window_minutes": 1}},
        "thresholds.restart_window_minutes",
        "1",
        "greater than or equal to 5",
    ),
    (
        "negative wait",
        {"thresholds": {"for_minutes": {"service_down": -1}}},
        "thresholds.for_minutes.service_down",
        "-1",
        "greater than or equal to 0",
    ),
    (
        "unknown wait",
        {"thresholds": {"for_minutes": {"servicedown": 1}}},
        "thresholds.for_minutes.servicedown",
        "unknown key 'servicedown'",
        "service_down",
    ),
    (
        "unknown threshold",
        {"thresholds": {"error_rate": 0.1}},
        "thresholds.error_rate",
        "unknown key",
        "error_ratio",
    ),
    (
        "slack channel without #",
        {"receivers": {"slack": {**SLACK, "channel": "mvs-alerts"}}},
        "receivers.slack.channel",
        "'mvs-alerts'",
        "#mvs-alerts",
    ),
    (
        "slack without its webhook",
        {"receivers": {"slack": {"channel": "#mvs"}}},
        "receivers.slack.webhook_url_secret",
        "nothing",
        "required",
    ),
    (
        "webhook URL pasted as the secret's name",
        {"receivers": {"webhook_url_secret": "https://hooks.example/T0/B0/xyz"}},
        "receivers.webhook_url_secret",
        "not shown",
        "a secret name",
    ),
    (
        "email without a recipient",
        {"receivers": {"email": {**EMAIL, "to": []}}},
        "receivers.email.to",
        "[]",
        "at least 1",
    ),
    (
        "email bad address",
        {"receivers": {"email": {**EMAIL, "to": ["ops at mvs"]}}},
        "receivers.email.to[0]",
        "'ops at mvs'",
        "e-mail address",
    ),
    (
        "email bad sender",
        {"receivers": {"email": {**EMAIL, "from": "alerts"}}},
        "receivers.email.from",
        "'alerts'",
        "e-mail address",
    ),
    (
        "email relay without port",
        {"receivers": {"email": {**EMAIL, "smarthost": "smtp.mvs.example"}}},
        "receivers.email.smarthost",
        "'smtp.mvs.example'",
        "host:port",
    ),
    (
        "email user without password",
        {"receivers": {"email": {k: v for k, v in EMAIL.items() if k != "password_secret"}}},
        "receivers.email",
        "",
        "username and password_secret together",
    ),
    (
        "email unknown key",
        {"receivers": {"email": {**EMAIL, "sender": "x@mvs.example"}}},
        "receivers.email.sender",
        "unknown key 'sender'",
        "to, from, smarthost, username, password_secret",
    ),
    (
        "unknown receiver kind",
        {"receivers": {"pagerduty": {"key": "x"}}},
        "receivers.pagerduty",
        "unknown key",
        "webhook_url_secret, slack, email",
    ),
]


@pytest.mark.parametrize(("settings", "key", "found", "allowed"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_monitoring_values_are_refused_with_their_key(
    load_stack: Callable[[str], Stack], settings: dict[str, Any], key: str, found: str, allowed: str
) -> None:
    stack = _enable(load_stack("dev"))
    stack.raw["monitoring"].update(settings)

    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file)

    problems = error.value.problems
    assert [p.key for p in problems] == [f"{ENV}.monitoring.{key}"], problems
    assert problems[0].file == stack.file
    assert found in problems[0].found
    assert allowed in problems[0].allowed


@pytest.mark.parametrize("stack_name", ["staging", "prod"])
def test_railway_needs_a_receiver_when_monitoring_is_enabled(
    load_stack: Callable[[str], Stack], stack_name: str
) -> None:
    stack = load_stack(stack_name)
    stack.raw["monitoring"] = {"enabled": True}

    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file)

    [problem] = error.value.problems
    assert problem.key == f"{ENV}.monitoring.receivers"
    assert problem.found == "nothing"
    assert "at least one of webhook_url_secret, slack or email" in problem.allowed
    stack.raw["monitoring"]["receivers"] = {}
    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file)
    assert [p.found for p in error.value.problems] == ["no receiver"]


def test_railway_without_monitoring_and_dev_without_receivers_are_fine(load_stack: Callable[[str], Stack]) -> None:
    staging, dev = load_stack("staging"), load_stack("dev")
    staging.raw["monitoring"] = {"enabled": False}
    dev.raw["monitoring"] = {"enabled": True}

    parse_environment(staging.raw, staging.file)
    assert parse_environment(dev.raw, dev.file).monitoring.receivers.configured() == []


def test_receiver_secrets_join_the_stacks_secrets_only_when_enabled(load_stack: Callable[[str], Stack]) -> None:
    stack = _enable(load_stack("staging"), receivers={**WEBHOOK, "slack": SLACK, "email": EMAIL})
    enabled = parse_environment(stack.raw, stack.file)
    stack.raw["monitoring"]["enabled"] = False
    disabled = parse_environment(stack.raw, stack.file)

    receivers = {"alertWebhookUrl", "slackWebhookUrl", "smtpPassword"}
    assert receivers | {"grafanaAdminPassword"} <= enabled.secret_names()
    assert not (receivers | {"grafanaAdminPassword"}) & disabled.secret_names()


def test_receiver_secrets_that_are_not_set_are_reported(load_stack: Callable[[str], Stack]) -> None:
    stack = _enable(load_stack("staging"), receivers={**WEBHOOK, "slack": SLACK, "email": EMAIL})
    present = {
        "dbPassword",
        "sessionSecret",
        "backupAccessKey",
        "backupSecretKey",
        "grafanaAdminPassword",
        "railwayMetricsToken",
    }

    def lookup(name: str) -> SecretState:
        return "secret" if name in present else "plaintext" if name == "smtpPassword" else "missing"

    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file, lookup)

    by_key = {p.key.removeprefix(f"{ENV}.monitoring.receivers."): p for p in error.value.problems}
    assert set(by_key) == {"webhook_url_secret", "slack.webhook_url_secret", "email.password_secret"}
    assert "'alertWebhookUrl', which is not set" in by_key["webhook_url_secret"].found
    assert "stored in plaintext" in by_key["email.password_secret"].found
    assert "./mvs secrets set staging slackWebhookUrl" in by_key["slack.webhook_url_secret"].allowed


@pytest.mark.parametrize(
    ("stack_name", "edge", "reported"),
    [
        ("staging", {}, True),
        ("staging", {"edge_metrics": {"enabled": False}}, False),
        ("dev", {}, False),
    ],
)
def test_the_edge_exporter_token_is_required_where_the_exporter_runs(
    load_stack: Callable[[str], Stack], stack_name: str, edge: dict, reported: bool
) -> None:
    """The exporter runs on Railway only, and only when enabled: there its token must be set (a
    missing one would stop `up` half way with Pulumi's missing-config error)."""
    stack = _enable(load_stack(stack_name), **edge)
    problems: list = []
    try:
        parse_environment(stack.raw, stack.file, lambda name: "missing" if name == "railwayMetricsToken" else "secret")
    except DeclarationError as error:
        problems = error.problems

    keys = [p.key for p in problems]
    assert (f"{ENV}.monitoring.edge_metrics.token_secret" in keys) is reported
    assert all(k == f"{ENV}.monitoring.edge_metrics.token_secret" for k in keys)


@pytest.mark.parametrize("name", ["alertmanager", "pushgateway", "postgres-exporter"])
def test_monitoring_part_names_are_reserved(load_stack: Callable[[str], Stack], name: str) -> None:
    stack = load_stack("dev")
    stack.raw["services"][name] = stack.raw["services"]["frontend"]

    with pytest.raises(DeclarationError) as error:
        parse_environment(stack.raw, stack.file)

    assert f"{ENV}.services.{name}" in [p.key for p in error.value.problems]
