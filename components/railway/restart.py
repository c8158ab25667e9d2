"""Restart a deployment in place and wait, within a bound, until it runs again.

`deploymentRestart` restarts the containers of an existing deployment (the same image, settings
and variables; nothing is built or deployed anew), so it is the API's `docker-compose restart`.
It is sent once: repeating it after a lost answer could restart a container that had just come
back. What is waited for: the deployment SUCCESS again with every instance RUNNING. What ends
the wait early: the deployment or one of its instances CRASHED (or FAILED, REMOVED). The wait is
bounded by Railway's default health-check timeout, and its reads slow down as it goes, so even a
restart that never settles costs about twenty requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RailwayError
from .client import RailwayClient

RESTARTABLE = ("SUCCESS", "CRASHED", "SLEEPING")  # a deployment that ran; one that never did is deployed, not restarted
ENDED_BADLY = ("CRASHED", "FAILED", "REMOVED", "SKIPPED")
WAIT_SECONDS = 300.0  # Railway's default health-check timeout
FIRST_LOOK_SECONDS = 2.0
MOST_BETWEEN_SECONDS = 15.0


@dataclass(frozen=True)
class RestartResult:
    deployment_id: str
    status: str
    instances: tuple[str, ...]
    waited_seconds: float
    reads: int

    @property
    def back(self) -> bool:
        return self.status == "SUCCESS" and all(s == "RUNNING" for s in self.instances)

    @property
    def crashed(self) -> bool:
        return self.status in ENDED_BADLY or "CRASHED" in self.instances


def restart_and_wait(
    client: RailwayClient,
    deployment_id: str,
    *,
    timeout: float = WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_change: Callable[[str, tuple[str, ...]], None] | None = None,
) -> RestartResult:
    """Restart the deployment, then read it (first after 2 s, then 1.5 times later each time, at
    most 15 s apart) until it is back, has crashed, or `timeout` seconds have passed."""
    if client.execute("deploymentRestart", {"id": deployment_id})["deploymentRestart"] is not True:
        raise RailwayError("Railway did not accept the restart", "deploymentRestart")
    started, delay, reads, seen = clock(), FIRST_LOOK_SECONDS, 0, None
    while True:
        sleep(delay)
        deployment = client.execute("deploymentInstances", {"id": deployment_id})["deployment"]
        reads += 1
        instances = tuple(i["status"] for i in deployment.get("instances") or [])
        result = RestartResult(deployment_id, deployment["status"], instances, clock() - started, reads)
        if on_change is not None and (result.status, instances) != seen:
            on_change(result.status, instances)
            seen = (result.status, instances)
        if result.back or result.crashed or result.waited_seconds + delay > timeout:
            return result
        delay = min(delay * 1.5, MOST_BETWEEN_SECONDS)
