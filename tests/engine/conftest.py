"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import pytest

from .cli import tools_available
from .world import RailwayWorld


@pytest.fixture
def world(tmp_path, s3_endpoint):
    assert tools_available(), "the Pulumi tools are missing: run ./mvs setup (the test command does)"
    world = RailwayWorld(tmp_path, s3_endpoint)
    yield world
    world.server.stop()
