"""RailwayStack under Pulumi mocks: what each resource is declared with (the engine runs are in
tests/engine)."""

from __future__ import annotations

import copy

import pulumi
import yaml

from components.railway.stack import RailwayStack
from components.spec import parse_environment
from tests.components.conftest import ROOT

SECRETS = {
    "mvs:dbPassword": "pw-Never-Shown-1",
    "mvs:sessionSecret": "session-Never-Shown-2",
    "mvs:backupAccessKey": "access-Never-Shown-3",
    "mvs:backupSecretKey": "key-Never-Shown-4",
}
DYNAMIC = "pulumi-python:dynamic/railway:"


def prod_spec():
    raw = yaml.safe_load((ROOT / "stacks/Pulumi.prod.yaml").read_text())["config"]["mvs:environment"]
    return parse_environment(copy.deepcopy(raw), "stacks/Pulumi.prod.yaml")


def build(monitor) -> RailwayStack:
    pulumi.runtime.set_all_config(SECRETS, list(SECRETS))
    return RailwayStack("prod", prod_spec(), lambda name: pulumi.Config("mvs").require_secret(name))


def registered(stack: RailwayStack) -> pulumi.Output:
    return pulumi.Output.all(
        *[d.urn for d in stack.deployments.values()], stack.connection_string, stack.backups["last_drill"]
    )


@pulumi.runtime.test
def test_backup_schedules_and_cron_services_are_declared_with_the_right_settings(monitor):
    stack = build(monitor)

    def check(_):
        schedules = monitor.of_type(DYNAMIC + "BackupSchedules")
        assert [r.inputs["kinds"] for r in schedules] == [["DAILY", "MONTHLY", "WEEKLY"]]
        assert schedules[0].protect, "prod's backup schedules go with its protected volume"
        settings = {r.name: r.inputs for r in monitor.of_type(DYNAMIC + "ServiceInstance")}
        backup, drill = settings["prod-backup-settings"], settings["prod-backup-verify-settings"]
        assert (backup["cron_schedule"], drill["cron_schedule"]) == ("0 */6 * * *", "30 4 * * *")
        assert backup["image"] == drill["image"] == "ghcr.io/mvs-app/backup-runner:0.1.0"
        assert "backup_runner run && python -m backup_runner prune" in backup["start_command"]
        assert "backup_runner verify" in drill["start_command"]
        assert backup["num_replicas"] == 1 and backup["restart_policy_type"] == "NEVER"
        variables = {r.name: r for r in monitor.of_type(DYNAMIC + "Variables")}
        job = variables["prod-backup-variables"]
        assert "variables" in job.secret_inputs
        assert job.inputs["variables"]["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
        assert job.inputs["variables"]["BACKUP_DESTINATION"] == "s3://mvs-backups/prod"
        assert job.inputs["variables"]["AWS_SECRET_ACCESS_KEY"] == SECRETS["mvs:backupSecretKey"]
        assert job.inputs["variables"]["RETAIN_MONTHLY"] == "12"
        deployments = {r.name: r for r in monitor.of_type(DYNAMIC + "Deployment")}
        database = deployments["prod-database-deployment"]
        assert database.urn in deployments["prod-backup-deployment"].dependencies
        (last_drill,) = monitor.of_type("pulumi-python:dynamic/backups:LastDrill")
        assert last_drill.inputs["source"] == {
            "kind": "s3",
            "bucket": "mvs-backups",
            "prefix": "prod",
            "access_key_secret": "backupAccessKey",
            "secret_key_secret": "backupSecretKey",
        }, "the drill is read with the keys named, never copied into its inputs"

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_prod_protects_its_environment_database_and_volume(monitor):
    stack = build(monitor)

    def check(_):
        protected = {r.name for r in monitor.registrations if r.protect}
        assert {"prod-environment", "prod-database", "prod-database-volume"} <= protected
        assert "prod-backend" not in protected
        volume = monitor.named("prod-database-volume")
        assert volume.inputs["mount_path"] == "/var/lib/postgresql/data" and volume.inputs["size_mb"] == 50_000

    return registered(stack).apply(check)


@pulumi.runtime.test
def test_secrets_stay_secret_and_references_stay_unrendered(monitor):
    stack = build(monitor)

    def check(_):
        backend = monitor.named("prod-backend-variables")
        assert "variables" in backend.secret_inputs
        assert backend.inputs["variables"]["DATABASE_URL"] == "${{Postgres.DATABASE_URL}}"
        frontend = monitor.named("prod-frontend-variables")
        assert "variables" not in frontend.secret_inputs

    async def connection_is_secret():
        assert await stack.connection_string.is_secret()

    return pulumi.Output.all(registered(stack), pulumi.Output.from_input(connection_is_secret())).apply(check)
