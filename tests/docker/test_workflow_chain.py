"""The workflows, run step by step (issue 11, point 7; DESIGN test layer 8): summary on a pull
request, deploy of staging on a push to main, promote to prod, a bad release rolled back, drift.

tests/workflows/actions_runner.py reads each workflow and runs its `run:` steps in order with bash,
the GitHub-provided values stubbed; the steps really run `./mvs`, so a command or flag that does
not exist fails its step, and the test, by name.

Real here: git (a bare `origin` the workflows push to), the Pulumi CLI and the project's program,
a loopback S3 server (moto) as the state backend, the Railway emulator as Railway, the Docker
engine of tests/docker (`docker build`/`push`/`inspect`) and Debian's docker-registry on loopback
as the image registry. Stubbed: `gh` (GitHub's API: PR comments, issues) and `curl` for
`*.up.railway.app` (Railway's edge is not reachable here), both recording their calls; the
setup-python/setup-go/cache actions (the machine's own tools). The node base image is the Debian
stand-in tests/docker builds, tagged as the Dockerfiles' default base; the engine has no network
outside `--network host`, so the apps' `npm ci` layers are built once that way first and the
workflow's plain `docker build` finds them in the layer cache, as a runner with network would
simply run it.

The tests of this module are one chain and run in order; each needs the ones before.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from mvsctl.loopback_s3 import create_bucket, free_port, loopback_s3
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer
from tests.workflows.actions_runner import ActionsRunner, Event, git

from .conftest import ROOT, build

STUBS = ROOT / "tests" / "workflows" / "stubs"
SECRETS = {  # the stack secrets a team sets once (README, "Sharing stack secrets")
    "dbPassword": "db-Chain-Secret-1",
    "sessionSecret": "session-Chain-Secret-2",
    "backupAccessKey": "access-Chain-Secret-3",
    "backupSecretKey": "key-Chain-Secret-4",
}
PASSPHRASE = "chain-test-passphrase"
STATE_BUCKET, BACKUP_BUCKET = "mvs-pulumi-state", "mvs-backups"
NODE_BASE = "node:18.20.4-bookworm-slim"  # the Dockerfiles' default BASE_IMAGE
BOT = "github-actions[bot]"
SCALE = (
    "mutation($s: String!, $e: String!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: {numReplicas: 3}) }"
)


class Registry:
    """Debian's docker-registry (distribution 2.8) on a loopback port, storage in a directory."""

    def __init__(self, scratch: Path):
        binary = shutil.which("docker-registry")
        assert binary, "no docker-registry: tools/docker-engine install installs it (Debian's docker-registry)"
        self.port = free_port()
        config = scratch / "registry.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "version": 0.1,
                    "log": {"level": "warn"},
                    "storage": {"filesystem": {"rootdirectory": str(scratch / "registry-data")}},
                    "http": {"addr": f"127.0.0.1:{self.port}"},
                }
            )
        )
        self.log = (scratch / "registry.log").open("w")
        self.process = subprocess.Popen([binary, "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline and self.process.poll() is None, "docker-registry did not start"
                time.sleep(0.1)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def digest(self, repository: str, reference: str) -> str:
        response = httpx.head(
            f"http://{self.host}/v2/{repository}/manifests/{reference}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


class Chain:
    """The world the workflows run in, and what the stubs recorded."""

    def __init__(self, scratch: Path, docker_host: str, s3: str, registry: Registry):
        self.scratch = scratch
        self.registry = registry
        self.emulator = EmulatorServer(Emulator(log_path=scratch / "requests.jsonl", state_path=scratch / "rw.json"))
        self.emulator.start()
        create_bucket(s3, STATE_BUCKET, ("chain-key", "chain-secret"))
        create_bucket(s3, BACKUP_BUCKET, (SECRETS["backupAccessKey"], SECRETS["backupSecretKey"]))
        self.s3 = s3
        backend = f"s3://{STATE_BUCKET}/mvs?endpoint={s3}&use_path_style=true&region=us-east-1"
        self.secrets = {
            "AWS_ACCESS_KEY_ID": "chain-key",
            "AWS_SECRET_ACCESS_KEY": "chain-secret",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "RAILWAY_API_TOKEN": DEFAULT_TOKEN,
        }
        self.variables = {"PULUMI_BACKEND_URL": backend, "MVS_IMAGE_PREFIX": f"{registry.host}/mvs"}
        bin_dir = scratch / "stub-bin"
        bin_dir.mkdir()
        for stub in ("gh", "curl"):
            shutil.copy(STUBS / stub, bin_dir / stub)
        home = scratch / "home"
        home.mkdir()
        self.gh_log, self.curl_log = scratch / "gh.jsonl", scratch / "curl.jsonl"
        drop = ("PULUMI_", "AWS_", "RAILWAY_", "GITHUB_", "GH_", "DOCKER_", "MVS_TEST_")
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),  # docker login writes ~/.docker/config.json here, not in the user's
            "MVS_CACHE_DIR": os.environ.get("MVS_CACHE_DIR") or str(Path.home() / ".cache" / "mvs-infra"),
            "PULUMI_HOME": str(scratch / "pulumi-home"),
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "DOCKER_HOST": docker_host,
            "RAILWAY_API_ENDPOINT": self.emulator.url,  # Railway's public endpoint, here the emulator
            "GH_STUB_STATE": str(scratch / "gh-state.json"),
            "GH_STUB_LOG": str(self.gh_log),
            "CURL_STUB_LOG": str(self.curl_log),
            "MVS_WAIT_TURN_SECONDS": "0.05",  # ./mvs wait-turn's polls, against the gh stub
        }
        for key in ("VIRTUAL_ENV", "PYTHONPATH"):
            self.base_env.pop(key, None)
        # origin: a bare repository from this checkout's HEAD; dev: a developer's clone of it.
        self.origin = scratch / "origin.git"
        git(scratch, "clone", "-q", "--bare", str(ROOT), str(self.origin))
        git(self.origin, "symbolic-ref", "HEAD", "refs/heads/main")
        head = git(ROOT, "rev-parse", "HEAD")
        git(self.origin, "update-ref", "refs/heads/main", head)
        self.dev = scratch / "dev"
        git(scratch, "clone", "-q", "--branch", "main", str(self.origin), str(self.dev))
        link_venv(self.dev)
        self.runner = ActionsRunner(
            ROOT / ".github" / "workflows",
            scratch,
            str(self.origin),
            self.base_env,
            self.secrets,
            self.variables,
            prepare_workspace=link_venv,
        )

    def env(self) -> dict[str, str]:
        """What a job's env gives ./mvs: the backend, its keys, the passphrase, the token."""
        return {**self.base_env, **self.secrets, "PULUMI_BACKEND_URL": self.variables["PULUMI_BACKEND_URL"]}

    def mvs(self, cwd: Path, *args: str, input_text: str | None = None) -> str:
        done = subprocess.run(
            ["./mvs", *args], cwd=cwd, env=self.env(), input=input_text, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"./mvs {' '.join(args)} ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def origin_main(self) -> str:
        return git(self.origin, "rev-parse", "refs/heads/main")

    def use_workflows_of(self, sha: str) -> None:
        """GitHub runs the workflow file of the event's commit: read them from there."""
        target = self.scratch / "workflows" / sha
        if not target.exists():
            target.mkdir(parents=True)
            listing = git(self.origin, "ls-tree", "--name-only", sha, ".github/workflows/")
            for path in listing.splitlines():
                (target / Path(path).name).write_text(git(self.origin, "show", f"{sha}:{path}") + "\n")
        self.runner.workflows_dir = target

    def run(self, workflow: str, job: str, event: Event, matrix: dict | None = None):
        self.use_workflows_of(event.sha)
        started = time.monotonic()
        result = self.runner.run_job(workflow, job, event, matrix)
        print(f"{workflow} {job} {matrix or ''}: {time.monotonic() - started:.1f} s")
        return result

    def gh_calls(self) -> list[dict]:
        return read_jsonl(self.gh_log)

    def other_runs(self, workflow: str, *runs: dict) -> None:
        """Runs of `workflow` that GitHub would list besides the one the test runs (the gh stub's
        `run list`; a run with `done_after` N completes after N listings)."""
        path = Path(self.base_env["GH_STUB_STATE"])
        state = json.loads(path.read_text()) if path.exists() else {"comments": {}, "issues": {}, "next_id": 1000}
        state.setdefault("runs", {})[workflow] = list(runs)
        path.write_text(json.dumps(state))

    def listings(self, workflow: str) -> int:
        return sum(1 for c in self.gh_calls() if c["argv"][:2] == ["run", "list"] and c.get("workflow") == workflow)

    def curl_calls(self) -> list[dict]:
        return read_jsonl(self.curl_log)

    def admin(self, path: str, payload: dict | None = None) -> dict:
        url = f"{self.emulator.admin_url}/{path}"
        response = httpx.post(url, json=payload) if payload is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def ids(self, stack: str, service: str) -> tuple[str, str]:
        state = self.admin("state")
        environment = next(e for e in state["environments"].values() if e["name"] == stack)
        service_id = next(
            s["id"]
            for s in state["services"].values()
            if s["name"] == service and s["projectId"] == environment["projectId"]
        )
        return environment["id"], service_id

    def running_image(self, stack: str, service: str) -> str:
        """The image of the service's newest deployment on `stack`, which must have succeeded."""
        environment_id, service_id = self.ids(stack, service)
        ours = [
            d
            for d in self.admin("state")["deployments"].values()
            if (d["serviceId"], d["environmentId"]) == (service_id, environment_id)
        ]
        newest = max(ours, key=lambda d: d.get("_seq", 0))
        assert newest["status"] == "SUCCESS", newest
        return newest["meta"]["image"]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def link_venv(workspace: Path) -> None:
    """The runner's Python environment: this checkout's venv (setup-python and pip are no-ops)."""
    (workspace / "venv").symlink_to(ROOT / "venv")


def declared_release(cwd: Path, stack: str) -> dict:
    config = yaml.safe_load((cwd / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config["mvs:environment"]["release"]


def push_event(chain: Chain) -> Event:
    sha = chain.origin_main()
    return Event("push", sha, "refs/heads/main", payload={"ref": "refs/heads/main", "after": sha})


def dispatch_event(chain: Chain, **inputs: str) -> Event:
    return Event("workflow_dispatch", chain.origin_main(), "refs/heads/main", inputs=inputs)


def last_commit(chain: Chain) -> dict:
    sha = chain.origin_main()
    return {
        "sha": sha,
        "author": git(chain.origin, "log", "-1", "--format=%an", sha),
        "message": git(chain.origin, "log", "-1", "--format=%s", sha),
        "files": git(chain.origin, "show", "--name-only", "--format=", sha).splitlines(),
    }


@pytest.fixture(scope="module")
def chain(tmp_path_factory, engine, ci_bases, docker_host):
    scratch = tmp_path_factory.mktemp("chain")
    engine.images.get(ci_bases["node"]).tag(NODE_BASE)
    # The engine reaches npm only with --network host: build the apps' npm layers that way once
    # (the workflow's own `docker build` then takes them from the layer cache).
    for app in ("backend", "frontend"):
        build(engine, ROOT / "app" / app, f"mvs-chain/{app}-npm-layer:warm")
    registry = Registry(scratch)
    with loopback_s3() as s3:
        chain = Chain(scratch, docker_host, s3, registry)
        # Once, as the README tells a team: the stacks, their secrets, committed. Here also the
        # emulator's short poll interval and the loopback backup bucket.
        dev = chain.dev
        for stack in ("staging", "prod"):
            chain.mvs(dev, "pulumi", "stack", "init", stack)
            for key, value in SECRETS.items():
                chain.mvs(dev, "pulumi", "config", "set", "--secret", "--stack", stack, key, input_text=value)
            chain.mvs(dev, "pulumi", "config", "set", "--stack", stack, "railway:pollSeconds", "0.01")
            endpoint = "mvs:environment.backups.destination.endpoint"
            chain.mvs(dev, "pulumi", "config", "set", "--path", "--stack", stack, endpoint, s3)
        git(dev, "commit", "-q", "-am", "Stack secrets for staging and prod; the emulator's poll interval")
        git(dev, "push", "-q", "origin", "main")
        yield chain
        chain.emulator.stop()
        registry.stop()
    # The tags the workflows gave their images name this throwaway registry: none outlive it in
    # the engine's cached image store (the layers stay, shared with the next run's builds).
    for image in engine.images.list():
        for tag in image.tags:
            if tag.startswith(f"127.0.0.1:{registry.port}/"):
                engine.images.remove(tag)


def test_1_a_pull_request_gets_one_summary_comment_edited_in_place(chain):
    git(chain.dev, "checkout", "-q", "-b", "feature")
    page = chain.dev / "app" / "frontend" / "public" / "index.html"
    page.write_text(page.read_text().replace("</body>", "<!-- a change under review -->\n</body>"))
    git(chain.dev, "commit", "-q", "-am", "A change under review")
    git(chain.dev, "push", "-q", "origin", "feature")
    sha = git(chain.dev, "rev-parse", "HEAD")
    repo = chain.runner.repository
    event = Event(
        "pull_request",
        sha,
        "refs/pull/7/merge",
        payload={"number": 7, "pull_request": {"number": 7, "head": {"sha": sha, "repo": {"full_name": repo}}}},
    )
    chain.use_workflows_of(sha)
    jobs = chain.runner.workflow("pr.yml")["jobs"]
    assert any("./mvs test" in s.get("run", "") for s in jobs["tests"]["steps"]), "the tests job runs ./mvs test"
    for job in jobs:
        if job == "tests":  # the whole suite in a container: what this run is part of
            continue
        for combination in [{"stack": s} for s in jobs[job].get("strategy", {}).get("matrix", {}).get("stack", [])] or [
            None
        ]:
            assert not chain.run("pr.yml", job, event, combination).skipped, job

    posted = [c for c in chain.gh_calls() if c.get("method") == "POST"]
    assert len(posted) == 1, chain.gh_calls()
    body = posted[0]["body"]
    assert body.startswith("<!-- mvs-summary -->") and "staging" in body and "prod" in body, body[:500]
    assert posted[0]["path"] == f"repos/{repo}/issues/7/comments"

    chain.run("pr.yml", "summary", event)  # another push to the pull request
    writes = [c for c in chain.gh_calls() if c.get("method") in ("POST", "PATCH")]
    assert [c["method"] for c in writes] == ["POST", "PATCH"], writes
    comment_id = json.loads(Path(chain.base_env["GH_STUB_STATE"]).read_text())["comments"]
    assert writes[1]["path"] == f"repos/{repo}/issues/comments/{next(iter(comment_id))}"
    assert len(comment_id) == 1


def test_2_a_push_to_main_deploys_staging_from_the_pushed_digests_and_commits_the_release(chain):
    git(chain.dev, "checkout", "-q", "main")
    git(chain.dev, "merge", "-q", "--ff-only", "feature")
    git(chain.dev, "push", "-q", "origin", "main")
    event = push_event(chain)
    before = len(chain.curl_calls())
    # A rollback of staging dispatched before this push still waits for its runner: the deploy
    # waits for it. One of prod, running all along, holds nothing of staging.
    chain.other_runs(
        "rollback.yml",
        {"databaseId": 1, "status": "queued", "displayTitle": "rollback staging", "done_after": 1},
        {"databaseId": 2, "status": "in_progress", "displayTitle": "rollback prod to 2.0.0", "done_after": 10**6},
    )
    run = chain.run("deploy-staging.yml", "deploy", event)
    waited = run.step("Wait for earlier deploys and rollbacks of staging").output
    assert "held by rollback.yml run 1 (rollback staging, queued)" in waited and "run 2" not in waited, waited
    assert chain.listings("rollback.yml") == 2, "it listed until the earlier rollback had ended"
    chain.other_runs("rollback.yml")

    images = run.context["steps"]["images"]["outputs"]
    for service in ("backend", "frontend"):
        repository = f"mvs/mvs-{service}"
        digest = chain.registry.digest(repository, event.sha)
        assert images[service] == f"{chain.registry.host}/{repository}@{digest}"
        assert chain.running_image("staging", service) == images[service]
    commit = last_commit(chain)
    assert commit["author"] == BOT and commit["files"] == ["stacks/Pulumi.staging.yaml"], commit
    assert commit["message"] == f"Release {images['version']} to staging [skip ci]"
    git(chain.dev, "pull", "-q", "--ff-only", "origin", "main")
    release = declared_release(chain.dev, "staging")
    assert release["version"] == images["version"]
    assert release["images"] == {"backend": images["backend"], "frontend": images["frontend"]}
    checked = [u for c in chain.curl_calls()[before:] for u in c["urls"]]
    assert checked and all(u.endswith(".up.railway.app/health") for u in checked), checked
    chain.staging_release = release


def test_3_promote_runs_exactly_stagings_digests_on_prod_and_commits_it(chain):
    before = len(chain.curl_calls())
    chain.run("promote-prod.yml", "promote", dispatch_event(chain))
    release = chain.staging_release
    for service in ("backend", "frontend"):
        assert chain.running_image("prod", service) == release["images"][service]
    commit = last_commit(chain)
    assert commit["author"] == BOT and commit["files"] == ["stacks/Pulumi.prod.yaml"], commit
    assert commit["message"] == f"Promote {release['version']} to prod [skip ci]"
    git(chain.dev, "pull", "-q", "--ff-only", "origin", "main")
    assert declared_release(chain.dev, "prod")["images"] == release["images"]
    assert chain.curl_calls()[before:], "prod's URLs were checked"


def test_4_a_bad_release_on_staging_is_rolled_back_and_recorded(chain):
    good = chain.staging_release
    script = chain.dev / "app" / "frontend" / "src" / "server.js"
    script.write_text(script.read_text() + "\n// the bad release\n")
    git(chain.dev, "commit", "-q", "-am", "A bad release")
    git(chain.dev, "push", "-q", "origin", "main")
    run = chain.run("deploy-staging.yml", "deploy", push_event(chain))
    bad = run.context["steps"]["images"]["outputs"]
    assert bad["frontend"] != good["images"]["frontend"]
    assert chain.running_image("staging", "frontend") == bad["frontend"]

    # A deploy of staging is still running, and a push after the rollback was dispatched is pending:
    # the rollback waits for the first only, then rolls back (issue 24, point 12).
    chain.other_runs(
        "deploy-staging.yml",
        {"databaseId": 3, "status": "in_progress", "displayTitle": "A bad release", "done_after": 2},
        {"databaseId": 10**11, "status": "queued", "displayTitle": "a later push"},
    )
    listed = chain.listings("deploy-staging.yml")
    rolled = chain.run("rollback.yml", "rollback", dispatch_event(chain, stack="staging"))
    waited = rolled.step("Wait for earlier deploys and rollbacks of staging").output
    assert "held by deploy-staging.yml run 3 (A bad release, in_progress)" in waited and "later push" not in waited
    assert chain.listings("deploy-staging.yml") - listed == 3, "it went ahead once run 3 had ended"
    chain.other_runs("deploy-staging.yml")
    for service in ("backend", "frontend"):
        assert chain.running_image("staging", service) == good["images"][service]
    commit = last_commit(chain)
    assert commit["author"] == BOT and commit["files"] == ["stacks/Pulumi.staging.yaml"], commit
    assert commit["message"] == f"Roll staging back to {good['version']} [skip ci]"
    fresh = chain.scratch / "fresh"
    git(chain.scratch, "clone", "-q", str(chain.origin), str(fresh))
    link_venv(fresh)
    assert declared_release(fresh, "staging") == good
    chain.mvs(fresh, "preview", "staging", "--expect-no-changes")


def test_5_drift_opens_one_issue_per_drifting_stack_and_keeps_it_up_to_date(chain):
    event = Event("schedule", chain.origin_main(), "refs/heads/main", payload={"schedule": "17 4 * * *"})

    def issue_calls() -> list[dict]:
        return [c for c in chain.gh_calls() if c["argv"][:1] == ["issue"]]

    for stack in ("staging", "prod"):
        chain.run("drift.yml", "drift", event, {"stack": stack})
    assert [c["verb"] for c in issue_calls()] == ["list", "list"], "clean: only looked for an issue"

    environment_id, service_id = chain.ids("staging", "backend")
    result = chain.admin("dashboard", {"query": SCALE, "variables": {"s": service_id, "e": environment_id}})
    assert not result["errors"], result
    chain.run("drift.yml", "drift", event, {"stack": "staging"})
    created = [c for c in issue_calls() if c["verb"] == "create"]
    assert len(created) == 1 and created[0]["title"] == "Drift: staging", issue_calls()
    assert "num_replicas" in created[0]["body"]

    chain.run("drift.yml", "drift", event, {"stack": "staging"})
    verbs = [c["verb"] for c in issue_calls()]
    assert verbs[-2:] == ["list", "edit"] and verbs.count("create") == 1, verbs
    assert issue_calls()[-1]["number"] == created[0]["number"]
