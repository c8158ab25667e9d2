"""One read of a whole Railway environment, shared by every resource's refresh in one engine run.

Railway counts every API request against an hourly limit (Free 100, Hobby 1,000, Pro 10,000).
Refreshing a stack one resource at a time spends one request per resource (28 on prod), so an
hourly drift check alone would take a Free plan's budget. Railway's schema answers a whole
environment in one query (`environmentSnapshot.graphql`): its service instances with their
settings, newest deployment and domains, its volume instances, and `config(decryptVariables:
true)`, the environment's declarative configuration, which holds every service's variables
unrendered (`services.<id>.variables.<NAME>.value`, so `${{Postgres.DATABASE_URL}}` stays a
reference) and the deploy settings (`multiRegionConfig`) the instance fields leave out.

`SnapshotCache` makes that query once per environment and shares the answer between the
providers' `read()` calls, which the engine makes concurrently: the first caller fetches, the
others wait for it. An environment that is gone ("Environment not found") is remembered as gone.
A write makes every snapshot stale (`invalidate()`), so a read after a write in the same run
always asks Railway again: a snapshot never serves a write's old state.

Pure client code: no Pulumi inside. The providers decide where a cache lives (one per provider
process, see providers/base.py); without one, each read fetches its own snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import RailwayNotFound

SNAPSHOT_OPERATION = "environmentSnapshot"


def _nodes(connection: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [edge["node"] for edge in (connection or {}).get("edges") or []]


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """What Railway answered for one environment, indexed the way the providers look things up."""

    environment: dict[str, Any]
    config: dict[str, Any]
    instances: dict[str, dict[str, Any]]  # by service id
    volume_instances: list[dict[str, Any]]

    @classmethod
    def from_answer(cls, answer: dict[str, Any]) -> EnvironmentSnapshot:
        environment = dict(answer["environment"])
        instances = {node["serviceId"]: node for node in _nodes(environment.pop("serviceInstances", None))}
        volumes = _nodes(environment.pop("volumeInstances", None))
        config = environment.pop("config", None) or {}
        return cls(environment, config, instances, volumes)

    def instance(self, service_id: str) -> dict[str, Any] | None:
        return self.instances.get(service_id)

    def service_config(self, service_id: str) -> dict[str, Any]:
        return (self.config.get("services") or {}).get(service_id) or {}

    def variables(self, service_id: str) -> dict[str, str] | None:
        """A service's own variables, unrendered, as `variables(unrendered: true)` answers; None
        when the service has no instance here."""
        if service_id not in self.instances:
            return None
        declared = self.service_config(service_id).get("variables") or {}
        return {name: entry.get("value") for name, entry in declared.items() if isinstance(entry, dict)}

    def domains(self, service_id: str) -> dict[str, list[dict[str, Any]]]:
        instance = self.instances.get(service_id) or {}
        return instance.get("domains") or {"serviceDomains": [], "customDomains": []}

    def latest_deployment(self, service_id: str) -> dict[str, Any] | None:
        return (self.instances.get(service_id) or {}).get("latestDeployment")


@dataclass
class _Entry:
    ready: threading.Event = field(default_factory=threading.Event)
    snapshot: EnvironmentSnapshot | None = None
    error: BaseException | None = None


class SnapshotCache:
    """Snapshots by key (endpoint, token, environment), each fetched once until invalidated."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], _Entry] = {}
        self.fetches = 0

    def get(self, key: tuple[str, ...], fetch: Callable[[], dict[str, Any]]) -> EnvironmentSnapshot | None:
        """The environment's snapshot, or None when Railway says it does not exist. `fetch` runs
        the snapshot query; it is called by one caller at a time per key, and only when no answer
        is kept. Any other error is not kept: the next caller tries again."""
        with self._lock:
            entry = self._entries.get(key)
            owner = entry is None
            if owner:
                entry = self._entries[key] = _Entry()
        if not owner:
            entry.ready.wait()
            if entry.error is not None and not isinstance(entry.error, RailwayNotFound):
                return self.get(key, fetch)  # the owner's fetch failed and was dropped: try again
            return entry.snapshot
        try:
            self.fetches += 1
            entry.snapshot = EnvironmentSnapshot.from_answer(fetch())
        except RailwayNotFound as gone:
            entry.error = gone  # kept: the environment is gone for every resource in it
        except BaseException as error:
            entry.error = error
            with self._lock:
                if self._entries.get(key) is entry:
                    del self._entries[key]
            raise
        finally:
            entry.ready.set()
        return entry.snapshot

    def invalidate(self) -> None:
        """Forget every snapshot: something was written, and the next read must see it."""
        with self._lock:
            self._entries.clear()
