"""An environment on Railway, built from the declaration.

One Railway project (created, or adopted by id) holds one environment per stack, so staging and
prod live side by side: every resource here is scoped to this stack's environment, and deleting
them removes only this environment's service instances. For each service: its settings, its
variables (secrets stay secret; `${{Postgres.DATABASE_URL}}` stays a reference Railway resolves),
and one deployment that runs after any of them is written (a change, or undoing drift).
Postgres runs Railway's Postgres image as a service of its own; with `monitoring.enabled`,
monitoring.py adds the monitoring services beside the declared ones.
"""

from __future__ import annotations

from typing import Any

import pulumi

from ..last_drill import LastDrill, bucket_source
from ..spec import CONFIG_KEY, DATABASE, EnvironmentSpec, Service
from ..stack_config import stack_file
from .monitoring import backup_variables, monitoring_services
from .providers.backup_schedules import BackupSchedules
from .providers.deployment import Deployment, expected_deploy, fingerprint
from .providers.domains import CustomDomain, ServiceDomain
from .providers.environment import Environment
from .providers.instance import ServiceInstance
from .providers.project import Project
from .providers.service import Service as RailwayService
from .providers.variables import Variables
from .providers.volume import MB_PER_GB, Volume
from .settings import AddedService, SecretSource, plain_settings

POSTGRES_SERVICE = "Postgres"
POSTGRES_DATA = "/var/lib/postgresql/data"
POSTGRES_PORT = 5432
POSTGRES_IMAGE = "ghcr.io/railwayapp-templates/postgres-ssl:{version}"
RESTART_POLICY = {"on_failure": "ON_FAILURE", "always": "ALWAYS", "never": "NEVER"}


def service_settings(spec: EnvironmentSpec, name: str, service: Service) -> dict[str, Any]:
    """The Railway settings a service's declaration asks for."""
    return {
        "image": spec.image_for(name),
        "start_command": service.start_command,
        "pre_deploy_command": service.pre_deploy_command,
        "healthcheck_path": service.health_check.path,
        "healthcheck_timeout": service.health_check.deadline_seconds(),
        "restart_policy_type": RESTART_POLICY[service.restart.policy],
        "restart_policy_max_retries": service.restart.retries,
        "num_replicas": service.replicas,
        "region": service.region,
        "cron_schedule": service.cron_schedule,
    }


def postgres_settings(spec: EnvironmentSpec) -> dict[str, Any]:
    return plain_settings(spec.database.image or POSTGRES_IMAGE.format(version=spec.database.version))


def runner_settings(image: str, start_command: str, cron_schedule: str) -> dict[str, Any]:
    """A cron service running the backup runner: it runs to completion, so it never restarts."""
    return plain_settings(image, start_command=start_command, cron_schedule=cron_schedule, restart_policy_type="NEVER")


