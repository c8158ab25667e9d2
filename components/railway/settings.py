"""The Railway settings of a service the components add themselves (the database, the backup
jobs, monitoring): one replica and no health check unless asked, and no unknown keys."""

from __future__ import annotations

from typing import Any


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
