"""`./mvs up dev` and `./mvs destroy dev` around the real engine: what they check before Pulumi
runs, and what a destroy does with the data (isolated Pulumi state; the real ./mvs)."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import pytest

from components.local.volumes import backup_volume_name, data_volume_name
from tests.ops.test_main_job import isolated_env, run_mvs


@pytest.fixture
def env(tmp_path: Path, docker_host: str) -> dict[str, str]:
    (tmp_path / "state").mkdir()
    return isolated_env(tmp_path, DOCKER_HOST=docker_host)


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


def test_up_refuses_a_port_another_program_holds_before_creating_anything(env, tmp_path):
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # The backend's port in stacks/Pulumi.dev.yaml. If something on this machine holds it
        # already, the refusal must name it just the same.
        with contextlib.suppress(OSError):
            holder.bind(("127.0.0.1", 3000))
            holder.listen(1)
        done = run_mvs("up", "dev", "--yes", env=env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "port 3000 on 127.0.0.1 is in use" in lines[0]
    assert "stacks/Pulumi.dev.yaml" in lines[0] and "mvs:environment.services.backend.port" in lines[0]
    assert list((tmp_path / "state").iterdir()) == [], "no stack may be created"


def test_destroy_keeps_the_data_and_says_where_it_is(env, engine, dev_volumes):
    assert run_mvs("pulumi", "stack", "init", "dev", env=env).returncode == 0
    done = run_mvs("destroy", "dev", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    for name in dev_volumes:
        assert name in volume_names(engine)
        assert f"kept docker volume {name}" in done.stdout
    assert "--delete-data" in done.stdout


def test_destroy_with_delete_data_removes_the_volumes(env, engine, dev_volumes):
    assert run_mvs("pulumi", "stack", "init", "dev", env=env).returncode == 0
    done = run_mvs("destroy", "dev", "--yes", "--delete-data", env=env)
    assert done.returncode == 0, done.stderr
    assert not set(dev_volumes) & volume_names(engine)
    assert all(f"deleted docker volume {name}" in done.stdout for name in dev_volumes)


def test_a_failed_destroy_never_deletes_data(env, engine, dev_volumes):
    done = run_mvs("destroy", "dev", "--yes", "--delete-data", env=env)  # no such stack: pulumi fails
    assert done.returncode != 0
    assert set(dev_volumes) <= volume_names(engine)
    assert "no stack named 'dev'" in done.stderr and "Traceback" not in done.stderr


def test_delete_data_is_refused_on_a_railway_stack(env):
    done = run_mvs("destroy", "staging", "--yes", "--delete-data", env=env)
    assert done.returncode == 2
    assert "--delete-data is for the local target" in done.stderr and "Nothing was changed" in done.stderr
