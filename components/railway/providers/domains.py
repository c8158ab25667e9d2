"""Domains of a service in one environment: Railway's own (`*.up.railway.app`) and custom ones.

A custom domain's DNS records (the CNAME to create, the TXT verification record) are outputs,
so whoever runs DNS can see what to set.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from ...errors import RailwayNotFound
from .base import RailwayProvider, create_or_adopt, pick
from .made_here import has_none_yet

SCOPE = ("project_id", "environment_id", "service_id")


def _scope(props: dict[str, Any]) -> dict[str, str]:
    return {
        "projectId": props["project_id"],
        "environmentId": props["environment_id"],
        "serviceId": props["service_id"],
    }


def dns_records(domain: dict[str, Any]) -> list[dict[str, Any]]:
    status = domain.get("status") or {}
    records = [
        {"type": r["recordType"].removeprefix("DNS_RECORD_TYPE_"), "name": r["fqdn"], "value": r["requiredValue"]}
        for r in status.get("dnsRecords") or []
    ]
    if status.get("verificationDnsHost") and status.get("verificationToken"):
        zone = next((r["zone"] for r in status.get("dnsRecords") or []), "")
        host = status["verificationDnsHost"]
        records.append(
            {"type": "TXT", "name": f"{host}.{zone}" if zone else host, "value": status["verificationToken"]}
        )
    return records


def _current(provider: RailwayProvider, props: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The service's domains in this environment as the run's snapshot has them (none when the
    environment or the service instance is gone)."""
    snapshot = provider.snapshot(props["environment_id"])
    return (
        snapshot.domains(props["service_id"]) if snapshot is not None else {"serviceDomains": [], "customDomains": []}
    )


class ServiceDomainProvider(RailwayProvider):
    """The service's `*.up.railway.app` domain. A new port is set on the same domain, so the
    service keeps its URL.

    The name Railway generated when the stack made the domain is the stack's (`owned_domain`): one
    renamed in the dashboard is drift, which `read` reports as a `domain` input (so `./mvs drift`
    names it) and the next `up` undoes in place. The `domain` output is always what Railway has, so
    the stack's `urls` output is never stale."""

    inputs = (*SCOPE, "target_port")
    replace_on = SCOPE

    def _outputs(self, props: dict[str, Any], domain: dict[str, Any], owned: str | None = None) -> dict[str, Any]:
        return {
            **pick(props, self.inputs),
            "domain_id": domain["id"],
            "domain": domain["domain"],
            "owned_domain": owned or domain["domain"],
        }

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = super().diff(id_, olds, news)
        renamed = bool(olds.get("owned_domain")) and olds.get("domain") != olds.get("owned_domain")
        return DiffResult(changes=result.changes or renamed, replaces=result.replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        create_input = {
            "environmentId": props["environment_id"],
            "serviceId": props["service_id"],
            "targetPort": props["target_port"],
        }
        with self.client() as client:

            def find() -> dict[str, Any] | None:
                found = client.execute("domains", _scope(props))["domains"]["serviceDomains"]
                return found[0] if found else None  # Railway gives a service one generated domain

            # One there already is adopted; a service this run made has none (made_here.py).
            domain = None if has_none_yet(props["service_id"], "serviceDomain") else find()
            if domain is None:
                domain = create_or_adopt(
                    lambda: client.execute("serviceDomainCreate", {"input": create_input})["serviceDomainCreate"],
                    find,
                )
        return CreateResult(domain["id"], self._outputs(props, domain))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        name = olds.get("owned_domain") or olds["domain"]  # a dashboard rename goes back
        update_input = {
            "serviceDomainId": id_,
            "domain": name,
            "environmentId": news["environment_id"],
            "serviceId": news["service_id"],
            "targetPort": news["target_port"],
        }
        self.call("serviceDomainUpdate", {"input": update_input})
        return UpdateResult(self._outputs(news, {"id": id_, "domain": name}, name))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        domain = next((d for d in _current(self, props)["serviceDomains"] if d["id"] == id_), None)
        if domain is None:
            return ReadResult(None, {})
        owned = props.get("owned_domain") or props.get("domain") or domain["domain"]
        outs = self._outputs({**props, "target_port": domain["targetPort"]}, domain, owned)
        compared = pick(outs, self.inputs)
        if domain["domain"] != owned:
            compared["domain"] = domain["domain"]  # renamed in the dashboard: drift names it
        return ReadResult(id_, outs, compared)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        self.delete_quietly("serviceDomainDelete", {"id": id_})


class CustomDomainProvider(RailwayProvider):
    inputs = (*SCOPE, "domain", "target_port")
    replace_on = (*SCOPE, "domain")

    def _outputs(self, props: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
        status = domain.get("status") or {}
        return {
            **pick(props, self.inputs),
            "domain_id": domain["id"],
            "dns_records": dns_records(domain),
            "verified": bool(status.get("verified")),
            "certificate_status": status.get("certificateStatus"),
        }

    def _find(self, client, props: dict[str, Any]) -> dict[str, Any] | None:
        found = client.execute("domains", _scope(props))["domains"]["customDomains"]
        return next((d for d in found if d["domain"] == props["domain"]), None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        create_input = {**_scope(props), "domain": props["domain"], "targetPort": props["target_port"]}
        with self.client() as client:
            # One there already is adopted; a service this run made has none (made_here.py).
            fresh = has_none_yet(props["service_id"], ("customDomain", props["domain"]))
            domain = None if fresh else self._find(client, props)
            if domain is None:
                domain = create_or_adopt(
                    lambda: client.execute("customDomainCreate", {"input": create_input})["customDomainCreate"],
                    lambda: self._find(client, props),
                )
        return CreateResult(domain["id"], self._outputs(props, domain))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.client() as client:
            client.execute(
                "customDomainUpdate",
                {"id": id_, "environmentId": news["environment_id"], "targetPort": news["target_port"]},
            )
            domain = self._find(client, news)
        if domain is None:
            raise RailwayNotFound("CustomDomain not found", "domains")
        return UpdateResult(self._outputs(news, domain))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        domain = next((d for d in _current(self, props)["customDomains"] if d["id"] == id_), None)
        if domain is None:
            return ReadResult(None, {})
        outs = self._outputs({**props, "domain": domain["domain"], "target_port": domain["targetPort"]}, domain)
        return ReadResult(id_, outs, pick(outs, self.inputs))

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        self.delete_quietly("customDomainDelete", {"id": id_})


class ServiceDomain(Resource, module="railway", name="ServiceDomain"):
    domain: pulumi.Output[str]

    def __init__(self, name: str, project_id, environment_id, service_id, target_port: int, opts=None):
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "target_port": target_port,
            "domain_id": None,
            "domain": None,
        }
        super().__init__(ServiceDomainProvider(), name, props, opts)


class CustomDomain(Resource, module="railway", name="CustomDomain"):
    dns_records: pulumi.Output[list]
    verified: pulumi.Output[bool]

    def __init__(self, name: str, project_id, environment_id, service_id, domain: str, target_port: int, opts=None):
        props = {
            "project_id": project_id,
            "environment_id": environment_id,
            "service_id": service_id,
            "domain": domain,
            "target_port": target_port,
            "domain_id": None,
            "dns_records": None,
            "verified": None,
            "certificate_status": None,
        }
        super().__init__(CustomDomainProvider(), name, props, opts)
