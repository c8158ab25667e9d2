"""The dev stack's world for the real-engine tests: a copy of the project (program, app, commands,
policies) with a Pulumi state backend of its own, the real `./mvs` and `pulumi` CLI, and the test
Docker engine. Nothing of the repository's own stack files or state is touched."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import docker
import yaml
from docker.models.containers import Container

from components.local.client import port_is_free
from tests.engine.cli import ROOT, PulumiCLI, copy_program, copy_project

STACK = "dev"
FILE = f"stacks/Pulumi.{STACK}.yaml"
LABEL = f"com.mvs.stack={STACK}"
# Known values for the dev secrets (`./mvs up dev` generates only the missing ones), so the tests
# can look for them in every output, argument list and state file.
SECRETS = {"dbPassword": "db-Never-Shown-9x", "sessionSecret": "session-Never-Shown-8x"}
COPIED = ("mvsctl", "policies", "railway_emulator", "images", "tools", ".dockerignore")


def stable_free_port() -> int:
    """A free port below the kernel's ephemeral range: one the machine's other programs (the
    suite's servers, on other workers) are not handed by the kernel while a long `up` runs."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(10_000, low)
        if port_is_free(port):
            return port


class DevWorld:
    """One copy of the project, the engine, and `./mvs` on that copy."""

    def __init__(self, scratch: Path, docker_host: str, client: docker.DockerClient):
        self.client = client
        project = copy_project(COPIED, copy_program(scratch / "mvs"))
        shutil.copytree(ROOT / "app", project / "app", ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
        (project / "venv").symlink_to(ROOT / "venv")  # the policy pack runs in the project's venv
        self.project = project
        self.cli = PulumiCLI(project, scratch)
        self.cli.env["DOCKER_HOST"] = docker_host
        self.outputs: list[str] = []  # everything the commands printed, for the secrets test

    def start_clean(self) -> None:
        """From none of the stack's parts on the engine, on free ports, with the known secrets."""
        self.remove_everything()
        self.ports = self.use_free_ports()
        self.set_secrets()

    def finish(self) -> None:
        """Destroy with the data, and remove whatever a failed test left."""
        self.mvs("destroy", STACK, "--yes", "--delete-data")
        self.remove_everything()

    # -- the declaration

    def declaration(self) -> dict[str, Any]:
        return yaml.safe_load((self.project / FILE).read_text())["config"]["mvs:environment"]

    def declare(self, environment: dict[str, Any]) -> None:
        path = self.project / FILE
        document = yaml.safe_load(path.read_text())
        document["config"]["mvs:environment"] = environment
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def use_free_ports(self) -> dict[str, int]:
        """Every published port moved to a free one (the machine may hold 3000, 5432 or 8080)."""
        environment = self.declaration()
        ports = {"database": stable_free_port()}
        environment["database"]["host_port"] = ports["database"]
        for name, service in environment["services"].items():
            ports[name] = service["host_port"] = stable_free_port()
        self.declare(environment)
        return ports

    def set_secrets(self) -> None:
        self.cli.ok("stack", "init", STACK)
        for name, value in SECRETS.items():
            self.cli.ok("config", "set", "--secret", "--stack", STACK, f"mvs:{name}", input_text=value)

    # -- commands

    def mvs(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "mvsctl", *args],
            cwd=self.project,
            env=self.cli.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        """`./mvs ARGS` in a session of its own (so a test can kill it with everything it started)."""
        return subprocess.Popen(
            [sys.executable, "-m", "mvsctl", *args],
            cwd=self.project,
            env=self.cli.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def changes(self) -> list[tuple[str, str]]:
        """(op, resource name) of what `up` would change, the engine read first."""
        preview = self.cli.ok("preview", "--stack", STACK, "--refresh", "--json")
        steps = json.loads(preview)["steps"]
        return sorted((s["op"], s["urn"].rsplit("::", 1)[-1]) for s in steps if s["op"] not in ("same", "refresh"))

    # -- the engine

    def containers(self) -> dict[str, Container]:
        """The stack's containers by service (`mvs-dev-backend` -> `backend`)."""
        found = self.client.containers.list(all=True, filters={"label": LABEL})
        return {c.name.removeprefix(f"mvs-{STACK}-"): c for c in found}

    def ids(self) -> dict[str, str]:
        return {name: c.id for name, c in self.containers().items()}

    def counts(self) -> Counter:
        """How many containers, networks and volumes carry the stack's label, by kind and name."""
        found: Counter = Counter()
        for c in self.client.containers.list(all=True, filters={"label": LABEL}):
            found[f"container {c.name}"] += 1
        for n in self.client.networks.list(filters={"label": LABEL}):
            found[f"network {n.name}"] += 1
        for v in self.client.volumes.list(filters={"label": LABEL}):
            found[f"volume {v.name}"] += 1
        return found

    def health(self) -> dict[str, str]:
        health = {}
        for name, container in self.containers().items():
            state = container.attrs["State"]
            health[name] = (state.get("Health") or {}).get("Status", state["Status"])
        return health

    def remove_everything(self) -> None:
        for container in self.client.containers.list(all=True, filters={"label": LABEL}):
            container.remove(force=True)
        for network in self.client.networks.list(filters={"label": LABEL}):
            network.remove()
        for volume in self.client.volumes.list(filters={"label": LABEL}):
            volume.remove(force=True)
