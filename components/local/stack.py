"""The dev environment on the local Docker engine, built from the declaration.

What docker-compose gave the team, as Pulumi resources: one private network, a named volume for
Postgres data, Postgres with a pg_isready health check, and each service with its HTTP health
check, restart policy, pinned image (or local build), labels and published port. Every container
waits until it is healthy (`wait`), and a container starts only after what it depends on is
healthy, so the backend never starts against a database that is still initialising.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import quote

import pulumi
import pulumi_docker as docker

from ..spec import DATABASE, EnvironmentSpec, RestartPolicy, Service
from .backups import LocalBackups
from .builds import local_image
from .healthchecks import healthy_within_seconds, http_healthcheck, postgres_healthcheck
from .monitoring import LocalMonitoring, pushgateway_url
from .secrets import SecretSource
from .volumes import KEEP_DATA, data_volume_name

DATABASE_HOST = DATABASE  # the Postgres container's name on the private network
POSTGRES_PORT = 5432
POSTGRES_DATA = "/var/lib/postgresql/data"
DOCKER_RESTART = {"on_failure": "on-failure", "always": "always", "never": "no"}
DATABASE_WAIT_SECONDS = 120


def restart_args(policy: RestartPolicy) -> dict[str, object]:
    """Docker's restart policy for the declared one (retries count only for on-failure)."""
    args: dict[str, object] = {"restart": DOCKER_RESTART[policy.policy]}
    if policy.policy == "on_failure":
        args["max_retry_count"] = policy.retries
    return args


def start_command(service: Service) -> list[str] | None:
    """The container's command. Pre-deploy commands (migrations) run first in the same container,
    as Railway runs them before each deployment: a failing one stops the service from starting,
    and the restart policy tries again."""
    if not service.pre_deploy_command:
        return shlex.split(service.start_command) if service.start_command else None
    steps = [*service.pre_deploy_command, f"exec {service.start_command}"]
    return ["sh", "-c", " && ".join(steps)]


def say_wait(container: docker.Container, what: str, seconds: int, check: str) -> None:
    """Pulumi shows only dots while a container turns healthy: say what it waits for, and how long."""
    pulumi.log.info(f"waits up to {seconds} s for {what} to pass its health check ({check})", resource=container)


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

        self.network = docker.Network(
            f"{name}-network",
            name=f"mvs-{name}",
            driver="bridge",
            labels=self._labels("network", docker.NetworkLabelArgs),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.database = self._database()
        self.containers: dict[str, docker.Container] = {}
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
                self._labels("monitoring"),
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
                self._labels("backup"),
                project_root,
                pushgateway_url(spec),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.database, *([gateway] if gateway else [])]),
            )
        self.urls = pulumi.Output.from_input(published)
        self.connection_string = self._connection_string()
        self.register_outputs({"urls": self.urls, "connection_string": self.connection_string})

    def _labels(self, role: str, kind: type = docker.ContainerLabelArgs) -> list:
        """Labels that let `docker ps --filter label=com.mvs.stack=<stack>` find everything."""
        labels = {
            "com.mvs.stack": self._name,
            "com.mvs.role": role,
            "com.mvs.release": self._spec.release.version,
            "com.mvs.managed-by": "pulumi",
        }
        return [kind(label=k, value=v) for k, v in labels.items()]

    def _network_args(self, alias: str) -> list[docker.ContainerNetworksAdvancedArgs]:
        return [docker.ContainerNetworksAdvancedArgs(name=self.network.name, aliases=[alias])]

    def _database(self) -> docker.Container:
        db = self._spec.database
        protect = pulumi.ResourceOptions(parent=self, protect=db.protect)
        self.volume = docker.Volume(
            f"{self._name}-pgdata",
            name=data_volume_name(self._name),
            labels=self._labels("database-volume", docker.VolumeLabelArgs),
            opts=pulumi.ResourceOptions.merge(protect, KEEP_DATA),
        )
        image = docker.RemoteImage(
            f"{self._name}-postgres-image",
            name=db.image,
            keep_locally=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        password = self._secret(db.password_secret)
        ports = []
        if db.host_port is not None:
            ports = [docker.ContainerPortArgs(internal=POSTGRES_PORT, external=db.host_port, ip="127.0.0.1")]
        database = docker.Container(
            f"{self._name}-{DATABASE_HOST}",
            name=f"mvs-{self._name}-{DATABASE_HOST}",
            image=image.image_id,
            envs=pulumi.Output.secret(
                pulumi.Output.all(db.user, db.name, password).apply(
                    lambda v: [f"POSTGRES_USER={v[0]}", f"POSTGRES_DB={v[1]}", f"POSTGRES_PASSWORD={v[2]}"]
                )
            ),
            healthcheck=postgres_healthcheck(db),
            restart="unless-stopped",
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=POSTGRES_DATA)],
            networks_advanced=self._network_args(DATABASE_HOST),
            ports=ports,
            labels=self._labels("database"),
            wait=True,
            wait_timeout=DATABASE_WAIT_SECONDS,
            must_run=True,
            opts=protect,
        )
        say_wait(database, "Postgres", DATABASE_WAIT_SECONDS, "pg_isready")
        return database

    def _image(self, service_name: str, service: Service) -> pulumi.Output[str]:
        if service.build is not None:
            context = (self._project_root / service.build.context).resolve()
            return local_image(
                f"{self._name}-{service_name}-image",
                f"mvs-{self._name}-{service_name}",
                context,
                context / service.build.dockerfile,
                service.build,
                parent=self,
            )
        pulled = docker.RemoteImage(
            f"{self._name}-{service_name}-image",
            name=self._spec.image_for(service_name),
            keep_locally=True,
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
        secret_inside = bool(service.secrets) or service.database_url_env is not None
        return pulumi.Output.secret(envs) if secret_inside else envs

    def _service(self, service_name: str, service: Service) -> docker.Container:
        depends_on: list[pulumi.Resource] = []
        for dep in service.depends_on:
            depends_on.append(self.database if dep == DATABASE else self.containers[dep])
        if service.database_url_env and self.database not in depends_on:
            depends_on.append(self.database)
        ports = []
        if service.public:
            ports = [
                docker.ContainerPortArgs(
                    internal=service.port, external=service.host_port or service.port, ip="127.0.0.1"
                )
            ]
        container = docker.Container(
            f"{self._name}-{service_name}",
            name=f"mvs-{self._name}-{service_name}",
            image=self._image(service_name, service),
            command=start_command(service),
            envs=self._envs(service),
            healthcheck=http_healthcheck(service.health_check, service.port),
            **restart_args(service.restart),
            networks_advanced=self._network_args(service_name),
            ports=ports,
            labels=self._labels(service_name),
            wait=True,
            wait_timeout=healthy_within_seconds(service.health_check),
            must_run=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        say_wait(container, service_name, healthy_within_seconds(service.health_check), service.health_check.path)
        return container

    def _connection_string(self) -> pulumi.Output[str]:
        """The URL a developer's tools use: through the published port when there is one."""
        db = self._spec.database
        password = self._secret(db.password_secret)
        if db.host_port is not None:
            return database_url(db.user, password, "127.0.0.1", db.host_port, db.name)
        return database_url(db.user, password, DATABASE_HOST, POSTGRES_PORT, db.name)
