"""The Railway world the end-to-end tests run in: one emulator, one copy of the project, the real
`pulumi` CLI pointed at both, and `./mvs` on that copy. The `world` fixture is in conftest.py."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx

from backup_runner.destinations import S3Destination
from mvsctl.loopback_s3 import create_bucket
from railway_emulator.requestlog import read_log
from railway_emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer

from .cli import ROOT, PulumiCLI, copy_program, tools_available

SECRETS = {
    "mvs:dbPassword": "db-Never-In-State-1",
    "mvs:sessionSecret": "session-Never-In-State-2",
    "mvs:backupAccessKey": "access-Never-In-State-3",
    "mvs:backupSecretKey": "key-Never-In-State-4",
}
SERVICES = ["Postgres", "backend", "backup", "backup-verify", "frontend"]
EU = "europe-west4-drams3a"  # where the default stacks run their services
SCALE = (
    "mutation($s: String!, $e: String, $i: ServiceInstanceUpdateInput!) { "
    "serviceInstanceUpdate(serviceId: $s, environmentId: $e, input: $i) }"
)
BUCKET = "mvs-backups"
EMULATOR_SETTINGS = {"behaviours", "settings"}  # how the emulator behaves, not what Railway holds


class RailwayWorld:
    """One emulator, one copy of the project, and the CLI pointed at both."""

    def __init__(self, tmp_path: Path, s3_endpoint: str):
        self.s3_endpoint = s3_endpoint
        self.log_path = tmp_path / "requests.jsonl"
        self.server = EmulatorServer(Emulator(log_path=self.log_path, state_path=tmp_path / "railway.json")).start()
        project = copy_program(tmp_path / "mvs")
        self.cli = PulumiCLI(project, tmp_path)
        self.cli.env.update({"RAILWAY_API_TOKEN": DEFAULT_TOKEN, "RAILWAY_API_ENDPOINT": self.server.url})

    def init_stack(self, stack: str) -> None:
        self.cli.ok("stack", "init", stack)
        for key, value in SECRETS.items():
            self.cli.ok("config", "set", "--secret", "--stack", stack, key, input_text=value)
        self.cli.ok("config", "set", "--stack", stack, "railway:pollSeconds", "0.01")
        # The backup bucket is a real S3 server on loopback (moto), so `last_drill` can be read.
        endpoint_key = "mvs:environment.backups.destination.endpoint"
        self.cli.ok("config", "set", "--path", "--stack", stack, endpoint_key, self.s3_endpoint)
        create_bucket(self.s3_endpoint, BUCKET, (SECRETS["mvs:backupAccessKey"], SECRETS["mvs:backupSecretKey"]))

    def bucket(self, stack: str) -> S3Destination:
        keys = (SECRETS["mvs:backupAccessKey"], SECRETS["mvs:backupSecretKey"])
        return S3Destination(BUCKET, stack, self.s3_endpoint, credentials=keys)

    def admin(self, path: str, payload: dict | None = None) -> dict:
        url = f"{self.server.admin_url}/{path}"
        response = httpx.post(url, json=payload) if payload is not None else httpx.get(url)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        return self.admin("state")

    def left_in_railway(self) -> dict:
        """Every table of the emulator's model that still holds something (its own settings aside)."""
        return {table: rows for table, rows in self.state().items() if table not in EMULATOR_SETTINGS and rows}

    def requests(self) -> list[dict]:
        return read_log(self.log_path)

    def environment_id(self, name: str) -> str:
        return next(e["id"] for e in self.state()["environments"].values() if e["name"] == name)

    def service_id(self, name: str) -> str:
        return next(s["id"] for s in self.state()["services"].values() if s["name"] == name)

    def dashboard(self, query: str, variables: dict) -> None:
        result = self.admin("dashboard", {"query": query, "variables": variables})
        assert not result["errors"], result

    def start_up(self, stack: str) -> subprocess.Popen:
        """`pulumi up` of `stack` in the background, for tests that interrupt it."""
        return subprocess.Popen(
            ["pulumi", "up", "--yes", "--stack", stack, "--non-interactive"],
            cwd=self.cli.workdir,
            env=self.cli.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def share_a_project(self) -> dict[str, str]:
        """staging, then prod adopting staging's project by id; returns the environment ids."""
        self.init_stack("staging")
        self.cli.ok("up", "--yes", "--stack", "staging")
        project_id = json.loads(self.cli.ok("stack", "output", "--json", "--stack", "staging"))["project_id"]
        self.init_stack("prod")
        self.cli.ok("config", "set", "--path", "--stack", "prod", "mvs:environment.railway.project_id", project_id)
        self.cli.ok("up", "--yes", "--stack", "prod")
        return {stack: self.environment_id(stack) for stack in ("staging", "prod")}

    def mvs(self, *args: str) -> subprocess.CompletedProcess:
        """`./mvs ARGS` on this world's copy of the project (its stack files, its state backend)."""
        for package in ("mvsctl", "railway_emulator", "policies"):  # the commands, and what they import
            if not (self.cli.workdir / package).exists():
                shutil.copytree(
                    ROOT / package, self.cli.workdir / package, ignore=shutil.ignore_patterns("__pycache__")
                )
        if not (self.cli.workdir / "venv").exists():  # the policy pack runs in the project's venv (../venv)
            (self.cli.workdir / "venv").symlink_to(ROOT / "venv")
        return subprocess.run(
            [sys.executable, "-m", "mvsctl", *args],
            cwd=self.cli.workdir,
            env=self.cli.env,
            text=True,
            capture_output=True,
            timeout=600,
        )

    def changes(self, stack: str, *args: str) -> list[tuple[str, str]]:
        steps = json.loads(self.cli.ok("preview", "--stack", stack, "--json", *args))["steps"]
        return sorted((s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps if s["op"] != "same")


def operations(entries: list[dict]) -> Counter:
    return Counter(e["operation"] for e in entries)


def writes(entries: list[dict]) -> list[str]:
    """The mutations among logged requests, in order."""
    return [e["operation"] for e in entries if e.get("kind") == "mutation"]


@contextlib.contextmanager
def world_up(
    tmp_path_factory,
    s3_endpoint: str,
    label: str,
    stack: str,
    deploy_seconds: float | None = None,
    poll_seconds: float | None = None,
    **env: str,
) -> Iterator[RailwayWorld]:
    """A world whose `stack` is brought up once (with `env` set for its CLI), for a module's tests.
    `deploy_seconds`: deployments follow the emulator's clock, taking that long (lifecycle.py).
    `poll_seconds`: the providers' poll interval (default: the world's quick one)."""
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path_factory.mktemp(label), s3_endpoint)
    try:
        if deploy_seconds is not None:
            world.admin("lifecycle", {"deploy_seconds": deploy_seconds})
        world.init_stack(stack)
        if poll_seconds is not None:
            world.cli.ok("config", "set", "--stack", stack, "railway:pollSeconds", str(poll_seconds))
        world.cli.env.update(env)
        world.cli.ok("up", "--yes", "--stack", stack)
        yield world
    finally:
        world.server.stop()
