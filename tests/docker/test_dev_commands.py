"""`./mvs up dev` and `./mvs destroy dev` around the real engine: what they check before Pulumi
runs, and what a destroy does with the data (isolated Pulumi state; the real ./mvs)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.local.volumes import backup_volume_name, data_volume_name
from tests.engine.cli import ROOT, PulumiCLI, copy_program


@dataclass
class Project:
    """A copy of the project with a state backend of its own: `pulumi stack init` writes into
    the stack file, which must never be the repository's."""

    cli: PulumiCLI
    state: Path

    def mvs(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mvsctl", *args],
            cwd=self.cli.workdir,
            env=self.cli.env,
            text=True,
            capture_output=True,
            timeout=600,
        )


@pytest.fixture
def project(tmp_path: Path, docker_host: str) -> Project:
    copy = copy_program(tmp_path / "mvs")
    shutil.copytree(ROOT / "mvsctl", copy / "mvsctl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "railway_emulator", copy / "railway_emulator", ignore=shutil.ignore_patterns("__pycache__"))
    cli = PulumiCLI(copy, tmp_path)
    cli.env["DOCKER_HOST"] = docker_host
    return Project(cli, tmp_path / "state")


@pytest.fixture
def dev_volumes(engine):
    """The dev stack's two data volumes, as an earlier `up` left them, with a file in each."""
    names = [data_volume_name("dev"), backup_volume_name("dev")]
    for name in names:
        engine.volumes.create(name, labels={"com.mvs.stack": "dev"})
    yield names
    for name in names:
        for volume in engine.volumes.list(filters={"name": name}):
            volume.remove(force=True)


def volume_names(engine) -> set[str]:
    return {v.name for v in engine.volumes.list()}


def test_up_refuses_a_port_another_program_holds_before_creating_anything(project):
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The backend's port in stacks/Pulumi.dev.yaml. If something on this machine holds it
        # already, the refusal must name it just the same.
        with contextlib.suppress(OSError):
            holder.bind(("127.0.0.1", 3000))
            holder.listen(1)
        done = project.mvs("up", "dev", "--yes")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "port 3000 on 127.0.0.1 is in use" in lines[0]
    assert "stacks/Pulumi.dev.yaml" in lines[0] and "mvs:environment.services.backend.port" in lines[0]
    assert list(project.state.iterdir()) == [], "no stack may be created"


def test_destroy_keeps_the_data_and_says_where_it_is(project, engine, dev_volumes):
    project.cli.ok("stack", "init", "dev")
    done = project.mvs("destroy", "dev", "--yes")
    assert done.returncode == 0, done.stderr
    for name in dev_volumes:
        assert name in volume_names(engine)
        assert f"kept docker volume {name}" in done.stdout
    assert "--delete-data" in done.stdout


def test_destroy_with_delete_data_removes_the_volumes(project, engine, dev_volumes):
    project.cli.ok("stack", "init", "dev")
    done = project.mvs("destroy", "dev", "--yes", "--delete-data")
    assert done.returncode == 0, done.stderr
    assert not set(dev_volumes) & volume_names(engine)
    assert all(f"deleted docker volume {name}" in done.stdout for name in dev_volumes)


def test_a_failed_destroy_never_deletes_data(project, engine, dev_volumes):
    done = project.mvs("destroy", "dev", "--yes", "--delete-data")  # no such stack: pulumi fails
    assert done.returncode != 0
    assert set(dev_volumes) <= volume_names(engine)
    assert "no stack named 'dev'" in done.stderr and "Traceback" not in done.stderr


def test_delete_data_is_refused_on_a_railway_stack(project):
    done = project.mvs("destroy", "staging", "--yes", "--delete-data")
    assert done.returncode == 2
    assert "--delete-data is for the local target" in done.stderr and "Nothing was changed" in done.stderr


def test_delete_data_keeps_a_volume_something_else_uses_and_says_what_to_do(project, engine, ci_bases, dev_volumes):
    project.cli.ok("stack", "init", "dev")
    holder = engine.containers.create(
        ci_bases["debian"], ["true"], volumes={dev_volumes[0]: {"bind": "/data"}}, labels={"com.mvs.test": "holder"}
    )
    try:
        done = project.mvs("destroy", "dev", "--yes", "--delete-data")
    finally:
        holder.remove(force=True)
    assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert dev_volumes[0] in volume_names(engine) and dev_volumes[1] not in volume_names(engine)
    (line,) = [x for x in done.stdout.splitlines() if dev_volumes[0] in x]
    assert "the engine refused to delete it" in line and f"--filter volume={dev_volumes[0]}" in line
