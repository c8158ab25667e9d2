"""What every Railway dynamic provider shares: configuration, the client, diffing, outputs.

A provider object is pickled into the stack's state, so it holds nothing but plain settings:
`configure()` stores the token and endpoint from stack config (`railway:token`,
`railway:endpoint`), and a client is made for each call. Without `railway:token` the
environment's RAILWAY_API_TOKEN or RAILWAY_TOKEN is used, as the Railway CLI does.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pulumi.dynamic import ConfigureRequest, DiffResult, ResourceProvider

from ...errors import RailwayNotFound, RailwayOutcomeUnknown, SettingInvalid
from ...provider_process import in_provider_host, prepare
from ..client import (
    CONFIG_ENDPOINT,
    CONFIG_TOKEN,
    CONFIG_TOKEN_KIND,
    RailwayClient,
    RailwayToken,
    RetryPolicy,
    ServerTimes,
    Unreachable,
)
from ..deployment_watch import DeploymentWatch, read_statuses
from ..snapshot import SNAPSHOT_OPERATION, EnvironmentSnapshot, SnapshotCache
from . import project_reads, request_labels

prepare()  # this module is loaded into provider processes: see provider_process.py

# One engine run has one provider process: its reads share one snapshot per environment
# (snapshot.py), its deployments are waited on together per environment (deployment_watch.py),
# and Railway's clock, as its answers tell it, bounds what a lost deploy answer may adopt
# (client.ServerTimes), and an endpoint that could not be reached is tried once by the run's later
# requests (client.Unreachable). Anywhere else (tests, tools importing a provider) each call has
# its own.
IN_PROVIDER_HOST = in_provider_host()
PROCESS_SNAPSHOTS: SnapshotCache | None = SnapshotCache() if IN_PROVIDER_HOST else None
PROCESS_SERVER_TIMES: ServerTimes | None = ServerTimes() if IN_PROVIDER_HOST else None
PROCESS_UNREACHABLE: Unreachable | None = Unreachable() if IN_PROVIDER_HOST else None
PROCESS_WATCHES: dict[tuple[str, ...], DeploymentWatch] | None = {} if IN_PROVIDER_HOST else None
_WATCHES_LOCK = threading.Lock()


def _forget_snapshots(operation: str) -> None:
    """A write was sent: what this process kept of earlier reads may be stale (the snapshots, and
    the project reads of creates: project_reads.py)."""
    if PROCESS_SNAPSHOTS is not None:
        PROCESS_SNAPSHOTS.invalidate()
    project_reads.wrote(operation)


T = TypeVar("T")
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how a preview's unknown values reach diff()
CONFIG_POLL_SECONDS = "railway:pollSeconds"
POLL_SECONDS_ENV = "RAILWAY_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 2.0


def poll_seconds_setting(configured: str | None, environ: Mapping[str, str]) -> float:
    """Seconds between reads of a deployment's status: `railway:pollSeconds`, else
    RAILWAY_POLL_SECONDS (for a run against the emulator, whose deployments finish at the first
    reads, without writing the stack file), else 2 s, which suits Railway's builds of minutes."""
    chosen, source = (
        (configured, CONFIG_POLL_SECONDS) if configured else (environ.get(POLL_SECONDS_ENV), POLL_SECONDS_ENV)
    )
    if not chosen:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(chosen)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 600:
        raise SettingInvalid(
            f"{source}={chosen!r}: it takes seconds between 0 and 600 (default {DEFAULT_POLL_SECONDS:g})"
        )
    return seconds


