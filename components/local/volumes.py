"""The dev stack's data: the Postgres volume, the backups volume and (with monitoring) Prometheus's
samples, by name.

All outlive `./mvs destroy dev` (Pulumi's retainOnDelete: the destroy forgets them, the engine
keeps them), because a command that removes containers must not take the data with it. The next
`./mvs up dev` finds them by name and mounts them again; `./mvs destroy dev --delete-data`
removes them on purpose.
"""

from __future__ import annotations

import pulumi

KEEP_DATA = pulumi.ResourceOptions(retain_on_delete=True)


def data_volume_name(stack: str) -> str:
    return f"mvs-{stack}-pgdata"


def backup_volume_name(stack: str) -> str:
    return f"mvs-{stack}-backups"


def prometheus_volume_name(stack: str) -> str:
    return f"mvs-{stack}-prometheus"


def kept_volumes(stack: str) -> dict[str, str]:
    """What each retained volume holds, by volume name."""
    return {
        data_volume_name(stack): "the database",
        backup_volume_name(stack): "the backups",
        prometheus_volume_name(stack): "the monitoring history",
    }
