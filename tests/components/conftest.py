"""Shared fixtures for component tests under Pulumi mocks."""

from __future__ import annotations

import copy
from pathlib import Path

import pulumi
import pytest
import yaml

from tests.components.recording import RecordingMocks, RecordingMonitor

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"mvs:dbPassword": "pw-Never-Shown-1", "mvs:sessionSecret": "session-Never-Shown-2"}
DOCKER = "pulumi-python:dynamic/docker:"
CONTAINER = DOCKER + "Container"
IMAGE = DOCKER + "Image"
VOLUME = DOCKER + "Volume"
NETWORK = DOCKER + "Network"


def dev_raw() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "stacks/Pulumi.dev.yaml").read_text())["config"]["mvs:environment"])


@pytest.fixture
def monitor():
    pulumi.runtime.set_all_config(SECRETS, list(SECRETS))
    monitor = RecordingMonitor(RecordingMocks())
    pulumi.runtime.set_mocks(RecordingMocks(), project="mvs", stack="dev", preview=False, monitor=monitor)
    yield monitor
    pulumi.runtime.set_all_config({}, [])
