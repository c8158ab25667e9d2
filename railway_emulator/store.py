"""The emulator's model of a Railway account: plain JSON-able dicts behind one lock.

Shaped like Railway: services belong to a project and have one instance per environment (an
environment may lack one: serviceDelete(environmentId) removes it, an environment patch with
`isCreated` adds it back, and a service left with no instance anywhere is deleted); variables
are kept per (environment, service); deployments snapshot the instance they deploy.

Settings that are part of the model (state["settings"], back to their defaults on reset):
- `plan`: the account's plan (plans.py), default HOBBY;
- `clock_offset_seconds`: how far the emulator's clock runs ahead of the wall clock (the admin API
  advances it, so tests reach "73 hours later" without waiting). Every time the model records or
  compares goes through `clock_ns(state)` / `now(state)`; only the rate limiter's windows and the
  request log's timestamps follow the wall clock, as real clients sleep in wall-clock time;
- `deploy_seconds`: None for the default lifecycle (one step per read), or the seconds a
  deployment takes to reach its end (lifecycle.py).
"""

from __future__ import annotations

import copy
import json
import threading
import time
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
    "http_traffic": [],  # requests Railway's edge saw, recorded by the admin API (http_metrics.py)
    "settings": {"plan": "HOBBY", "clock_offset_seconds": 0.0, "deploy_seconds": None},
}


def settings(state: dict[str, Any]) -> dict[str, Any]:
    """The model's settings, defaults filled in (a state file from before they existed has none)."""
    current = state.setdefault("settings", {})
    for key, value in EMPTY_STATE["settings"].items():
        current.setdefault(key, value)
    return current


def clock_ns(state: dict[str, Any]) -> int:
    """The emulator's time, in nanoseconds since the epoch: the wall clock plus the offset."""
    return time.time_ns() + round(float(settings(state)["clock_offset_seconds"]) * 1_000_000_000)


def iso_ms(ns: int) -> str:
    """`2026-09-01T12:00:00.123Z`, the form Railway's DateTime fields take."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{fraction // 1_000_000:03d}Z"


def parse_iso_ns(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def now(state: dict[str, Any]) -> str:
    return iso_ms(clock_ns(state))


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
