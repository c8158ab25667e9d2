"""The workflow runner of the chain test (tests/docker/test_workflow_chain.py) fails where GitHub
would, or where the stub cannot know what GitHub would do: a failing step (by name, with its
output), an expression the stub context does not have, an action nobody decided about, an
unknown `./mvs` command or flag. Small workflows of its own, no world: fast."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .actions_runner import ActionsRunner, Event, StepFailed, UnresolvedExpression, WorkflowError, read_key_values

ROOT = Path(__file__).resolve().parents[2]
HEAD = "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n"  # a one-job workflow, up to its steps


def runner(tmp_path: Path, workflow: str) -> tuple[ActionsRunner, Event]:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "w.yml").write_text(workflow)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    run = ActionsRunner(
        workflows,
        tmp_path,
        str(ROOT),
        {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            # tools/setup (which ./mvs runs first) finds the built tools in the user's cache
            "MVS_CACHE_DIR": os.environ.get("MVS_CACHE_DIR") or str(Path.home() / ".cache" / "mvs-infra"),
        },
        secrets={"TOKEN": "s3cret"},
        variables={"PREFIX": "registry.example/mvs"},
        prepare_workspace=lambda ws: (ws / "venv").symlink_to(ROOT / "venv"),
    )
    return run, Event("push", head.strip(), "refs/heads/main")


def test_outputs_env_and_expressions_flow_from_step_to_step(tmp_path):
    run, event = runner(
        tmp_path,
        """
on: push
jobs:
  j:
    runs-on: ubuntu-24.04
    env:
      PREFIX: ${{ vars.PREFIX }}
    steps:
      - id: one
        run: |
          echo "value=$PREFIX/x" >> "$GITHUB_OUTPUT"
          echo "LATER=later" >> "$GITHUB_ENV"
      - name: Uses ${{ steps.one.outputs.value }}
        if: steps.one.outputs.value != ''
        env:
          GOT: ${{ steps.one.outputs.value }}
        run: test "$GOT" = registry.example/mvs/x && test "$LATER" = later && test "$GITHUB_SHA" = ${{ github.sha }}
      - if: github.event_name == 'pull_request'
        run: exit 1
""",
    )
    job = run.run_job("w.yml", "j", event)
    assert [s.kind for s in job.steps] == ["run", "run", "skipped"]
    assert job.steps[1].name == "Uses registry.example/mvs/x"


def test_a_failing_step_fails_by_name_with_its_output(tmp_path):
    run, event = runner(
        tmp_path,
        "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - name: Breaks\n"
        "        run: |\n          echo the reason\n          false\n          echo never\n",
    )
    with pytest.raises(StepFailed, match=r"(?s)step 1 \('Breaks'\) failed with exit 1.*the reason"):
        run.run_job("w.yml", "j", event)


@pytest.mark.parametrize(
    "expression", ["secrets.NO_SUCH_SECRET", "vars.PREFX", "steps.nope.outputs.x", "github.event.pull_request.number"]
)
def test_an_expression_the_stub_does_not_have_fails(tmp_path, expression):
    run, event = runner(tmp_path, f"{HEAD}      - run: echo ${{{{ {expression} }}}}\n")
    with pytest.raises(UnresolvedExpression):
        run.run_job("w.yml", "j", event)


def test_an_action_nobody_decided_about_fails(tmp_path):
    run, event = runner(
        tmp_path, "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - uses: actions/upload-artifact@v4\n"
    )
    with pytest.raises(WorkflowError, match="upload-artifact"):
        run.run_job("w.yml", "j", event)


@pytest.mark.parametrize("call", ["./mvs drift staging --no-such-flag", "./mvs no-such-command"])
def test_an_mvs_command_or_flag_that_does_not_exist_fails_its_step(tmp_path, call):
    run, event = runner(tmp_path, f"{HEAD}      - uses: actions/checkout@v5\n      - run: {call}\n")
    with pytest.raises(StepFailed, match=r"(?s)failed with exit 2.*(unrecognized arguments|invalid choice)"):
        run.run_job("w.yml", "j", event)


def test_output_files_read_both_forms(tmp_path):
    path = tmp_path / "out"
    path.write_text("a=1\nbody<<EOF\nline 1\nline=2\nEOF\nb=x=y\n")
    assert read_key_values(path) == {"a": "1", "body": "line 1\nline=2", "b": "x=y"}
