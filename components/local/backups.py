"""The dev stack's backups: the backup runner, built from this repo, in a container of its own.

Docker has no cron, so the runner's `schedule` command keeps running and fires the declared
schedules itself; its heartbeat is the container's health check. Dumps go to a named volume, so
they outlive the containers. With monitoring enabled the runner pushes each result to the
stack's Pushgateway (`PUSHGATEWAY_URL`, labelled `BACKUP_STACK`), where the backup alerts read it.
"""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_docker as docker

from ..last_drill import LastDrill, container_source
from ..spec import EnvironmentSpec
from .builds import local_image
from .healthchecks import container_healthcheck
from .volumes import KEEP_DATA, backup_volume_name

RUNNER_DOCKERFILE = "backup_runner/Dockerfile"
RUNNER_WAIT_SECONDS = 120


class LocalBackups(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        network_name: pulumi.Input[str],
        database_url: pulumi.Output[str],
        labels: list[docker.ContainerLabelArgs],
        project_root: Path,
        pushgateway_url: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mvs:local:Backups", name, None, opts)
        backups = spec.backups
        path = backups.destination.path
        self.volume = docker.Volume(
            f"{name}-backups",
            name=backup_volume_name(name),
            labels=[docker.VolumeLabelArgs(label=x.label, value=x.value) for x in labels],
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, protect=spec.database.protect), KEEP_DATA
            ),
        )
        image_id = local_image(
            f"{name}-backup-runner-image",
            "mvs-backup-runner",
            project_root,
            project_root / RUNNER_DOCKERFILE,
            backups.runner_build,
            parent=self,
        )
        command = ["python", "-m", "backup_runner", "schedule", "--backup-cron", backups.dump_schedule]
        if backups.verify_schedule:
            command += ["--verify-cron", backups.verify_schedule]
        plain_env = [
            f"BACKUP_DESTINATION={path}",
            "BACKUP_HEARTBEAT=/tmp/backup-runner.heartbeat",
            f"RETAIN_DAILY={backups.retention.daily}",
            f"RETAIN_WEEKLY={backups.retention.weekly}",
            f"RETAIN_MONTHLY={backups.retention.monthly}",
        ]
        if pushgateway_url is not None:  # with monitoring: every result is pushed, labelled with the stack
            plain_env += [f"PUSHGATEWAY_URL={pushgateway_url}", f"BACKUP_STACK={name}"]
        self.container = docker.Container(
            f"{name}-backup",
            name=f"mvs-{name}-backup",
            image=image_id,
            command=command,
            envs=pulumi.Output.secret(database_url.apply(lambda url: [f"DATABASE_URL={url}", *plain_env])),
            volumes=[docker.ContainerVolumeArgs(volume_name=self.volume.name, container_path=path)],
            # The heartbeat is written as the scheduler starts: check every 10 s, so the container
            # is healthy seconds after it starts (Docker's first check waits one interval).
            healthcheck=container_healthcheck(
                ["CMD", "python", "-m", "backup_runner", "health"], interval=10, timeout=5, retries=3, start_period=30
            ),
            restart="unless-stopped",
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network_name, aliases=["backup"])],
            labels=labels,
            wait=True,
            wait_timeout=RUNNER_WAIT_SECONDS,
            must_run=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        pulumi.log.info(
            f"waits up to {RUNNER_WAIT_SECONDS} s for the backup scheduler's first heartbeat", resource=self.container
        )
        self.last_drill = LastDrill(
            f"{name}-last-drill",
            container_source(f"mvs-{name}-backup", path),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
        self.summary = {
            "destination": pulumi.Output.concat("docker volume ", self.volume.name, " at ", path),
            "dump_schedule": backups.dump_schedule,
            "verify_schedule": backups.verify_schedule,
            "retention": backups.retention.model_dump(),
            "last_drill": self.last_drill.drill,
            "list_backups": f"docker exec mvs-{name}-backup python -m backup_runner list",
        }
        self.register_outputs({"summary": self.summary})