class RailwayProvider(ResourceProvider):
    """Base class: subclasses declare their input keys and which of them force a replacement."""

    inputs: tuple[str, ...] = ()
    replace_on: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each subclass's requests say which resource they are for (request_labels.py)."""
        super().__init_subclass__(**kwargs)
        kind = cls.__name__.removesuffix("Provider")
        for name in request_labels.METHODS:
            if name in cls.__dict__:
                setattr(cls, name, request_labels.labelled(kind, cls.__dict__[name]))

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[str, Any] = {}

    def configure(self, req: ConfigureRequest) -> None:
        self._settings = {
            "token": req.config.get(CONFIG_TOKEN),
            "token_kind": req.config.get(CONFIG_TOKEN_KIND) or "account",
            "endpoint": req.config.get(CONFIG_ENDPOINT),
            "poll_seconds": poll_seconds_setting(req.config.get(CONFIG_POLL_SECONDS), os.environ),
        }

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle settings (the token) into state: configure() sets them in each process.
        return {}

    def __setstate__(self, _state: dict[str, Any]) -> None:
        self._settings = {}

    @property
    def poll_seconds(self) -> float:
        return self._settings.get("poll_seconds", DEFAULT_POLL_SECONDS)

    def client(self) -> RailwayClient:
        token_value = self._settings.get("token")
        token = (
            RailwayToken(token_value, self._settings.get("token_kind", "account"))
            if token_value
            else RailwayToken.from_env()
        )
        return RailwayClient(
            token,
            endpoint=self._settings.get("endpoint"),
            retry=RetryPolicy(),
            after_write=_forget_snapshots,
            server_times=PROCESS_SERVER_TIMES,
            headers=request_labels.current_headers(),
            unreachable=PROCESS_UNREACHABLE,
        )

    def watch(self, environment_id: str) -> DeploymentWatch:
        """Where this process waits for the environment's deployments (deployment_watch.py)."""

        def read(deployment_ids: list[str]) -> dict[str, Any]:
            with self.client() as client:
                return read_statuses(client, deployment_ids)

        if PROCESS_WATCHES is None:
            return DeploymentWatch(read)
        key = self._process_key(environment_id)
        with _WATCHES_LOCK:
            if key not in PROCESS_WATCHES:
                PROCESS_WATCHES[key] = DeploymentWatch(read)
            return PROCESS_WATCHES[key]

    def snapshot(self, environment_id: str) -> EnvironmentSnapshot | None:
        """The environment as one read sees it (snapshot.py), or None when it is gone. Shared by
        every read of this run unless something was written since."""

        def fetch() -> dict[str, Any]:
            with self.client() as client:
                return client.execute(SNAPSHOT_OPERATION, {"id": environment_id})

        cache = PROCESS_SNAPSHOTS if PROCESS_SNAPSHOTS is not None else SnapshotCache()
        return cache.get(self._process_key(environment_id), fetch)

    def _process_key(self, environment_id: str) -> tuple[str, ...]:
        """What a process keeps per environment is kept per endpoint and token too."""
        token = self._settings.get("token") or ""
        return (
            self._settings.get("endpoint") or "",
            hashlib.sha256(token.encode()).hexdigest(),
            environment_id,
        )

    def call(self, operation: str, variables: dict[str, Any] | None = None, field: str | None = None) -> Any:
        """One operation on a fresh client; returns its result field (by default, named like it)."""
        with self.client() as client:
            return client.execute(operation, variables)[field or operation]

    def lookup(self, operation: str, variables: dict[str, Any] | None = None, field: str | None = None) -> Any:
        """Like call(), but None when Railway answers "<Type> not found": for read(), where that
        means the resource was deleted out of band."""
        try:
            return self.call(operation, variables, field)
        except RailwayNotFound:
            return None

    def delete_quietly(self, operation: str, variables: dict[str, Any]) -> None:
        """A delete that counts "already gone" as done."""
        self.lookup(operation, variables)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, self.inputs)
        replaces = [k for k in changed if k in self.replace_on]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)


def create_or_adopt(make: Callable[[], T], find: Callable[[], T | None], attempts: int = 2) -> T:
    """A create whose answer may be lost (RailwayOutcomeUnknown): adopt what it made rather than make
    a second one; when it verifiably made nothing, repeating it is safe, so it is asked again, at
    most `attempts` times in all. A transient 5xx then costs one request, not the whole `up`."""
    for attempt in range(attempts):
        try:
            return make()
        except RailwayOutcomeUnknown:
            found = find()
            if found is not None:
                return found
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def changed_keys(olds: dict[str, Any], news: dict[str, Any], keys: Iterable[str]) -> list[str]:
    """Inputs whose new value differs from the old one (an unknown counts as a change)."""
    return [k for k in keys if news.get(k) == UNKNOWN or olds.get(k) != news.get(k)]


def applied_now() -> str:
    """A marker that changes every time a resource writes to Railway; a Deployment takes it as
    input, so every write (including one that undoes drift) is followed by exactly one deploy."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def say(message: str) -> None:
    """Tell the operator: a provider's stderr reaches the `pulumi` output."""
    print(message, file=sys.stderr, flush=True)


def pick(props: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: props.get(k) for k in keys}
