"""`./mvs up dev` where no Docker engine answers: on Linux as root it offers the project's own
(tools/docker-engine), says what it installs and where, and goes on only when accepted; anywhere
else it stops with the one line saying what to start. (Accepted, on a real engine:
tests/docker/test_dev_fresh_machine.py.)"""

from __future__ import annotations

import pytest

from mvsctl import __main__ as cli
from mvsctl import docker_engine, own_engine


@pytest.fixture
def no_engine(tmp_path, monkeypatch):
    """Nothing answers at the default socket or at the project engine's."""
    monkeypatch.setattr(docker_engine, "DEFAULT_HOST", f"unix://{tmp_path / 'default.sock'}")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("MVS_DOCKER_RUN", str(tmp_path / "own"))
    monkeypatch.setenv("MVS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(own_engine.sys, "platform", "linux")
    monkeypatch.setattr(own_engine.os, "geteuid", lambda: 0)
    monkeypatch.setattr(own_engine.shutil, "which", lambda name: f"/usr/bin/{name}" if name == "apt-get" else None)
    started: list[str] = []
    monkeypatch.setattr(own_engine, "start", lambda: started.append("start") or "unix:///never")
    return started


def test_without_yes_the_offer_says_what_and_where_and_nothing_is_started(no_engine, tmp_path, capsys):
    assert cli.main(["up", "dev"]) == cli.EXIT_NO_DOCKER
    out = capsys.readouterr().out
    assert f"No Docker engine answers at unix://{tmp_path / 'default.sock'}" in out
    assert "tools/docker-engine" in out and "installs Debian's docker.io and debootstrap with apt-get" in out
    assert f"unix://{tmp_path / 'own' / 'docker.sock'}" in out and str(tmp_path / "cache" / "docker") in out
    assert "./mvs up dev --yes" in out and "Nothing was changed" in out
    assert no_engine == []


def test_with_yes_it_is_started(no_engine, monkeypatch, capsys):
    monkeypatch.setattr(cli.dev_engine, "connected", lambda *a: (_ for _ in ()).throw(SystemExit(7)))
    with pytest.raises(SystemExit) as went_on:
        cli.main(["up", "dev", "--yes"])
    assert went_on.value.code == 7, "after starting the engine, up goes on to ask it about the images"
    assert no_engine == ["start"] and "Starting it (--yes)" in capsys.readouterr().out
    assert cli.os.environ["DOCKER_HOST"] == "unix:///never"  # what Pulumi's providers will use


@pytest.mark.parametrize(
    "unlike",
    [
        ("geteuid", lambda: 1000),  # not root
        ("platform", "darwin"),  # Docker Desktop's machines
        ("DOCKER_HOST", "unix:///nothing/there.sock"),  # the user names an engine of their own
    ],
)
def test_anywhere_else_nothing_is_offered_and_up_stops_with_one_line(no_engine, monkeypatch, capsys, unlike):
    what, value = unlike
    if what == "geteuid":
        monkeypatch.setattr(own_engine.os, "geteuid", value)
    elif what == "platform":
        monkeypatch.setattr(own_engine.sys, "platform", value)
    else:
        monkeypatch.setenv("DOCKER_HOST", value)
    assert cli.main(["up", "dev", "--yes"]) == cli.EXIT_NO_DOCKER
    captured = capsys.readouterr()
    assert "No Docker engine is reachable" in captured.err and "tools/docker-engine" not in captured.out
    assert no_engine == []


def test_a_preview_of_dev_with_no_engine_is_the_same_one_line_not_an_error_per_resource(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'none.sock'}")
    assert cli.main(["preview", "dev"]) == cli.EXIT_NO_DOCKER
    err = capsys.readouterr().err
    assert "No Docker engine is reachable" in err and "No such file or directory" in err


def test_the_providers_say_why_no_engine_answers_in_the_systems_words(tmp_path):
    from components.errors import DockerUnavailable
    from components.local.client import engine

    with pytest.raises(DockerUnavailable) as gone, engine(f"unix://{tmp_path / 'none.sock'}"):
        pass
    assert "(No such file or directory)" in str(gone.value) and "Connection aborted" not in str(gone.value)
