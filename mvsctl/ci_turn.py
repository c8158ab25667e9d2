"""`./mvs wait-turn STACK`, in GitHub Actions: wait until every earlier run that changes STACK
(a deploy, a promotion, a rollback) has ended, so that two never change one stack at once.

Why not a concurrency group alone: GitHub keeps at most one pending run per group, and a newer one
cancels the pending one. Were rollbacks in the deploy group, a push to main made while a rollback
waits would drop the rollback. So rollback.yml is in no group (nothing can replace or cancel it),
the deploy workflows keep theirs (a newer push may replace a pending deploy: it deploys newer
code), and every one of them calls this before it changes anything: it waits for the runs of the
same stack's workflows that GitHub created before it (lower run ids) and are queued or running.
Later runs wait for it in turn, so no two wait on each other.

A run waiting for a reviewer's approval (status `waiting`) has changed nothing yet and may never
be approved, so it holds no one up. Rollback runs name their stack in their title
(rollback.yml's `run-name: rollback <stack> ...`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.errors import SettingInvalid, StackBusy

from .process import run

WORKFLOWS = {  # the workflows that change each stack
    "staging": ("deploy-staging.yml", "rollback.yml"),
    "prod": ("promote-prod.yml", "rollback.yml"),
}
HOLDING = ("queued", "in_progress", "pending", "requested")  # not "waiting": an approval not given yet
POLL_ENV = "MVS_WAIT_TURN_SECONDS"
DEFAULT_POLL_SECONDS = 15.0
DEFAULT_PATIENCE_SECONDS = 3 * 3600.0  # GitHub cancels a job after 6 hours


def targets(workflow: str, run: Mapping[str, Any], stack: str) -> bool:
    """Whether a run of `workflow` changes `stack`: every deploy or promotion run of its workflow,
    a rollback only when its title names the stack."""
    if workflow != "rollback.yml":
        return True
    words = str(run.get("displayTitle") or "").split()
    return len(words) >= 2 and words[0] == "rollback" and words[1] == stack


def ahead_of(me: int, stack: str, runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """The earlier runs (by workflow) that still hold `stack`, described for the log."""
    found = []
    for workflow, listed in runs.items():
        for other in listed:
            run_id = int(other.get("databaseId") or 0)
            if run_id < me and other.get("status") in HOLDING and targets(workflow, other, stack):
                found.append(f"{workflow} run {run_id} ({other.get('displayTitle') or ''}, {other['status']})")
    return sorted(found)


def list_runs(workflow: str, repository: str) -> list[dict[str, Any]]:
    """The workflow's recent runs, through the GitHub CLI (GH_TOKEN from the job)."""
    fields = "databaseId,status,displayTitle"
    command = ["gh", "run", "list", "--repo", repository, "--workflow", workflow, "--json", fields, "--limit", "50"]
    return json.loads(run(command) or "[]")


def wait_turn(
    stack: str,
    environ: Mapping[str, str] | None = None,
    lister: Callable[[str, str], list[dict[str, Any]]] = list_runs,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    say: Callable[[str], None] = print,
) -> None:
    """Return once no earlier run holds `stack`; SettingInvalid outside GitHub Actions or for a stack
    no workflow changes, StackBusy when the wait outlasts its patience."""
    environ = os.environ if environ is None else environ
    if stack not in WORKFLOWS:
        raise SettingInvalid(f"wait-turn: no workflow changes {stack!r}; it takes one of {', '.join(WORKFLOWS)}")
    me, repository = environ.get("GITHUB_RUN_ID"), environ.get("GITHUB_REPOSITORY")
    if not (me and me.isdigit() and repository):
        raise SettingInvalid("wait-turn runs inside GitHub Actions (it needs GITHUB_RUN_ID and GITHUB_REPOSITORY)")
    poll = float(environ.get(POLL_ENV) or DEFAULT_POLL_SECONDS)
    started = clock()
    while True:
        holding = ahead_of(int(me), stack, {w: lister(w, repository) for w in WORKFLOWS[stack]})
        if not holding:
            say(f"wait-turn: no earlier deploy or rollback of {stack} is queued or running; going ahead")
            return
        waited = clock() - started
        if waited > DEFAULT_PATIENCE_SECONDS:
            raise StackBusy(
                f"{stack} is still held after {waited / 60:.0f} min by {'; '.join(holding)}: look at those runs in "
                "GitHub Actions, then start this one again"
            )
        say(f"wait-turn: {stack} is held by {'; '.join(holding)}; waiting ({waited:.0f}s so far)")
        sys.stdout.flush()
        sleep(poll)
