"""The Railway settings of a service the components add themselves (the database, the backup
jobs, monitoring): one replica and no health check unless asked, and no unknown keys; and how
such a service is described to the stack that adds it (AddedService), so that the modules
describing them (monitoring.py) need nothing of the stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

SecretSource = Callable[[str], pulumi.Output[str]]  # a declared secret's name -> its value, as a secret


@dataclass
class AddedService:
    """A service to add beside the declared ones, as RailwayStack.add_service takes it. Its volume
    is (mount path, size in MB, the declaration key that sizes it, the key's unit in MB); it starts
    after the database's deployment when `after_database`."""

    key: str
    settings: dict[str, Any]
    variables: dict[str, Any]
    secret_names: list[str] = field(default_factory=list)
    after_database: bool = False
    volume: tuple[str, int, str, int] | None = None
    port: int | None = None
    public: bool = False


def plain_settings(image: str, **overrides: Any) -> dict[str, Any]:
    """Settings for a service that is not one of the declared ones: one replica, no health check."""
    settings = {
        "image": image,
        "start_command": None,
        "pre_deploy_command": None,
        "healthcheck_path": None,
        "healthcheck_timeout": None,
        "restart_policy_type": "ALWAYS",
        "restart_policy_max_retries": 10,
        "num_replicas": 1,
        "region": None,
        "cron_schedule": None,
    }
    unknown = set(overrides) - set(settings)
    if unknown:
        raise ValueError(f"unknown service settings: {', '.join(sorted(unknown))}")
    return {**settings, **overrides}
