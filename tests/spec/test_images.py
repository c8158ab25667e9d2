"""image_problem: which image references count as pinned."""

from __future__ import annotations

import pytest

from components.spec import image_problem
from components.spec.images import tag_major

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    "ref",
    [
        "ghcr.io/a/b:2.0.3",
        "postgres:15.10-alpine",
        "postgres:15.10-bookworm",
        f"name@{DIGEST}",
        f"ghcr.io/mvs-app/backend:2.0.0@{DIGEST}",
        "localhost:5000/x:1.2.3",
        "registry.example.com:443/team/app:v1.4",
        "repo:3f9c2ab",
        "repo:sha-3f9c2ab",
    ],
)
def test_pinned_references_are_accepted(ref: str) -> None:
    assert image_problem(ref) is None


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("x", "no tag or digest"),
        ("ghcr.io/a/b", "no tag or digest"),
        ("x:latest", "latest"),
        ("x:18", "not immutable"),
        ("node:18", "not immutable"),
        ("x:lts", "not immutable"),
        ("x:main", "not immutable"),
        ("X:1.2.3", "image name is malformed"),
        ("ghcr.io/Team/app:1.2.3", "image name is malformed"),
        ("x@sha256:short", "digest"),
        ("x@sha256:" + "A" * 64, "digest"),
        ("x:.bad", "tag is malformed"),
    ],
)
def test_floating_or_malformed_references_are_refused(ref: str, reason: str) -> None:
    problem = image_problem(ref)

    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    ("ref", "major"),
    [("postgres:15.10-alpine", 15), ("postgres:16.4", 16), ("localhost:5000/postgres:v17.1", 17), ("postgres", None)],
)
def test_tag_major(ref: str, major: int | None) -> None:
    assert tag_major(ref) == major
