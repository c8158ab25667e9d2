"""A small stand-in for the GitHub Actions runner: runs the `run:` steps of a workflow's job in
order with bash, as GitHub does, with the values GitHub provides stubbed.

- `${{ … }}` is evaluated against a stub context (secrets, vars, github, inputs, matrix, env,
  steps.<id>.outputs/outcome, runner, job); a name the context does not have fails the run
  (`UnresolvedExpression`), so a typo in a workflow is caught, never turned into ''.
- Each `run:` step: `bash --noprofile --norc -e -o pipefail` in the job's workspace, with env =
  the runner's base env + GITHUB_* + job env + step env + what earlier steps wrote to GITHUB_ENV;
  GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and GITHUB_STEP_SUMMARY are files, read back after it.
  A step that fails raises `StepFailed` naming the workflow, job and step, with its output.
- `uses:` steps: actions/checkout clones the world's origin into a fresh workspace at the event's
  commit (or `with.ref`); setup-python, setup-go and cache are no-ops (the runner image's tools
  are this machine's); any other action fails the run: a new action must be thought about.
- `if:` (job and step): evaluated with the same expression engine (success(), always(), failure()
  and cancelled() as GitHub; the run stops at the first failing step, so only success paths run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NOOP_ACTIONS = {"actions/setup-python", "actions/setup-go", "actions/cache"}
CHECKOUT = "actions/checkout"


class WorkflowError(AssertionError):
    """The workflow could not be run as GitHub would run it here."""


class UnresolvedExpression(WorkflowError):
    """An expression names something the stub context does not have."""


class StepFailed(WorkflowError):
    """A step exited non-zero."""


# --- expressions ------------------------------------------------------------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\].,*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
MISSING = object()


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.strip()
    while at < len(text):
        match = TOKEN.match(text, at)
        if not match or match.end() == at:
            raise WorkflowError(f"cannot parse expression {text!r} at {text[at:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        at = match.end()
        while at < len(text) and text[at].isspace():
            at += 1
    return tokens


def _truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", MISSING) and not (isinstance(value, float) and value != value)


def _loose(value: Any) -> Any:
    """GitHub compares values of different types as numbers; strings case-insensitively."""
    if isinstance(value, str):
        return value.lower()
    return value


def _equal(left: Any, right: Any) -> bool:
    if type(left) is not type(right) and not (isinstance(left, str) and isinstance(right, str)):
        try:
            return float(left if left not in (None, "") else 0) == float(right if right not in (None, "") else 0)
        except (TypeError, ValueError):
            return False
    return _loose(left) == _loose(right)


class Expression:
    """Recursive descent over GitHub's expression syntax (the parts workflows here use)."""

    def __init__(self, text: str, context: dict, functions: dict):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.context = context
        self.functions = functions

    def evaluate(self) -> Any:
        value = self._or()
        if self.at != len(self.tokens):
            raise WorkflowError(f"unexpected {self.tokens[self.at][1]!r} in expression {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise WorkflowError(f"expression {self.text!r} ends early")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise WorkflowError(f"expected {expected!r}, got {token[1]!r} in expression {self.text!r}")
        self.at += 1
        return token

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._comparison()
        while self._peek() == "&&":
            self._take()
            right = self._comparison()
            value = right if _truthy(value) else value
        return value

    def _comparison(self) -> Any:
        value = self._unary()
        while self._peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self._take()[1]
            right = self._unary()
            if op == "==":
                value = _equal(value, right)
            elif op == "!=":
                value = not _equal(value, right)
            else:
                value = {"<": value < right, ">": value > right, "<=": value <= right, ">=": value >= right}[op]
        return value

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        return self._postfix()

    def _postfix(self) -> Any:
        kind, token = self._take()
        path = token
        if kind == "num":
            value: Any = float(token) if "." in token else int(token)
        elif kind == "str":
            value = token[1:-1].replace("''", "'")
        elif token == "(":
            value = self._or()
            self._take(")")
        elif kind == "name" and token in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[token]
        elif kind == "name" and self._peek() == "(":
            self._take("(")
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take(",")
            self._take(")")
            if token not in self.functions:
                raise UnresolvedExpression(f"function {token}() is not stubbed (in {self.text!r})")
            value = self.functions[token](*args)
        elif kind == "name":
            if token not in self.context:
                raise UnresolvedExpression(f"no context {token!r} (in {self.text!r})")
            value = self.context[token]
        else:
            raise WorkflowError(f"unexpected {token!r} in expression {self.text!r}")
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            path = f"{path}.{key}"
            if (isinstance(value, dict) and key in value) or (
                isinstance(value, list) and isinstance(key, int) and key < len(value)
            ):
                value = value[key]
            else:
                raise UnresolvedExpression(f"{path} is not in the stub context (in {self.text!r})")
        return value


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


# --- files the steps write --------------------------------------------------------------------


def read_key_values(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `key=value` lines and `key<<DELIM` … `DELIM` blocks."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise WorkflowError(f"{path.name}: no closing {delimiter!r} for {key}")
            values[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        elif line.strip():
            raise WorkflowError(f"{path.name}: cannot read line {line!r}")
        i += 1
    return values


# --- the runner -------------------------------------------------------------------------------


@dataclass
class Event:
    """What triggered the run: its name, commit and ref, and its payload."""

    name: str  # pull_request, push, workflow_dispatch, schedule
    sha: str
    ref: str  # refs/heads/main, refs/pull/7/merge
    inputs: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepRun:
    name: str
    kind: str  # run, uses, skipped
    output: str = ""
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    workflow: str
    job: str
    workspace: Path
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""
    skipped: bool = False
    context: dict[str, Any] = field(default_factory=dict)  # what the job's expressions resolved

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    @property
    def output(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.output}" for s in self.steps)


class ActionsRunner:
    """Runs jobs of the workflows in `workflows_dir` against the world the test built.

    origin: the git remote the checkout clones (a bare repository; pushes to it are real).
    base_env: the runner machine's environment (PATH with the stubs first, HOME, caches, …).
    secrets, variables: what the repository settings would hold.
    prepare_workspace: called with each fresh checkout (e.g. to link the venv).
    """

    def __init__(
        self,
        workflows_dir: Path,
        scratch: Path,
        origin: str,
        base_env: dict[str, str],
        secrets: dict[str, str],
        variables: dict[str, str],
        repository: str = "mvs-app/mvs-infra",
        actor: str = "octocat",
        prepare_workspace=None,
        step_timeout: float = 900,
    ):
        self.workflows_dir = workflows_dir
        self.scratch = scratch
        self.origin = origin
        self.base_env = base_env
        self.secrets = secrets
        self.variables = variables
        self.repository = repository
        self.actor = actor
        self.prepare_workspace = prepare_workspace
        self.step_timeout = step_timeout
        self.runs: list[JobRun] = []

    def workflow(self, name: str) -> dict:
        document = yaml.safe_load((self.workflows_dir / name).read_text())
        # PyYAML reads the key `on` as True (YAML 1.1).
        if True in document and "on" not in document:
            document["on"] = document.pop(True)
        return document

    def run_job(self, workflow_name: str, job_id: str, event: Event, matrix: dict | None = None) -> JobRun:
        document = self.workflow(workflow_name)
        triggers = document["on"]
        if isinstance(triggers, (str, list)):
            triggers = {t: None for t in ([triggers] if isinstance(triggers, str) else triggers)}
        if event.name not in triggers:
            raise WorkflowError(f"{workflow_name} does not run on {event.name} (it runs on {sorted(triggers)})")
        job = document["jobs"][job_id]
        declared = (triggers.get("workflow_dispatch") or {}).get("inputs") or {}
        unknown = set(event.inputs) - set(declared)
        if unknown:
            raise WorkflowError(f"{workflow_name} has no inputs {sorted(unknown)}")
        inputs = {name: event.inputs.get(name, (spec or {}).get("default", "")) for name, spec in declared.items()}
        for name, spec in declared.items():
            if (spec or {}).get("required") and inputs[name] in ("", None):
                raise WorkflowError(f"{workflow_name}: input {name} is required")
            if (spec or {}).get("type") == "choice" and inputs[name] not in spec["options"]:
                raise WorkflowError(f"{workflow_name}: input {name}={inputs[name]!r} is not one of {spec['options']}")
        strategy = (job.get("strategy") or {}).get("matrix") or {}
        if set(strategy) != set(matrix or {}):
            raise WorkflowError(f"{workflow_name}/{job_id}: matrix {matrix} does not match {strategy}")
        for key, value in (matrix or {}).items():
            if value not in strategy[key]:
                raise WorkflowError(f"{workflow_name}/{job_id}: {key}={value!r} is not in {strategy[key]}")

        run_id = str(int(time.time() * 1000) % 10**10)
        label = f"{workflow_name}-{job_id}-{'-'.join(map(str, (matrix or {}).values()))}-{uuid.uuid4().hex[:6]}"
        home = self.scratch / "runs" / label
        workspace = home / "workspace"
        temp = home / "temp"
        for path in (workspace, temp):
            path.mkdir(parents=True)
        event_path = home / "event.json"
        event_path.write_text(json.dumps({**event.payload, "inputs": inputs}))
        ref_name = event.ref.split("/", 2)[-1]
        github = {
            "sha": event.sha,
            "ref": event.ref,
            "ref_name": ref_name,
            "repository": self.repository,
            "repository_owner": self.repository.split("/")[0],
            "token": "ghs_stubbedGithubToken",
            "actor": self.actor,
            "server_url": "https://github.com",
            "api_url": "https://api.github.com",
            "event_name": event.name,
            "event": {**event.payload, "inputs": inputs},
            "run_id": run_id,
            "run_number": "1",
            "workflow": document.get("name", workflow_name),
            "job": job_id,
            "workspace": str(workspace),
        }
        context: dict[str, Any] = {
            "github": github,
            "secrets": {**self.secrets, "GITHUB_TOKEN": github["token"]},
            "vars": self.variables,
            "inputs": inputs,
            "matrix": matrix or {},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(temp), "name": "stub-runner"},
            "steps": {},
            "env": {},
            "job": {"status": "success"},
        }
        run = JobRun(workflow_name, job_id, workspace, context=context)
        self.runs.append(run)
        where = f"{workflow_name} job {job_id}"

        # Settings evaluated here only so an unresolvable expression in them fails too.
        for setting in (document.get("concurrency"), job.get("concurrency"), job.get("environment")):
            self.substitute(setting, context, where)
        if "if" in job and not _truthy(self.condition(job["if"], context, where)):
            run.skipped = True
            return run

        env = {
            **self.base_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_SHA": event.sha,
            "GITHUB_REF": event.ref,
            "GITHUB_REF_NAME": ref_name,
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_OWNER": github["repository_owner"],
            "GITHUB_ACTOR": self.actor,
            "GITHUB_SERVER_URL": github["server_url"],
            "GITHUB_API_URL": github["api_url"],
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_RUN_ID": run_id,
            "GITHUB_RUN_NUMBER": "1",
            "GITHUB_JOB": job_id,
            "GITHUB_WORKFLOW": github["workflow"],
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
        }
        for key, value in (document.get("env") or {}).items():
            env[key] = self.substitute(value, context, where)
        for key, value in (job.get("env") or {}).items():
            env[key] = self.substitute(value, context, where)
        context["env"] = {k: v for k, v in env.items() if k not in self.base_env}
        extra_path: list[str] = []
        summary = home / "step_summary.md"
        summary.touch()

        for index, step in enumerate(job.get("steps") or []):
            step_where = f"{where}, step {index + 1}"
            name = self.substitute(step.get("name"), context, step_where) or step.get("run") or step.get("uses")
            step_where = f"{where}, step {index + 1} ({name!r})"
            condition = step.get("if")
            if condition is not None and not _truthy(self.condition(condition, context, step_where)):
                run.steps.append(StepRun(name, "skipped"))
                continue
            if "uses" in step:
                run.steps.append(self._uses(step, context, event, workspace, step_where, name))
                continue
            if "run" not in step:
                raise WorkflowError(f"{step_where}: neither run nor uses")
            if step.get("shell", "bash") != "bash" or step.get("working-directory"):
                raise WorkflowError(f"{step_where}: shell/working-directory are not stubbed")
            script = self.substitute(step["run"], context, step_where)
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = self.substitute(value, context, step_where)
            files = {}
            for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
                files[key] = temp / f"{key.lower()}_{index}"
                files[key].touch()
                step_env[key] = str(files[key])
            step_env["GITHUB_STEP_SUMMARY"] = str(summary)
            if extra_path:
                step_env["PATH"] = os.pathsep.join([*reversed(extra_path), step_env["PATH"]])
            script_file = temp / f"step_{index}.sh"
            script_file.write_text(script)
            started = time.monotonic()
            try:
                done = subprocess.run(
                    ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", str(script_file)],
                    cwd=workspace,
                    env=step_env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=float(step.get("timeout-minutes", 0)) * 60 or self.step_timeout,
                )
            except subprocess.TimeoutExpired as timeout:
                raise StepFailed(f"{step_where} timed out:\n{timeout.output or ''}") from None
            outputs = read_key_values(files["GITHUB_OUTPUT"])
            record = StepRun(name, "run", done.stdout, time.monotonic() - started, outputs)
            run.steps.append(record)
            if done.returncode != 0:
                raise StepFailed(f"{step_where} failed with exit {done.returncode}:\n{done.stdout[-6000:]}")
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": "success", "conclusion": "success"}
            for key, value in read_key_values(files["GITHUB_ENV"]).items():
                env[key] = value
                context["env"][key] = value
            extra_path += [line for line in files["GITHUB_PATH"].read_text().splitlines() if line.strip()]
        run.summary = summary.read_text()
        return run

    # -- uses: ------------------------------------------------------------------------------------

    def _uses(self, step: dict, context: dict, event: Event, workspace: Path, where: str, name: str) -> StepRun:
        action = step["uses"].split("@", 1)[0]
        with_ = {k: self.substitute(v, context, where) for k, v in (step.get("with") or {}).items()}
        if action in NOOP_ACTIONS:
            return StepRun(name, "uses", f"{action}: no-op here (the machine's own tools)")
        if action != CHECKOUT:
            raise WorkflowError(f"{where}: action {step['uses']!r} is not stubbed; decide what it means here")
        unknown = set(with_) - {"ref", "fetch-depth"}
        if unknown:
            raise WorkflowError(f"{where}: actions/checkout inputs {sorted(unknown)} are not stubbed")
        ref = with_.get("ref") or ""
        git = ["git", "-c", "advice.detachedHead=false"]
        subprocess.run([*git, "clone", "-q", self.origin, str(workspace)], check=True, capture_output=True)
        if ref:  # a branch name: its head now, on that branch (as actions/checkout does)
            subprocess.run([*git, "checkout", "-q", ref], cwd=workspace, check=True, capture_output=True)
        elif event.ref.startswith("refs/heads/"):
            branch = event.ref.removeprefix("refs/heads/")
            subprocess.run(
                [*git, "checkout", "-q", "-B", branch, event.sha], cwd=workspace, check=True, capture_output=True
            )
        else:  # a pull request: the commit, detached
            subprocess.run([*git, "checkout", "-q", "--detach", event.sha], cwd=workspace, check=True)
        if self.prepare_workspace:
            self.prepare_workspace(workspace)
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True).stdout
        return StepRun(name, "uses", f"checked out {ref or event.ref} at {head.strip()}")

    # -- expressions ------------------------------------------------------------------------------

    def functions(self, context: dict) -> dict:
        return {
            "success": lambda: True,  # a failed step ends the run, so later steps see success
            "always": lambda: True,
            "failure": lambda: False,
            "cancelled": lambda: False,
            "hashFiles": lambda *patterns: "stub-hash-" + str(abs(hash(patterns)) % 10**8),
            "contains": lambda haystack, needle: (
                _loose(needle) in [_loose(x) for x in haystack]
                if isinstance(haystack, list)
                else _loose(str(needle)) in _loose(str(haystack))
            ),
            "startsWith": lambda s, p: _loose(str(s)).startswith(_loose(str(p))),
            "endsWith": lambda s, p: _loose(str(s)).endswith(_loose(str(p))),
            "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: _to_string(a[int(m.group(1))]), f),
            "toJSON": lambda v: json.dumps(v, indent=2),
            "fromJSON": json.loads,
        }

    def evaluate(self, expression: str, context: dict, where: str) -> Any:
        try:
            return Expression(expression, context, self.functions(context)).evaluate()
        except WorkflowError as error:
            raise type(error)(f"{where}: {error}") from None

    def condition(self, condition: Any, context: dict, where: str) -> Any:
        if isinstance(condition, bool):
            return condition
        text = str(condition).strip()
        match = EMBEDDED.fullmatch(text)
        return self.evaluate(match.group(1) if match else text, context, where)

    def substitute(self, value: Any, context: dict, where: str) -> Any:
        if isinstance(value, str):
            return EMBEDDED.sub(lambda m: _to_string(self.evaluate(m.group(1), context, where)), value)
        if isinstance(value, dict):
            return {k: self.substitute(v, context, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v, context, where) for v in value]
        return value


def git(cwd: Path, *args: str) -> str:
    """git in a test's clone, as a developer named Dev; a failure fails the test with git's output."""
    done = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout.strip()
