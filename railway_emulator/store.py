"""The emulator's model of a Railway account: plain JSON-able dicts behind one lock.

Shaped like Railway: services belong to a project and have one instance per environment (an
environment may lack one: serviceDelete(environmentId) removes it, an environment patch with
`isCreated` adds it back, and a service left with no instance anywhere is deleted); variables
are kept per (environment, service); deployments snapshot the instance they deploy.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EMPTY_STATE: dict[str, Any] = {
    "projects": {},
    "environments": {},
    "services": {},
    "instances": {},  # "<environmentId>:<serviceId>" -> service instance settings
    "variables": {},  # "<environmentId>:<serviceId or ''>" -> {name: value}
    "deployments": {},
    "volumes": {},
    "volume_instances": {},
    "service_domains": {},
    "custom_domains": {},
    "backup_schedules": {},  # volume instance id -> [schedule]
    "behaviours": {},  # service name -> {"outcome": ..., "healthy_paths": [...], "restart_outcome": ...}
    "logs": {},  # deployment id -> [log line] (logs.py)
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return str(uuid.uuid4())


def instance_key(environment_id: str, service_id: str) -> str:
    return f"{environment_id}:{service_id}"


def variables_key(environment_id: str, service_id: str | None) -> str:
    return f"{environment_id}:{service_id or ''}"


# What Railway reports for a service instance nobody has configured yet (docs' API defaults).
INSTANCE_DEFAULTS: dict[str, Any] = {
    "source": None,
    "startCommand": None,
    "preDeployCommand": None,
    "healthcheckPath": None,
    "healthcheckTimeout": None,
    "restartPolicyType": "ON_FAILURE",
    "restartPolicyMaxRetries": 10,
    "numReplicas": 1,
    "multiRegionConfig": None,
    "region": None,
    "cronSchedule": None,
    "sleepApplication": False,
    "builder": "RAILPACK",
    "watchPatterns": [],
}


class Store:
    """The state, a lock for it, and persistence to a JSON file after every change."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.lock = threading.RLock()
        self.state: dict[str, Any] = copy.deepcopy(EMPTY_STATE)
        if path is not None and path.exists():
            self.state.update(json.loads(path.read_text()))

    def save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.state)

    def reset(self) -> None:
        with self.lock:
            self.state = copy.deepcopy(EMPTY_STATE)
            self.save()
