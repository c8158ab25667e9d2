"""The dev stack's backups: the backup runner, built from this repo, in a container of its own.

Docker has no cron, so the runner's `schedule` command keeps running and fires the declared
schedules itself; its heartbeat is the container's health check. Dumps go to a named volume, so
they outlive the containers. With monitoring enabled the runner pushes each result to the
stack's Pushgateway (`PUSHGATEWAY_URL`, labelled `BACKUP_STACK`), where the backup alerts read it.
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from ..last_drill import LastDrill, container_source
from ..spec import EnvironmentSpec
from .builds import local_image
from .debian import with_base
from .healthchecks import container_healthcheck
from .providers.container import UNLESS_STOPPED, Container
from .providers.image import Image
from .providers.volume import Volume
from .volumes import KEEP_DATA, backup_volume_name, kept_volumes

RUNNER_DOCKERFILE = "backup_runner/Dockerfile"
RUNNER_WAIT_SECONDS = 120


class LocalBackups(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: EnvironmentSpec,
        network_name: pulumi.Input[str],
        database_url: pulumi.Output[str],
        labels: dict[str, str],
        project_root: Path,
        pushgateway_url: str | None = None,
        runner_base: Image | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("mvs:local:Backups", name, None, opts)
        backups = spec.backups
        path = backups.destination.path
        volume_labels = {k: v for k, v in labels.items() if k != "com.mvs.release"}
        self.volume = Volume(
            f"{name}-backups",
            name=backup_volume_name(name),
            labels=volume_labels,
            holds=kept_volumes(name)[backup_volume_name(name)],
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self, protect=spec.database.protect), KEEP_DATA
            ),
        )
        image = local_image(
            f"{name}-backup-runner-image",
            "mvs-backup-runner",
            project_root,
            project_root / RUNNER_DOCKERFILE,
            with_base(backups.runner_build, runner_base.reference) if runner_base else backups.runner_build,
            parent=self,
            depends_on=[runner_base] if runner_base else None,
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
        self.container = Container(
            f"{name}-backup",
            name=f"mvs-{name}-backup",
            image=image.image_id,
            command=command,
            env=pulumi.Output.secret(database_url.apply(lambda url: [f"DATABASE_URL={url}", *plain_env])),
            secret_names=["DATABASE_URL"],
            volumes=[{"volume": self.volume.name, "path": path}],
            # The heartbeat is written as the scheduler starts: check every 10 s, so the container
            # is healthy seconds after it starts (Docker's first check waits one interval).
            healthcheck=container_healthcheck(
                ["CMD", "python", "-m", "backup_runner", "health"], interval=10, timeout=5, retries=3, start_period=30
            ),
            restart=UNLESS_STOPPED,
            network=network_name,
            aliases=["backup"],
            labels=labels,
            wait_seconds=RUNNER_WAIT_SECONDS,
            waits_for="the backup scheduler's first heartbeat",
            opts=pulumi.ResourceOptions(parent=self),
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
