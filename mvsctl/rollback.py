"""`./mvs rollback STACK [--to VERSION]`: back to the previous live release in about a minute.

Pulumi does not roll back (pulumi/pulumi#96), and a revert-and-`up` rebuilds and redeploys every
changed service from scratch. This does two things at once:

- on Railway, the fast path: `deploymentRollback` of each affected service to its deployment of
  that release (image and variables, as Railway keeps them), all sent in parallel before any engine
  starts. Where Railway can no longer roll back (the image is past its plan's retention, or the
  deployment is gone) the service is redeployed from the old image by the update below instead,
  and the command says so.
- the declaration is made true again: the stack file gets back that release's `release` block, its
  services' variables and secret names, and its secrets' ciphertext (all kept in the release
  history), and one `pulumi up --refresh` writes the settings back and takes Railway's rollback
  deployments as its own (MVS_ADOPT_DEPLOYMENTS) while they come up, instead of deploying again.
  So `preview --expect-no-changes` passes right after, and the next `up` does not bring the bad
  release back. The command ends with the file change to commit.

On dev the containers go back to the old images by the same update; services that dev builds
from the repository cannot go back this way (the old code is not in the working tree), so the
command names the commit to check out instead.

The policy pack is not run: a rollback goes back to a release that passed it when it went live,
and an incident is no time to stop on a rule that changed since. It says so.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from components.errors import MvsError
from components.railway.deployments import ADOPT_ENV, RollbackStart, newest, start_rollback
from components.release import NOTE_ENV
from components.spec import EnvironmentSpec
from components.stack_config import stack_file

from . import releases, shared_secrets, stack_edit
from .everyday.railway import railway, stack_outputs
from .process import run_attached
from .pulumi_cli import PROJECT_ROOT
from .recovery import interruption

Say = Callable[[str], None]


class NothingToRollBackTo(MvsError):
    """The history has no release to go back to (or not the one asked for)."""


@dataclass
class Outcome:
    stack: str
    target: dict[str, Any]
    started: list[RollbackStart] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    change: str = ""
    status: int = 0
    seconds: float = 0.0


def choose_target(history: releases.Releases, version: str | None) -> dict[str, Any]:
    """The release to go back to: the one named, else the previous live one. After a failed `up`
    the newest record is still the last good release, so that is where it goes."""
    if not history.history:
        raise NothingToRollBackTo(
            f"{history.stack} has no recorded release yet (every successful ./mvs up {history.stack} records one)"
        )
    if version is not None:
        found = history.find(version)
        if found is None:
            known = ", ".join(dict.fromkeys(r["version"] for r in history.history))
            raise NothingToRollBackTo(f"{history.stack} never ran release {version}; its releases: {known}")
        return found
    if history.last_update != "succeeded":
        return history.history[0]
    previous = history.previous()
    if previous is None:
        raise NothingToRollBackTo(
            f"{history.stack} has run only release {history.history[0]['version']}: there is nothing before it "
            "to go back to"
        )
    return previous


def rollback(stack: str, spec: EnvironmentSpec, version: str | None, say: Say) -> Outcome:
    """Roll `stack` back; the outcome says what was done, the file change and the update's status."""
    started_at = time.monotonic()
    stopped = interruption(stack)
    if stopped.found:
        raise MvsError(stopped.explain())
    history = releases.read(stack)
    target = choose_target(history, version)
    outcome = Outcome(stack, target)
    built = [name for name in target["services"] if name in spec.services and spec.services[name].build is not None]
    if built:
        commit = target.get("commit") or "(not recorded)"
        raise MvsError(
            f"{stack} builds {', '.join(built)} from the repository, so a rollback cannot bring back old code: "
            f"check out commit {commit} of release {target['version']} and run ./mvs up {stack}"
        )
    adopt: dict[str, str] = {}
    if spec.target == "railway":
        adopt = _railway_rollbacks(stack, spec, target, outcome, say)
    if target["declared"].get("secrets"):
        shared_secrets.warn_if_unshareable(stack, say)  # it writes the release's secrets back
    outcome.change = stack_edit.edit_stack_file(stack, stack_edit.restore_release(target["declared"]))
    say(
        f"{stack_file(stack)} declares release {target['version']} again; updating {stack} "
        "(policies not run: this release passed them when it went live)"
    )
    env = {**os.environ, ADOPT_ENV: json.dumps(adopt), NOTE_ENV: releases.rollback_note(history, target["version"])}
    command = ["pulumi", "up", "--stack", stack, "--yes", "--skip-preview", "--refresh", "--non-interactive"]
    outcome.status = run_attached(command, cwd=str(PROJECT_ROOT), env=env)
    outcome.seconds = time.monotonic() - started_at
    return outcome


def _railway_rollbacks(
    stack: str, spec: EnvironmentSpec, target: dict[str, Any], outcome: Outcome, say: Say
) -> dict[str, str]:
    """Send Railway's rollbacks for every service that runs something other than the target's
    deployment, in parallel; returns {service id: deployment started} for the update to adopt."""
    outputs = stack_outputs(stack)
    scopes = {
        name: {"serviceId": outputs.service_ids[name], "environmentId": outputs.environment_id}
        for name in target["services"]
        if name in spec.services and name in outputs.service_ids
    }
    with railway(stack) as client:

        def runs_target(name: str) -> bool:
            current = newest(client, scopes[name], 1)
            wanted = target["services"][name].get("deployment_id")
            return bool(current) and current[0]["id"] == wanted and current[0]["status"] == "SUCCESS"

        def roll(name: str) -> RollbackStart:
            return start_rollback(client, scopes[name], name, target["services"][name]["deployment_id"])

        with ThreadPoolExecutor(max_workers=max(1, len(scopes))) as pool:
            running = dict(zip(scopes, pool.map(runs_target, scopes), strict=True))
            outcome.unchanged = [name for name, same in running.items() if same]
            outcome.started = list(pool.map(roll, [name for name, same in running.items() if not same]))
    for start in outcome.started:
        if start.started:
            say(
                f"railway: {start.service}: rolling back to deployment {start.target} (Railway started {start.started})"
            )
        else:
            say(f"railway: {start.service}: {start.refused}; redeploying its old image instead")
    return {scopes[s.service]["serviceId"]: s.started for s in outcome.started if s.started}


def report(outcome: Outcome) -> str:
    """What was done, the file change and what to do next."""
    stack, version = outcome.stack, outcome.target["version"]
    path = stack_file(stack)
    if outcome.status != 0:
        return (
            f"error: the update of {stack} to release {version} failed (above); {path} declares {version}: "
            f"fix what it names, then run ./mvs up {stack}"
        )
    lines = [f"{stack} runs release {version} again ({outcome.seconds:.1f} s)."]
    fast = [s.service for s in outcome.started if s.started]
    slow = [s.service for s in outcome.started if not s.started]
    if fast:
        lines.append(f"  Railway rolled back: {', '.join(fast)}")
    if slow:
        lines.append(f"  redeployed from the old image: {', '.join(slow)}")
    if outcome.unchanged:
        lines.append(f"  already running it: {', '.join(outcome.unchanged)}")
    if outcome.change:
        lines += ["", outcome.change.rstrip(), "", f'Commit it: git commit {path} -m "Roll {stack} back to {version}"']
    return "\n".join(lines)
