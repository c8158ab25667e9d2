"""What runs in one Railway environment, read in a single request.

`Environment.serviceInstances` carries each service's settings, its latest deployment and its
domains, so a status of every service costs one request whatever their number: on Railway's Free
plan (100 requests an hour) that matters more than the size of the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import RailwayClient

IN_PROGRESS = ("QUEUED", "WAITING", "INITIALIZING", "BUILDING", "DEPLOYING", "NEEDS_APPROVAL")


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str
    created_at: str
    image: str | None = None


@dataclass(frozen=True)
class ServiceStatus:
    """One service instance as Railway reports it."""

    service_id: str
    name: str
    image: str | None
    healthcheck_path: str | None
    cron_schedule: str | None
    replicas: int | None
    latest: Deployment | None
    domains: list[str] = field(default_factory=list)  # Railway's own first, then custom ones
    active: list[Deployment] = field(default_factory=list)  # the deployments serving now, newest first

    @property
    def serving(self) -> Deployment | None:
        """The newest deployment that serves: the latest when it does, else the one that kept
        serving while the latest failed, crashed or is still coming up."""
        return self.active[0] if self.active else None

    @property
    def superseded_attempt(self) -> Deployment | None:
        """The latest deployment when it is not the one serving (it failed, crashed or is coming
        up) while an older one serves: what `ps` shows beside the serving one."""
        serving = self.serving
        if self.latest is None or serving is None or serving.id == self.latest.id:
            return None
        return self.latest

    @property
    def running_image(self) -> str | None:
        """What the latest deployment runs, or what the service is set to run."""
        return (self.latest.image if self.latest else None) or self.image

    def health(self) -> str:
        """What Railway can tell about the service's health: the deployment passed its health check
        (a deployment with a check becomes SUCCESS only once the path answers), failed it, crashed."""
        if self.latest is None:
            return "-"
        status, path = self.latest.status, self.healthcheck_path
        if status == "SUCCESS":
            if path:
                return f"healthy ({path} passed)"
            return "scheduled (no health check)" if self.cron_schedule else "up (no health check)"
        if status == "FAILED":
            return f"unhealthy ({path} failed)" if path else "failed"
        if status in IN_PROGRESS:
            return f"starting (checks {path})" if path else "starting"
        return status.lower()


def _deployment(node: dict[str, Any] | None) -> Deployment | None:
    if not node:
        return None
    meta = node.get("meta") if isinstance(node.get("meta"), dict) else {}
    return Deployment(node["id"], node["status"], node.get("createdAt") or "", meta.get("image"))


def environment_services(client: RailwayClient, environment_id: str) -> dict[str, ServiceStatus]:
    """Every service instance of the environment, by service id (one request)."""
    environment = client.execute("environmentServices", {"id": environment_id})["environment"]
    found = {}
    for edge in environment["serviceInstances"]["edges"]:
        node = edge["node"]
        domains = node.get("domains") or {}
        found[node["serviceId"]] = ServiceStatus(
            service_id=node["serviceId"],
            name=node["serviceName"],
            image=(node.get("source") or {}).get("image"),
            healthcheck_path=node.get("healthcheckPath"),
            cron_schedule=node.get("cronSchedule"),
            replicas=node.get("numReplicas"),
            latest=_deployment(node.get("latestDeployment")),
            domains=[d["domain"] for d in domains.get("serviceDomains", [])]
            + [d["domain"] for d in domains.get("customDomains", [])],
            active=sorted(
                (d for d in map(_deployment, node.get("activeDeployments") or []) if d is not None),
                key=lambda d: d.created_at,
                reverse=True,
            ),
        )
    return found
