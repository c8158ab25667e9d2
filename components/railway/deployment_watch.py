"""Waiting for deployments: one request a round for every deployment waited on in an environment.

Railway counts every request against an hourly limit (Free 100). Polling each deployment on its
own every few seconds spends most of it: prod's `up` used to read 15 statuses for 5 deployments.
So a process keeps one watch per environment, and whichever waiter is due asks for every
deployment being waited on there in one request (`statuses_operation`: `deployment(id)` under one
alias per deployment, as valid as deployment.graphql, which it repeats); the others take their
answer from it.

When to look: a deployment takes about as long as the last one of its service did (Railway's
`statusUpdatedAt - createdAt`, which the deployment resource keeps), or as one just finished in
this environment; the first look is then, so a change usually costs one poll. Without either, or
when that look finds it still running, looks follow a backoff: the poll interval, doubling up to
`max_interval`. A read that is due waits up to `share_window` for the others due just after it
(deployments started together end a little apart), so one request answers them all.

Pure client code: no Pulumi inside. The deployment provider decides where watches live (one per
process and environment).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, parse, print_ast

from ..errors import MvsError, RailwayNotFound
from .client import RailwayClient
from .operations import Operation, operation

SUCCEEDED = "SUCCESS"
ENDED = ("SUCCESS", "FAILED", "CRASHED", "REMOVED", "SKIPPED")
MAX_INTERVAL_SECONDS = 30.0
SHARE_WINDOW_SECONDS = 0.5  # a due read waits this long at most for others due soon after it


class DeploymentWaitExpired(MvsError):
    """A deployment was still running at the deadline."""

    def __init__(self, deployment: dict[str, Any] | None):
        super().__init__("the deployment did not end in time")
        self.deployment = deployment


def _deployment_fields() -> str:
    """The fields deployment.graphql asks for, as a selection set."""
    (definition,) = [d for d in parse(operation("deployment").document).definitions]
    assert isinstance(definition, OperationDefinitionNode)
    (field,) = definition.selection_set.selections
    assert isinstance(field, FieldNode) and field.selection_set is not None
    return print_ast(field.selection_set)


def statuses_operation(count: int) -> Operation:
    """One query for `count` deployments: `d<i>: deployment(id: $d<i>)`, each with deployment.graphql's
    fields."""
    fields = _deployment_fields()
    arguments = ", ".join(f"$d{i}: String!" for i in range(count))
    selections = "\n".join(f"  d{i}: deployment(id: $d{i}) {fields}" for i in range(count))
    document = f"query deploymentStatuses({arguments}) {{\n{selections}\n}}\n"
    return Operation("deploymentStatuses", document, is_mutation=False, retry_safe=True)


def read_statuses(client: RailwayClient, deployment_ids: list[str]) -> dict[str, Any]:
    """Each deployment as Railway has it now, by id, in one request; one that Railway no longer has
    maps to its RailwayNotFound (found only by asking for the others one by one, which a gone
    deployment makes worth it: it means its service was deleted meanwhile)."""
    variables = {f"d{i}": deployment_id for i, deployment_id in enumerate(deployment_ids)}
    try:
        data = client.run(statuses_operation(len(deployment_ids)), variables)
    except RailwayNotFound as gone:
        if len(deployment_ids) == 1:
            return {deployment_ids[0]: gone}
        answers: dict[str, Any] = {}
        for deployment_id in deployment_ids:
            answers.update(read_statuses(client, [deployment_id]))
        return answers
    return {deployment_id: data[f"d{i}"] for i, deployment_id in enumerate(deployment_ids)}


def duration_seconds(deployment: dict[str, Any]) -> float | None:
    """How long Railway took from creating the deployment to its last status."""
    try:
        started = datetime.fromisoformat(deployment["createdAt"])  # Python 3.11 reads Railway's "Z"
        ended = datetime.fromisoformat(deployment["statusUpdatedAt"])
    except (KeyError, AttributeError, ValueError):
        return None
    seconds = (ended - started).total_seconds()
    return seconds if seconds >= 0 else None


@dataclass
class _Waiter:
    due: float  # when it next needs a look (monotonic seconds)
    interval: float  # the wait after a look that found it running
    answer: Any = None  # the deployment as last read, or the error reading it gave
    version: int = 0  # how many answers it has had


class DeploymentWatch:
    """The deployments being waited on in one environment, read together."""

    def __init__(
        self,
        read: Callable[[list[str]], dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
        max_interval: float = MAX_INTERVAL_SECONDS,
        pause: Callable[[threading.Condition, float], object] = lambda cond, seconds: cond.wait(seconds),
        share_window: float = SHARE_WINDOW_SECONDS,
    ):
        """`read(ids)`: one request answering each id (read_statuses on a fresh client).
        `clock` and `pause` (wait on the condition, at most that long) are time as tests set it."""
        self._read = read
        self._clock = clock
        self._pause = pause
        self._share_window = share_window
        self._max_interval = max_interval
        self._cond = threading.Condition()
        self._waiters: dict[str, _Waiter] = {}
        self._reading = False
        self._durations: list[float] = []
        self.rounds = 0

    def expected_seconds(self, known: float | None) -> float | None:
        """How long a deployment should take: `known` (its service's last one), else the median of
        those that succeeded in this environment during this run, else None."""
        if known is not None:
            return known
        with self._cond:
            return statistics.median(self._durations) if self._durations else None

    def wait(
        self,
        deployment_id: str,
        first_look: float,
        interval: float,
        timeout: float,
        on_status: Callable[[dict[str, Any]], None] = lambda _d: None,
    ) -> dict[str, Any]:
        """Block until the deployment has ended and return it. `first_look`: seconds until it is
        first read; `interval`: the wait after a look that found it running, doubling each time.
        `on_status` hears each new status. Raises DeploymentWaitExpired after `timeout`, or the
        error reading it gave."""
        deadline = self._clock() + timeout
        waiter = _Waiter(due=self._clock() + first_look, interval=max(interval, 0.0))
        with self._cond:
            self._waiters[deployment_id] = waiter
        seen, reported = 0, None
        try:
            while True:
                turn = self._next(waiter, seen, deadline)
                if turn is not None:
                    self._round(turn)
                with self._cond:
                    seen, answer = waiter.version, waiter.answer
                if isinstance(answer, BaseException):
                    raise answer
                if answer is not None and answer["status"] != reported:
                    reported = answer["status"]
                    on_status(answer)
                if answer is not None and answer["status"] in ENDED:
                    return answer
                if self._clock() >= deadline:
                    raise DeploymentWaitExpired(answer)
        finally:
            with self._cond:
                self._waiters.pop(deployment_id, None)

    def _next(self, waiter: _Waiter, seen: int, deadline: float) -> list[str] | None:
        """Wait until this waiter has a new answer (None) or it is its turn to read for everyone
        (the ids to read)."""
        with self._cond:
            while waiter.version == seen:
                now = self._clock()
                if now >= deadline:
                    return None
                if self._reading:
                    self._pause(self._cond, deadline - now)
                    continue
                dues = [w.due for w in self._waiters.values()]
                due = min(dues)
                if due <= now:
                    # Those due within the window of the first one are read with it.
                    start = min(max(d for d in dues if d <= due + self._share_window), deadline)
                    if start > now:
                        self._pause(self._cond, start - now)
                        continue
                    self._reading = True
                    return list(self._waiters)
                self._pause(self._cond, min(due, deadline) - now)
            return None

    def _round(self, ids: list[str]) -> None:
        """One request for every deployment waited on; each waiter that was due waits longer next."""
        answers: dict[str, Any] = {}
        try:
            self.rounds += 1
            answers = self._read(ids)
        except Exception as error:
            answers = {deployment_id: error for deployment_id in ids}
        finally:
            with self._cond:
                self._reading = False
                now = self._clock()
                for deployment_id in ids:
                    waiter = self._waiters.get(deployment_id)
                    if waiter is None or deployment_id not in answers:
                        continue
                    previous, waiter.answer = waiter.answer, answers[deployment_id]
                    waiter.version += 1
                    if waiter.due <= now:
                        waiter.due = now + waiter.interval
                        waiter.interval = min(max(waiter.interval * 2, 0.001), self._max_interval)
                    answer = waiter.answer
                    newly = not isinstance(previous, dict) or previous.get("status") != SUCCEEDED
                    if newly and isinstance(answer, dict) and answer.get("status") == SUCCEEDED:
                        seconds = duration_seconds(answer)
                        if seconds is not None:
                            self._durations.append(seconds)
                self._cond.notify_all()
