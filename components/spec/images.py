"""What counts as a pinned image reference.

An environment must run exactly what was reviewed, so an image is accepted only when its
reference cannot move: a content digest (`@sha256:<64 hex>`), or a tag that names one build,
either a version with at least major and minor (`2.0.3`, `15.10-bookworm`, the
way Postgres numbers its releases) or a commit sha (`3f9c2ab`, `sha-3f9c2ab`).
Floating tags (`latest`, `18`, `lts`, `main`) are refused.
"""

from __future__ import annotations

import re

IMAGE_RULE = (
    "an image pinned by digest (name@sha256:<64 hex>) or by an immutable tag "
    "(a version with at least major.minor such as 2.0.3 or 15.10-alpine, or a commit sha); never latest"
)

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_REGISTRY = re.compile(r"^[a-zA-Z0-9.-]+(?::[0-9]+)?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_FULL_VERSION = re.compile(r"^v?\d+\.\d+(?:\.\d+)?(?:[-+_][A-Za-z0-9.+_-]+)?$")
_COMMIT_SHA = re.compile(r"^(?:sha-|git-)?[0-9a-f]{7,40}$")


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """Split `registry/name:tag@digest` into (name with registry, tag, digest)."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    return ref, tag, digest


def image_problem(ref: str) -> str | None:
    """Why `ref` is not a pinned image reference, or None when it is."""
    name, tag, digest = split_image(ref)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        if not _REGISTRY.match(parts[0]):
            return "the registry host is malformed"
        parts = parts[1:]
    if not parts or not _NAME.match("/".join(parts)):
        return "the image name is malformed (lowercase letters, digits, '.', '_', '-' and '/')"
    if digest is not None:
        return None if _DIGEST.match(digest) else "the digest is not sha256:<64 lowercase hex>"
    if tag is None:
        return "it has no tag or digest, so it means :latest"
    if not _TAG.match(tag):
        return "the tag is malformed"
    if tag == "latest":
        return "the tag latest moves with every push"
    if not (_FULL_VERSION.match(tag) or _COMMIT_SHA.match(tag)):
        return f"the tag {tag!r} is not immutable (it can be re-pointed at a new build)"
    return None


def tag_major(ref: str) -> int | None:
    """The leading major version of a tag (`15` for `postgres:15.10-alpine`), if it has one."""
    _, tag, _ = split_image(ref)
    match = re.match(r"^v?(\d+)\.", tag or "")
    return int(match.group(1)) if match else None
