"""Before `./mvs up dev`: which official images the stack needs, which cannot be had, and the switch
to `base: debian` written into the stack file. (On a real engine with no registry:
tests/docker/test_dev_fresh_machine.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import yaml
from docker.errors import APIError, ImageNotFound

from components.spec import parse_environment
from mvsctl import dev_base, stack_edit
from tests.components.conftest import dev_raw

ROOT = Path(__file__).resolve().parents[2]
FILE = "stacks/Pulumi.dev.yaml"


def test_the_official_images_are_postgres_and_the_dockerfiles_own_bases():
    spec = parse_environment(dev_raw(), FILE)
    assert dev_base.official_images(spec) == [
        "postgres:15.10-alpine",
        dev_base.default_base(ROOT / "app" / "backend" / "Dockerfile"),
        dev_base.default_base(ROOT / "backup_runner" / "Dockerfile"),
    ]
    assert dev_base.official_images(spec)[1].startswith("node:18")


def test_a_declared_base_image_or_base_debian_needs_no_official_one():
    raw = dev_raw()
    for service in raw["services"].values():
        service["build"]["args"] = {"BASE_IMAGE": "registry.internal/node:18"}
    assert dev_base.official_images(parse_environment(raw, FILE)) == [
        "postgres:15.10-alpine",
        dev_base.default_base(ROOT / "backup_runner" / "Dockerfile"),
    ]
    raw["base"] = "debian"
    assert dev_base.official_images(parse_environment(raw, FILE)) == []


class Engine:
    """The two questions asked of the engine: is the image here, and does its registry answer."""

    def __init__(self, here: set[str], registry_answers: bool):
        def get(name):
            if name not in here:
                raise ImageNotFound(name)

        def get_registry_data(name):
            if not registry_answers:
                raise APIError("500", explanation=f'Get "https://registry-1.docker.io/v2/": lookup failed ({name})')

        self.images = SimpleNamespace(get=get, get_registry_data=get_registry_data)


def test_an_image_neither_on_the_engine_nor_at_its_registry_cannot_be_had():
    names = ["postgres:15.10-alpine", "node:18.20.4-bookworm-slim"]
    missing = dev_base.cannot_have(Engine({"postgres:15.10-alpine"}, registry_answers=False), names)
    assert list(missing) == ["node:18.20.4-bookworm-slim"]
    assert missing["node:18.20.4-bookworm-slim"].startswith('Get "https://registry-1.docker.io/v2/": lookup failed')
    assert dev_base.cannot_have(Engine(set(), registry_answers=True), names) == {}


def test_without_yes_nothing_is_switched_and_with_monitoring_it_is_not_offered(capsys):
    said: list[str] = []
    spec = parse_environment(dev_raw(), FILE)
    assert not dev_base.check(Engine(set(), registry_answers=False), "dev", spec, unattended=False, say=said.append)
    assert "cannot be had here: postgres:15.10-alpine" in said[0] and "base: debian" in said[0]
    assert "Nothing was changed" in said[-1] and "--yes" in said[-1]
    raw = dev_raw()
    raw["monitoring"] = {"enabled": True}
    said.clear()
    monitored = parse_environment(raw, FILE)
    assert not dev_base.check(Engine(set(), registry_answers=False), "dev", monitored, unattended=True, say=said.append)
    assert "monitoring.enabled: false" in said[0] and "Nothing was changed" in said[0]


def test_the_switch_writes_base_debian_beside_target_and_keeps_the_file_as_it_was(tmp_path):
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    before = (tmp_path / FILE).read_text()
    change = stack_edit.edit_stack_file("dev", stack_edit.set_base("debian"), project=tmp_path)
    after = (tmp_path / FILE).read_text()
    added = [line for line in change.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ["+    base: debian"] and "\n-    " not in change
    environment = yaml.safe_load(after)["config"]["mvs:environment"]
    assert list(environment)[:2] == ["target", "base"] and environment["base"] == "debian"
    assert [line for line in before.splitlines() if line.startswith("#")] == [
        line for line in after.splitlines() if line.startswith("#")
    ]
