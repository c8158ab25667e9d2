"""The GitHub Actions workflows and the repository's shell scripts are clean, and every `./mvs`
command a workflow runs is one the CLI has.

actionlint (with shellcheck on PATH, so each `run:` script is checked too) and shellcheck come
from tools/setup, which `./mvs test` runs first. A missing one fails these tests: never a skip.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from mvsctl import __main__ as cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXPECTED = {"pr.yml", "deploy-staging.yml", "promote-prod.yml", "rollback.yml", "drift.yml"}
CI_SCRIPTS = sorted(p for p in (ROOT / "tools" / "ci").iterdir() if p.is_file())  # what the workflows run
SCRIPTS = (
    ".ci/run",
    "mvs",
    "tools/setup",
    "tools/docker-engine",
    "tools/monitoring-tools",
    *(str(p.relative_to(ROOT)) for p in CI_SCRIPTS),
)

# Commands a workflow may call while they are still being added to mvsctl. Empty now (summary,
# promote, rollback and release have landed); test_pending_commands_are_still_missing_and_still_used
# fails as soon as one listed here exists or no workflow runs it, so the set only ever shrinks.
PENDING: set[str] = set()
WRAPPER_COMMANDS = {"setup", "help"}  # handled by the `mvs` script itself
EXECED_COMMANDS = {"pulumi", "emulator", "test"}  # handled by mvsctl.__main__.main before parsing

MVS_CALL = re.compile(r"(?:^|[\s;&|(`])\./mvs\s+([A-Za-z][\w-]*)")


def tool(name: str) -> str:
    """The tool's path: .tools/bin first (where tools/setup links it), then PATH."""
    path = os.pathsep.join([str(ROOT / ".tools" / "bin"), os.environ.get("PATH", "")])
    found = shutil.which(name, path=path)
    if not found:
        hints = {
            "actionlint": "tools/setup installs it from the Go module proxy (needs Go): run ./mvs setup",
            "shellcheck": "install it from Debian: apt-get install shellcheck (tools/setup does when run as root)",
        }
        pytest.fail(f"setup error: {name} is not installed; {hints[name]}", pytrace=False)
    return found


def actionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    command = [tool("actionlint"), "-no-color", f"-shellcheck={tool('shellcheck')}", *args]
    return subprocess.run(command, cwd=cwd, text=True, capture_output=True, timeout=300)


def test_the_workflows_are_all_there():
    assert {p.name for p in WORKFLOWS} == EXPECTED


