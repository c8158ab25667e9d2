"""./mvs wait-turn: the order of the runs that change one stack (issue 24, point 12)."""

from __future__ import annotations

import pytest

from components.errors import SettingInvalid, StackBusy
from mvsctl import ci_turn

ENV = {"GITHUB_RUN_ID": "500", "GITHUB_REPOSITORY": "org/mvs-infra", ci_turn.POLL_ENV: "1"}


def run(run_id: int, status: str, title: str = "") -> dict:
    return {"databaseId": run_id, "status": status, "displayTitle": title}


def test_only_earlier_runs_of_the_same_stack_that_are_queued_or_running_hold_it():
    runs = {
        "deploy-staging.yml": [
            run(400, "in_progress", "push"),
            run(600, "queued", "later push"),
            run(300, "completed"),
        ],
        "rollback.yml": [
            run(450, "queued", "rollback staging"),
            run(460, "in_progress", "rollback prod to 2.0.0"),
            run(470, "waiting", "rollback staging"),  # awaiting approval: it has changed nothing
        ],
    }
    assert ci_turn.ahead_of(500, "staging", runs) == [
        "deploy-staging.yml run 400 (push, in_progress)",
        "rollback.yml run 450 (rollback staging, queued)",
    ]
    assert ci_turn.ahead_of(500, "prod", {"rollback.yml": runs["rollback.yml"]}) == [
        "rollback.yml run 460 (rollback prod to 2.0.0, in_progress)"
    ]
    assert ci_turn.ahead_of(399, "staging", runs) == [], "the earliest run waits for no one"


def test_it_polls_until_the_earlier_runs_end_and_says_whom_it_waits_for():
    rounds = iter(
        [
            {"deploy-staging.yml": [run(400, "in_progress", "push")], "rollback.yml": []},
            {"deploy-staging.yml": [run(400, "in_progress", "push")], "rollback.yml": []},
            {"deploy-staging.yml": [run(400, "completed", "push")], "rollback.yml": []},
        ]
    )
    current: dict = {}

    def lister(workflow: str, repository: str) -> list[dict]:
        assert repository == "org/mvs-infra"
        if workflow == "deploy-staging.yml":
            current.update(next(rounds))
        return current[workflow]

    said: list[str] = []
    slept: list[float] = []
    ci_turn.wait_turn("staging", ENV, lister, slept.append, lambda: 0.0, said.append)
    assert slept == [1.0, 1.0]
    assert (
        said[0] == "wait-turn: staging is held by deploy-staging.yml run 400 (push, in_progress); waiting (0s so far)"
    )
    assert said[-1].startswith("wait-turn: no earlier deploy or rollback of staging")


def test_a_wait_that_outlasts_its_patience_is_one_line():
    times = iter([0.0, ci_turn.DEFAULT_PATIENCE_SECONDS + 1])
    held = {"deploy-staging.yml": [run(1, "in_progress", "push")], "rollback.yml": []}
    with pytest.raises(StackBusy, match=r"staging is still held after 180 min by deploy-staging\.yml run 1"):
        ci_turn.wait_turn("staging", ENV, lambda w, _r: held[w], lambda _s: None, lambda: next(times), lambda _m: None)


@pytest.mark.parametrize(
    ("stack", "environ", "says"),
    [("dev", ENV, "no workflow changes 'dev'"), ("staging", {}, "runs inside GitHub Actions")],
)
def test_it_refuses_what_it_cannot_order(stack, environ, says):
    with pytest.raises(SettingInvalid, match=says):
        ci_turn.wait_turn(stack, environ, lambda w, r: [], lambda s: None)