class RailwayStack(pulumi.ComponentResource):
    """The project, environment, services and deployments of one Railway environment."""

    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        secret: SecretSource,
        sibling_project_ids: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        sibling_environments: dict[str, str] | None = None,
    ):
        """`sibling_project_ids`: the project ids other stack files sharing this project declare
        (id -> file), where a stack without `railway.project_id` looks for its project first.
        `sibling_environments`: the environment each of those stack files uses (file -> name)."""
        super().__init__("mvs:railway:Stack", name, None, opts)
        self.stack_name = name
        self._spec = spec
        protect = spec.database.protect
        child = pulumi.ResourceOptions(parent=self)

        environment_name = spec.railway.environment or name
        self.project = Project(
            f"{name}-project",
            spec.railway.project_name,
            environment_name,
            adopt_id=spec.railway.project_id,
            sibling_ids=sibling_project_ids,
            stack_file=stack_file(name),
            opts=child,
        )
        # Each resource takes its parent's id, never an output of it: a parent that updates (a
        # project renamed, a volume grown) keeps its id, known in every preview, while its other
        # outputs are unknown until the update has run, and an unknown id looks like a replacement,
        # which protected resources refuse.
        self.environment = Environment(
            f"{name}-environment",
            self.project.id,
            environment_name,
            sibling_environments=sibling_environments,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.deployments: dict[str, Deployment] = {}
        self.service_ids: dict[str, pulumi.Output[str]] = {}
        self.urls: dict[str, pulumi.Output[str]] = {}
        self.dns_records: dict[str, pulumi.Output[list]] = {}

        db = spec.database
        database_volume = self.add_service(
            DATABASE,
            POSTGRES_SERVICE,
            postgres_settings(spec),
            {
                "POSTGRES_USER": db.user,
                "POSTGRES_DB": db.name,
                "POSTGRES_PASSWORD": secret(db.password_secret),
                "PGDATA": f"{POSTGRES_DATA}/pgdata",
                "DATABASE_URL": "postgresql://${{POSTGRES_USER}}:${{POSTGRES_PASSWORD}}@"
                f"${{{{RAILWAY_PRIVATE_DOMAIN}}}}:{POSTGRES_PORT}/${{{{POSTGRES_DB}}}}",
            },
            depends_on=[],
            protect=protect,
            volume=(POSTGRES_DATA, db.volume_size_gb * MB_PER_GB, self.declared("database.volume_size_gb", MB_PER_GB)),
        )
        # Credentials as a secret output: the URL other tools use inside Railway's private network.
        password = secret(db.password_secret)
        self.connection_string = pulumi.Output.secret(
            pulumi.Output.concat(
                "postgresql://",
                db.user,
                ":",
                password,
                "@",
                POSTGRES_SERVICE.lower(),
                ".railway.internal:",
                str(POSTGRES_PORT),
                "/",
                db.name,
            )
        )
        self.backups = self._backups(spec, secret, database_volume, protect) if spec.backups.enabled else None
        for service_name in spec.startup_order():
            service = spec.services[service_name]
            variables: dict[str, Any] = dict(service.env)
            variables.update({var: secret(ref) for var, ref in service.secrets.items()})
            if service.database_url_env:
                variables[service.database_url_env] = "${{" + POSTGRES_SERVICE + ".DATABASE_URL}}"
            self.add_service(
                service_name,
                service_name,
                service_settings(spec, service_name, service),
                variables,
                depends_on=[self.deployments[dep] for dep in service.depends_on if dep in self.deployments],
                protect=False,
                port=service.port,
                public=service.public,
                custom_domains=service.custom_domains,
            )
        for added in monitoring_services(self.stack_name, spec, secret, self.environment.id, self.service_ids):
            self._add(added)

        self.register_outputs(
            {
                "project_id": self.project.id,
                "environment_id": self.environment.id,
                "service_ids": self.service_ids,
                "urls": self.urls,
                "dns_records": self.dns_records,
                "connection_string": self.connection_string,
                "backups": self.backups,
            }
        )

    def _add(self, added: AddedService) -> None:
        """A service the components describe (monitoring.py), added as the declared ones are."""
        volume = None
        if added.volume is not None:
            mount_path, size_mb, key, unit_mb = added.volume
            volume = (mount_path, size_mb, self.declared(key, unit_mb))
        self.add_service(
            added.key,
            added.key,
            added.settings,
            added.variables,
            depends_on=[self.deployments[DATABASE]] if added.after_database else [],
            protect=False,
            volume=volume,
            port=added.port,
            public=added.public,
            secret_names=added.secret_names,
        )

    def declared(self, path: str, unit_mb: int) -> dict[str, Any]:
        """Where a value is declared, for a provider's messages: the stack file and the config key."""
        return {"file": stack_file(self.stack_name), "key": f"{CONFIG_KEY}.{path}", "unit_mb": unit_mb}

    def add_service(
        self,
        key: str,
        railway_name: str,
        settings: dict[str, Any],
        variables: dict[str, Any],
        depends_on: list[pulumi.Resource],
        protect: bool,
        volume: tuple[str, int, dict[str, Any]] | None = None,
        port: int | None = None,
        public: bool = False,
        custom_domains: list[str] = (),
        secret_names: list[str] | None = None,
    ) -> Volume | None:
        """One service in the stack's environment: the service, its settings and variables, one
        deployment after them, and optionally a volume and domains. `secret_names`: the variables
        that hold secrets (default: those given as Outputs, which is how secrets come in)."""
        prefix = f"{self.stack_name}-{key}"
        project_id, environment_id = self.project.id, self.environment.id
        if secret_names is None:
            secret_names = [k for k, v in variables.items() if isinstance(v, pulumi.Output)]
        all_variables = pulumi.Output.all(**variables)
        variables_value = pulumi.Output.secret(all_variables) if secret_names else all_variables
        # The service's create carries its variables, so the Variables resource has nothing to write
        # on a service made in this run (providers/service.py).
        service = RailwayService(
            prefix,
            project_id,
            environment_id,
            railway_name,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
            variables=variables_value,
        )
        # What a protected service needs to start again (its settings, its variables, the deployment
        # that runs it) is protected with it: `destroy --exclude-protected` leaves it able to start.
        kept = pulumi.ResourceOptions(parent=self, protect=protect)
        instance = ServiceInstance(f"{prefix}-settings", service.id, environment_id, settings, opts=kept)
        ready: list[pulumi.Resource] = [instance]
        volume_resource = None
        if volume is not None:
            mount_path, size_mb, declared_as = volume
            volume_resource = Volume(
                f"{prefix}-volume",
                project_id,
                environment_id,
                service.id,
                mount_path,
                size_mb,
                declared_as,
                service_name=railway_name,
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            ready.append(volume_resource)
        if public and port is not None:
            domain = ServiceDomain(
                f"{prefix}-domain",
                project_id,
                environment_id,
                service.id,
                port,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.urls[key] = pulumi.Output.concat("https://", domain.domain)
        for hostname in custom_domains:
            custom = CustomDomain(
                f"{prefix}-{hostname}",
                project_id,
                environment_id,
                service.id,
                hostname,
                port,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.dns_records[hostname] = custom.dns_records
        vars_resource = Variables(
            f"{prefix}-variables",
            project_id,
            environment_id,
            service.id,
            variables_value,
            opts=kept,
            service_name=railway_name,
            secret_names=secret_names,
            plain_names=[k for k, v in variables.items() if not isinstance(v, pulumi.Output) and k not in secret_names],
        )
        self.deployments[key] = Deployment(
            f"{prefix}-deployment",
            service.id,
            environment_id,
            railway_name,
            pulumi.Output.all(instance.applied_at, vars_resource.applied_at).apply(lambda marks: fingerprint(*marks)),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, depends_on=[*ready, vars_resource, *depends_on]),
            expects=expected_deploy(settings),
        )
        self.service_ids[key] = service.id
        return volume_resource

    def _backups(
        self, spec: EnvironmentSpec, secret: SecretSource, database_volume: Volume | None, protect: bool
    ) -> dict[str, Any]:
        """Railway's volume schedules, and the runner as two cron services: dumps and the drill."""
        backups = spec.backups
        destination = backups.destination
        outputs: dict[str, Any] = {
            "destination": f"s3://{destination.bucket}/{destination.prefix}",
            "dump_schedule": backups.dump_schedule,
            "verify_schedule": backups.verify_schedule,
            "retention": backups.retention.model_dump(),
        }
        if backups.volume_schedules and database_volume is not None:
            schedules = BackupSchedules(
                f"{self.stack_name}-database-backup-schedules",
                database_volume.volume_instance_id,
                list(backups.volume_schedules),
                opts=pulumi.ResourceOptions(parent=self, protect=protect),
            )
            outputs["volume_schedules"] = schedules.schedules
        variables: dict[str, Any] = {
            "DATABASE_URL": "${{" + POSTGRES_SERVICE + ".DATABASE_URL}}",
            "BACKUP_DESTINATION": outputs["destination"],
            "AWS_ACCESS_KEY_ID": secret(destination.access_key_secret),
            "AWS_SECRET_ACCESS_KEY": secret(destination.secret_key_secret),
            "RETAIN_DAILY": str(backups.retention.daily),
            "RETAIN_WEEKLY": str(backups.retention.weekly),
            "RETAIN_MONTHLY": str(backups.retention.monthly),
        }
        if destination.endpoint:
            variables["AWS_ENDPOINT_URL"] = destination.endpoint
        if destination.region:
            variables["AWS_REGION"] = destination.region
        variables.update(backup_variables(self.stack_name, spec))
        jobs = {"backup": ("run", backups.dump_schedule), "backup-verify": ("verify", backups.verify_schedule)}
        for job, (command, schedule) in jobs.items():
            if schedule is None:
                continue
            start = (
                "python -m backup_runner run && python -m backup_runner prune"
                if command == "run"
                else ("python -m backup_runner verify")
            )
            self.add_service(
                job,
                job,
                runner_settings(backups.runner_image, f'/bin/sh -c "{start}"', schedule),
                dict(variables),
                depends_on=[self.deployments[DATABASE]],
                protect=False,
            )
        if backups.verify_schedule is not None:
            outputs["last_drill_started_at"] = self.deployments["backup-verify"].latest_started_at
        drill = LastDrill(
            f"{self.stack_name}-last-drill", bucket_source(destination), opts=pulumi.ResourceOptions(parent=self)
        )
        outputs["last_drill"] = drill.drill
        return outputs
