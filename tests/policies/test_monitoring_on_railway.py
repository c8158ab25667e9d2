"""The rules on what the components register with monitoring on Railway (under Pulumi mocks): the
monitoring services are the components' own, so the rules for declared services (health checks
set by the stack file, migrations before deploy, regions on prod) do not name them as
`services.<name>`; their images are held to pinning and named by their own `monitoring` keys."""

from __future__ import annotations

import pytest

from components.spec.models import Monitoring
from tests.components.recording import declare
from tests.policies.harness import ROOT, SECRETS, findings, named, raw_declaration
from tests.policies.test_registered import DIGEST, keys, pinned_by_digest

MONITORING_SECRETS = {
    **SECRETS,
    "mvs:alertWebhook": "https://hooks.example.com/Never-In-A-Message-7",
    "mvs:railwayMetricsToken": "token-Never-In-A-Message-8",
}
IMAGE_KEYS = {
    "prometheus": "prometheus_image",
    "alertmanager": "alertmanager_image",
    "pushgateway": "pushgateway_image",
    "postgres-exporter": "postgres_exporter_image",
    "grafana": "grafana_image",
}


def monitored(raw: dict) -> dict:
    raw["monitoring"] = {"enabled": True, "receivers": {"webhook_url_secret": "alertWebhook"}}
    return raw


def registered(stack: str, raw: dict):
    return declare(raw, MONITORING_SECRETS, ROOT, stack).registrations


def test_staging_with_monitoring_passes_every_rule():
    assert findings(registered("staging", monitored(raw_declaration("staging")))) == {}


def test_prod_with_monitoring_and_every_image_by_digest_passes_every_rule():
    raw = monitored(pinned_by_digest("prod"))
    defaults = Monitoring()
    for key in IMAGE_KEYS.values():
        raw["monitoring"][key] = f"{getattr(defaults, key)}@{DIGEST}"
    raw["monitoring"]["edge_metrics"] = {"image": f"ghcr.io/mvs-app/edge-metrics:0.1.0@{DIGEST}"}
    assert findings(registered("prod", raw)) == {}


@pytest.mark.parametrize(
    ("service", "key"),
    [
        *((name, f"monitoring.{key}") for name, key in IMAGE_KEYS.items()),
        ("edge-metrics", "monitoring.edge_metrics.image"),
    ],
)
def test_a_moving_monitoring_image_is_named_by_its_monitoring_key(service, key):
    registrations = registered("staging", monitored(raw_declaration("staging")))
    named(registrations, f"staging-{service}-settings").inputs["image"] = "example.org/moving:latest"
    assert keys(findings(registrations)) == {"images-pinned": [f"mvs:environment.{key}"]}
