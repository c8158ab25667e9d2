"""The dev environment on the local Docker engine, built from the declaration.

What docker-compose gave the team, as Pulumi resources (the project's own providers over the
Docker Engine API, components/local/providers/): one private network, a named volume for Postgres
data, Postgres with a pg_isready health check, and each service with its HTTP health check,
restart policy, pinned image (or local build), labels and published port. A container is created
only after what it depends on is healthy, so the backend never starts against a database that is
still initialising.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pulumi

from ..spec import DATABASE, BuildOptions, EnvironmentSpec, RestartPolicy, Service, published_ports
from ..stack_config import stack_file
from .backups import LocalBackups
from .builds import local_image
from .debian import debian_bases, with_base
from .healthchecks import healthy_within_seconds, http_healthcheck, postgres_healthcheck
from .monitoring import LocalMonitoring, pushgateway_url
from .providers.container import UNLESS_STOPPED, Container
from .providers.image import Image
from .providers.network import Network
from .providers.volume import Volume
from .secrets import SecretSource
from .volumes import KEEP_DATA, data_volume_name, kept_volumes

DATABASE_HOST = DATABASE  # the Postgres container's name on the private network
POSTGRES_PORT = 5432
POSTGRES_DATA = "/var/lib/postgresql/data"
DOCKER_RESTART = {"on_failure": "on-failure", "always": "always", "never": "no"}
DATABASE_WAIT_SECONDS = 120


def restart_of(policy: RestartPolicy) -> dict[str, Any]:
    """Docker's restart policy for the declared one (retries count only for on-failure)."""
    retries = policy.retries if policy.policy == "on_failure" else 0
    return {"policy": DOCKER_RESTART[policy.policy], "max_retries": retries}


def start_command(service: Service) -> list[str] | None:
    """The container's command. Pre-deploy commands (migrations) run first in the same container,
    as Railway runs them before each deployment: a failing one stops the service from starting,
    and the restart policy tries again."""
    if not service.pre_deploy_command:
        return shlex.split(service.start_command) if service.start_command else None
    steps = [*service.pre_deploy_command, f"exec {service.start_command}"]
    return ["sh", "-c", " && ".join(steps)]


def loopback_port(internal: int, external: int) -> dict[str, Any]:
    return {"internal": internal, "external": external, "ip": "127.0.0.1"}


def database_url(user: str, password: pulumi.Output[str], host: str, port: int, name: str) -> pulumi.Output[str]:
    """A libpq URL; secret because it embeds the password."""
    return pulumi.Output.secret(
        pulumi.Output.concat(
            "postgresql://",
            user,
            ":",
            password.apply(lambda p: quote(p, safe="")),
            "@",
            host,
            ":",
            str(port),
            "/",
            name,
        )
    )


