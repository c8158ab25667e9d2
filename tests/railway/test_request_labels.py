"""Every request a provider sends names its resource (`x-mvs-resource`), which the emulator's log
keeps: the apply-time bench counts each resource's sequential requests from it (issue 13, point 3)."""

from __future__ import annotations

from components.railway.providers.deployment import DeploymentProvider
from components.railway.providers.request_labels import HEADER, label
from components.railway.providers.service import ServiceProvider

from .test_providers import configured
from .test_providers import world as world  # the fixture: a project, staging and a backend service


def test_each_request_of_a_provider_call_names_its_resource(emulator, world, request_log):
    before = len(request_log())
    scope = {"project_id": world["project_id"], "environment_id": world["environment_id"]}
    created = configured(ServiceProvider, emulator).create({**scope, "name": "frontend", "service_id": None})
    props = {"service_id": created.id, "environment_id": world["environment_id"], "service_name": "frontend"}
    configured(DeploymentProvider, emulator).create({**props, "fingerprint": "x"})

    entries = request_log()[before:]
    service_calls = [e for e in entries if e["operation"] in ("project", "serviceCreate")]
    assert service_calls and {e.get("resource") for e in service_calls} == {"Service:frontend"}
    deploys = [e for e in entries if e["operation"] == "serviceInstanceDeployV2"]
    assert [e.get("resource") for e in deploys] == [f"Deployment:{created.id}"]


def test_the_label_is_derived_from_the_resources_own_keys():
    assert label("CustomDomain", {"domain": "api.example.com", "service_id": "s1"}) == "CustomDomain:api.example.com"
    assert label("Service", {"name": "backend", "service_id": None}) == "Service:backend"
    assert label("Variables", {"service_id": "s1", "project_id": "p"}) == "Variables:s1"


def test_outside_a_provider_call_no_label_is_sent(emulator, world, request_log):
    with configured(ServiceProvider, emulator).client() as client:
        assert HEADER not in client._http.headers
        client.execute("project", {"id": world["project_id"]})
    assert "resource" not in request_log()[-1]
