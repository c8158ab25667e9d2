"""Which part of the declaration a registered resource comes from, and the keys that set it.

The components name every resource `<stack>-<part>[-<role>]` (components/railway/stack.py,
components/local/), so a resource maps back to `services.<name>`, `database`, `backups`,
`monitoring` or `railway` by its type and name alone: nothing a preview cannot know, no id, no
URN. This is the one place that knows those names and the type tokens; rules ask it which key a
finding names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from components.spec import DATABASE

from .values import plain

RAILWAY = "pulumi-python:dynamic/railway:"
PROJECT = RAILWAY + "Project"
ENVIRONMENT = RAILWAY + "Environment"
SERVICE = RAILWAY + "Service"
SERVICE_INSTANCE = RAILWAY + "ServiceInstance"  # a service's settings in one environment
VARIABLES = RAILWAY + "Variables"
VOLUME = RAILWAY + "Volume"
SERVICE_DOMAIN = RAILWAY + "ServiceDomain"
CUSTOM_DOMAIN = RAILWAY + "CustomDomain"
DEPLOYMENT = RAILWAY + "Deployment"
BACKUP_SCHEDULES = RAILWAY + "BackupSchedules"
DOCKER = "pulumi-python:dynamic/docker:"  # the dev target's providers (components/local/providers/)
DOCKER_CONTAINER = DOCKER + "Container"
DOCKER_IMAGE = DOCKER + "Image"
DOCKER_VOLUME = DOCKER + "Volume"

POSTGRES_REFERENCE = "${{Postgres."  # how a service's variables point at the database (components/railway/stack.py)
BACKUP_JOB, DRILL_JOB = "backup", "backup-verify"  # the backup runner's two cron services (Railway)
# The services monitoring adds (components/railway/monitoring.py; dev runs prometheus and grafana)
MONITORING = ("prometheus", "alertmanager", "pushgateway", "postgres-exporter", "grafana", "edge-metrics")
_MONITORING_IMAGE_KEYS = {"edge-metrics": "monitoring.edge_metrics.image"}  # else monitoring.<name>_image

# type -> how the components end a resource's name after `<stack>-<part>`
_SUFFIXES = {
    SERVICE_INSTANCE: "-settings",
    VARIABLES: "-variables",
    DEPLOYMENT: "-deployment",
    VOLUME: "-volume",
    SERVICE_DOMAIN: "-domain",
    BACKUP_SCHEDULES: "-backup-schedules",
    SERVICE: "",
    DOCKER_CONTAINER: "",
}
_DOCKER_IMAGES = {"postgres": DATABASE, "backup-runner": BACKUP_JOB}  # `<stack>-<x>-image`
_DOCKER_VOLUMES = {"pgdata": DATABASE, "backups": BACKUP_JOB}

Kind = Literal["service", "database", "backup", "drill", "monitoring", "railway"]


@dataclass(frozen=True)
class Part:
    """A part of the declaration: a declared service (`kind` service, `name` its name), or one of
    the parts the components make of their own: the database, the backup job and its restore
    drill, monitoring, the Railway project and environment."""

    kind: Kind
    name: str

    @property
    def declared(self) -> bool:
        """A service of `services.<name>`, whose settings the stack file sets one by one."""
        return self.kind == "service"

    def key(self, field: str | None = None) -> str:
        """The declaration key for `field` of this part (the part's own key without one)."""
        root = {
            "service": f"services.{self.name}",
            "database": "database",
            "backup": "backups",
            "drill": "backups",
            "monitoring": "monitoring",
            "railway": "railway",
        }[self.kind]
        return f"{root}.{field}" if field else root

    def image_key(self, built: bool = False) -> str:
        """The key naming the image this part runs (or, `built`, how it is built locally)."""
        if self.kind == "service":
            return self.key("build") if built else f"release.images.{self.name}"
        if self.kind in ("backup", "drill"):
            return "backups.runner_build" if built else "backups.runner_image"
        if self.kind == "monitoring":
            return _MONITORING_IMAGE_KEYS.get(self.name, f"monitoring.{self.name.replace('-', '_')}_image")
        return self.key("image")

    def schedule_key(self) -> str:
        """The key of the cron schedule a job of this part runs on."""
        return {"backup": "backups.dump_schedule", "drill": "backups.verify_schedule"}.get(
            self.kind, self.key("cron_schedule")
        )


def _part(name: str) -> Part:
    if name == DATABASE:
        return Part("database", name)
    if name == BACKUP_JOB:
        return Part("backup", name)
    if name == DRILL_JOB:
        return Part("drill", name)
    if name in MONITORING:
        return Part("monitoring", name)
    return Part("service", name)


def part_of(resource_type: str, name: str, stack: str, props: Mapping[str, Any]) -> Part | None:
    """The part a resource of the components belongs to, or None for anything else."""
    prefix = f"{stack}-"
    if not stack or not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if resource_type in (PROJECT, ENVIRONMENT):
        return Part("railway", rest)
    if resource_type == CUSTOM_DOMAIN:
        suffix = f"-{props.get('domain')}"
    elif resource_type in _SUFFIXES:
        suffix = _SUFFIXES[resource_type]
    elif resource_type == DOCKER_IMAGE:
        image = rest.removesuffix("-image")
        return _part(_DOCKER_IMAGES.get(image, image))
    elif resource_type == DOCKER_VOLUME:
        return _part(_DOCKER_VOLUMES[rest]) if rest in _DOCKER_VOLUMES else None
    else:
        return None
    if not rest.endswith(suffix) or rest == suffix:
        return None
    return _part(rest[: len(rest) - len(suffix)])


def is_local_build(resource_type: str, props: Mapping[str, Any]) -> bool:
    """A Docker image built here (tagged by a digest of what the build reads), not one pulled."""
    return resource_type == DOCKER_IMAGE and bool(props.get("build"))


@dataclass(frozen=True)
class Registered:
    """One of the components' resources in a stack policy's list: its part and its properties."""

    resource: Any  # pulumi_policy.PolicyResource
    part: Part
    props: dict[str, Any]

    @property
    def type(self) -> str:
        return self.resource.resource_type

    @property
    def urn(self) -> str:
        return self.resource.urn


def stack_resources(resources: Iterable[Any], stack: str) -> list[Registered]:
    """The components' resources among a stack policy's resources, as plain data."""
    found = []
    for resource in resources:
        props = plain(resource.props)
        part = part_of(resource.resource_type, resource.name, stack, props)
        if part is not None:
            found.append(Registered(resource, part, props))
    return found