def test_actionlint_finds_nothing_in_any_workflow():
    result = actionlint(*(str(p.relative_to(ROOT)) for p in WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_checks_run_scripts_with_shellcheck(tmp_path):
    """Guards the test above: with shellcheck wired in, an unquoted variable in `run:` is a finding."""
    workflow = tmp_path / ".github" / "workflows" / "canary.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $foo\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = actionlint(str(workflow.relative_to(tmp_path)), cwd=tmp_path)
    assert result.returncode == 1 and "SC2086" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_script_passes_shellcheck(script):
    result = subprocess.run([tool("shellcheck"), script], cwd=ROOT, text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def run_scripts() -> list[tuple[str, str]]:
    """(workflow file, run script) for every `run:` step of every job, and each tools/ci script
    such a step runs (as the workflow's too)."""
    found = []
    for path in WORKFLOWS:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            found += [(path.name, step["run"]) for step in job.get("steps", []) if "run" in step]
    for script in CI_SCRIPTS:
        found += [(name, script.read_text()) for name, run in list(found) if f"tools/ci/{script.name}" in run]
    return found


def test_the_workflows_run_only_ci_scripts_that_exist():
    called = {m for _, run in run_scripts() for m in re.findall(r"tools/ci/([\w.-]+)", run)}
    assert called and called <= {p.name for p in CI_SCRIPTS}, called
    assert all(os.access(p, os.X_OK) for p in CI_SCRIPTS), "tools/ci scripts must be executable"


def invoked_commands() -> dict[str, set[str]]:
    """Each `./mvs` command the workflows run, with the workflows that run it."""
    commands: dict[str, set[str]] = {}
    for name, script in run_scripts():
        code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
        for command in MVS_CALL.findall(code):
            commands.setdefault(command, set()).add(name)
    return commands


def known_commands() -> set[str]:
    subparsers = next(a for a in cli.parser()._actions if isinstance(a, cli.argparse._SubParsersAction))
    main_source = inspect.getsource(cli.main)
    execed = {name for name in EXECED_COMMANDS if f'argv[:1] == ["{name}"]' in main_source}
    assert execed == EXECED_COMMANDS, "mvsctl.__main__.main no longer runs these itself: update EXECED_COMMANDS"
    return set(subparsers.choices) | execed | WRAPPER_COMMANDS


def test_every_mvs_command_in_a_workflow_exists():
    invoked = invoked_commands()
    assert {"validate", "test", "up", "drift", "pulumi", "summary", "release"} <= set(invoked), invoked  # found
    unknown = {c: sorted(w) for c, w in invoked.items() if c not in known_commands() and c not in PENDING}
    assert not unknown, f"workflows run ./mvs commands the CLI does not have: {unknown}"
    if still_pending := sorted(set(invoked) & PENDING):
        warnings.warn(f"workflows run ./mvs commands not in the CLI yet (PENDING): {still_pending}", stacklevel=1)


def test_pending_commands_are_still_missing_and_still_used():
    """Keeps PENDING honest: a command that now exists, or that no workflow runs, leaves the set."""
    arrived = sorted(PENDING & known_commands())
    assert not arrived, f"now in the CLI: remove {arrived} from PENDING in {Path(__file__).name}"
    unused = sorted(PENDING - set(invoked_commands()))
    assert not unused, f"no workflow runs {unused}: remove them from PENDING"


def job_settings() -> list[tuple[str, str, dict, dict]]:
    """(workflow, job id, the workflow's document, the job) for every job."""
    rows = []
    for path in WORKFLOWS:
        document = yaml.safe_load(path.read_text())
        rows += [(path.name, job_id, document, job) for job_id, job in document["jobs"].items()]
    return rows


def test_deploys_run_one_at_a_time_per_stack_and_are_never_cancelled():
    groups = {}
    for name, _, document, job in job_settings():
        concurrency = job.get("concurrency") or document.get("concurrency")
        scripts = " ".join(step.get("run", "") for step in job.get("steps", []))
        if re.search(r"\./mvs (up|promote)\b", scripts):
            assert concurrency and concurrency["cancel-in-progress"] is False, name
            groups[name] = concurrency["group"]
    assert groups == {"deploy-staging.yml": "deploy-staging", "promote-prod.yml": "deploy-prod"}


def test_a_rollback_is_in_no_concurrency_group_so_nothing_can_replace_or_cancel_it():
    """GitHub keeps one pending run per group and a newer one replaces it (issue 24, point 12)."""
    [(_, _, document, job)] = [row for row in job_settings() if row[0] == "rollback.yml"]
    assert "concurrency" not in document and "concurrency" not in job
    assert str(document["run-name"]).startswith("rollback ${{ inputs.stack }}"), "wait-turn reads the stack there"


def test_every_run_that_changes_a_stack_waits_its_turn_before_changing_it():
    for name, job_id, document, job in job_settings():
        steps = [step.get("run", "") for step in job.get("steps", [])]
        changing = [i for i, script in enumerate(steps) if re.search(r"\./mvs (up|promote|rollback)\b", script)]
        if not changing:
            continue
        waits = [i for i, script in enumerate(steps) if "./mvs wait-turn" in script]
        assert waits and waits[0] < changing[0], f"{name} {job_id}: ./mvs wait-turn before the first change"
        assert (job.get("permissions") or document.get("permissions") or {}).get("actions") == "read", name


def test_prod_changes_wait_for_the_production_environment():
    environments = {(name, job_id): job.get("environment") for name, job_id, _, job in job_settings()}
    assert environments[("promote-prod.yml", "promote")] == "production"
    assert "'production'" in environments[("rollback.yml", "rollback")]