class LocalStack(pulumi.ComponentResource):
    """All containers, the network and the data volume of one local environment."""

    urls: pulumi.Output[dict[str, str]]
    connection_string: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        secret: SecretSource,
        project_root: Path,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mvs:local:Stack", name, None, opts)
        self._name = name
        self._spec = spec
        self._secret = secret
        self._project_root = project_root
        self._port_keys = {str(port): key for key, port in published_ports(spec)}
        # base: debian: the node, python and postgres images are made here (debian.py).
        self.bases = debian_bases(name, project_root, parent=self) if spec.base == "debian" else None

        self.network = Network(
            f"{name}-network",
            name=f"mvs-{name}",
            labels=self.labels("network", release=False),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.database = self._database()
        self.containers: dict[str, Container] = {}
        for service_name in spec.startup_order():
            self.containers[service_name] = self._service(service_name, spec.services[service_name])

        published = {
            svc: f"http://localhost:{service.host_port or service.port}"
            for svc, service in spec.services.items()
            if service.public
        }
        db = spec.database
        self.monitoring = None
        if spec.monitoring.enabled:
            self.monitoring = LocalMonitoring(
                name,
                spec,
                self.network.name,
                secret,
                database_url(db.user, secret(db.password_secret), DATABASE_HOST, POSTGRES_PORT, db.name),
                self.labels("monitoring"),
                self.declared_as,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database, *self.containers.values()]),
            )
            published.update(self.monitoring.urls)
        self.backups = None
        if spec.backups.enabled:
            gateway = self.monitoring.pushgateway if self.monitoring else None
            self.backups = LocalBackups(
                name,
                spec,
                self.network.name,
                database_url(db.user, secret(db.password_secret), DATABASE_HOST, POSTGRES_PORT, db.name),
                self.labels("backup"),
                project_root,
                pushgateway_url(spec),
                runner_base=self.bases["python"] if self.bases else None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database, *([gateway] if gateway else [])]),
            )
        self.urls = pulumi.Output.from_input(published)
        self.connection_string = self._connection_string()
        self.register_outputs({"urls": self.urls, "connection_string": self.connection_string})

    def labels(self, role: str, release: bool = True) -> dict[str, str]:
        """Labels that let `docker ps --filter label=com.mvs.stack=<stack>` find everything. Networks
        and volumes carry no release: they outlive releases, and the engine cannot relabel them."""
        labels = {"com.mvs.stack": self._name, "com.mvs.role": role, "com.mvs.managed-by": "pulumi"}
        if release:
            labels["com.mvs.release"] = self._spec.release.version
        return labels

    def declared_as(self, ports: list[dict[str, Any]]) -> dict[str, Any]:
        """Where the declaration is, and the keys that set a container's host ports: for the providers'
        errors. Only the container's own ports, so a change elsewhere is no change to it."""
        own = {str(port["external"]) for port in ports}
        return {"file": stack_file(self._name), "ports": {p: k for p, k in self._port_keys.items() if p in own}}

    def _database(self) -> Container:
        db = self._spec.database
        protect = pulumi.ResourceOptions(parent=self, protect=db.protect)
        self.volume = Volume(
            f"{self._name}-pgdata",
            name=data_volume_name(self._name),
            labels=self.labels("database-volume", release=False),
            holds=kept_volumes(self._name)[data_volume_name(self._name)],
            opts=pulumi.ResourceOptions.merge(protect, KEEP_DATA),
        )
        if self.bases:
            image = self.bases["postgres"]
        else:
            image = Image(f"{self._name}-postgres-image", name=db.image, opts=pulumi.ResourceOptions(parent=self))
        password = self._secret(db.password_secret)
        ports = [loopback_port(POSTGRES_PORT, db.host_port)] if db.host_port is not None else []
        return Container(
            f"{self._name}-{DATABASE_HOST}",
            name=f"mvs-{self._name}-{DATABASE_HOST}",
            image=image.image_id,
            env=pulumi.Output.secret(
                pulumi.Output.all(db.user, db.name, password).apply(
                    lambda v: [f"POSTGRES_USER={v[0]}", f"POSTGRES_DB={v[1]}", f"POSTGRES_PASSWORD={v[2]}"]
                )
            ),
            secret_names=["POSTGRES_PASSWORD"],
            healthcheck=postgres_healthcheck(db),
            restart=UNLESS_STOPPED,
            volumes=[{"volume": self.volume.name, "path": POSTGRES_DATA}],
            network=self.network.name,
            aliases=[DATABASE_HOST],
            ports=ports,
            labels=self.labels("database"),
            wait_seconds=DATABASE_WAIT_SECONDS,
            waits_for="Postgres to pass its health check (pg_isready)",
            declared_as=self.declared_as(ports),
            opts=protect,
        )

    def _image(self, service_name: str, service: Service) -> pulumi.Output[str]:
        if service.build is not None:
            context = (self._project_root / service.build.context).resolve()
            options: BuildOptions = service.build
            if self.bases:
                options = with_base(service.build, self.bases["node"].reference)
            built = local_image(
                f"{self._name}-{service_name}-image",
                f"mvs-{self._name}-{service_name}",
                context,
                context / service.build.dockerfile,
                options,
                parent=self,
                depends_on=[self.bases["node"]] if self.bases else None,
            )
            return built.image_id
        pulled = Image(
            f"{self._name}-{service_name}-image",
            name=self._spec.image_for(service_name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulled.image_id

    def _envs(self, service: Service) -> pulumi.Output[list[str]]:
        pairs: list[pulumi.Input[str]] = [f"{k}={v}" for k, v in sorted(service.env.items())]
        for var, secret_name in sorted(service.secrets.items()):
            pairs.append(pulumi.Output.concat(var, "=", self._secret(secret_name)))
        if service.database_url_env:
            db = self._spec.database
            url = database_url(db.user, self._secret(db.password_secret), DATABASE_HOST, POSTGRES_PORT, db.name)
            pairs.append(pulumi.Output.concat(service.database_url_env, "=", url))
        envs = pulumi.Output.all(*pairs).apply(list)
        return pulumi.Output.secret(envs) if secret_variables(service) else envs

    def _service(self, service_name: str, service: Service) -> Container:
        depends_on: list[pulumi.Resource] = []
        for dep in service.depends_on:
            depends_on.append(self.database if dep == DATABASE else self.containers[dep])
        if service.database_url_env and self.database not in depends_on:
            depends_on.append(self.database)
        ports = [loopback_port(service.port, service.host_port or service.port)] if service.public else []
        wait = healthy_within_seconds(service.health_check)
        return Container(
            f"{self._name}-{service_name}",
            name=f"mvs-{self._name}-{service_name}",
            image=self._image(service_name, service),
            command=start_command(service),
            env=self._envs(service),
            secret_names=secret_variables(service),
            healthcheck=http_healthcheck(service.health_check, service.port),
            restart=restart_of(service.restart),
            network=self.network.name,
            aliases=[service_name],
            ports=ports,
            labels=self.labels(service_name),
            wait_seconds=wait,
            waits_for=f"{service_name} to pass its health check ({service.health_check.path})",
            declared_as=self.declared_as(ports),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )

    def _connection_string(self) -> pulumi.Output[str]:
        """The URL a developer's tools use: through the published port when there is one."""
        db = self._spec.database
        password = self._secret(db.password_secret)
        if db.host_port is not None:
            return database_url(db.user, password, "127.0.0.1", db.host_port, db.name)
        return database_url(db.user, password, DATABASE_HOST, POSTGRES_PORT, db.name)


def secret_variables(service: Service) -> list[str]:
    """The service's variables that hold a secret: its declared secrets and the database URL."""
    return sorted([*service.secrets, *([service.database_url_env] if service.database_url_env else [])])
