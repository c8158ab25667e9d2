"""Fixtures: the raw `mvs:environment` mapping of each default stack, as a fresh deep copy per use."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spec import CONFIG_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACKS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Stack:
    """One default stack: its name, the file path given to parse_environment, and its raw declaration."""

    name: str
    file: str
    raw: Any


def stack_file(name: str) -> str:
    """The stack file's path relative to the repository root, as a user would see it."""
    return f"stacks/Pulumi.{name}.yaml"


@functools.cache
def _raw_declaration(name: str) -> Any:
    """Read once; callers only ever get deep copies, so no test can leak a mutation into another."""
    with open(REPO_ROOT / stack_file(name), encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return document["config"][CONFIG_KEY]


def load_stack(name: str) -> Stack:
    return Stack(name, stack_file(name), copy.deepcopy(_raw_declaration(name)))


@pytest.fixture(name="load_stack")
def load_stack_fixture() -> Callable[[str], Stack]:
    """A function name -> Stack with a fresh deep copy of that stack's `mvs:environment` mapping."""
    return load_stack


@pytest.fixture(params=DEFAULT_STACKS)
def default_stack(request: pytest.FixtureRequest) -> Stack:
    """Each default stack in turn."""
    return load_stack(request.param)
