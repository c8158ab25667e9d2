"""Every rule of the pack, by concern. Each rule is a plain function `(args, report_violation)`
that tests call directly; POLICIES wraps them with their names, descriptions and severities."""

from __future__ import annotations

from . import data, images, plaintext, projects, services

POLICIES = [*images.POLICIES, *services.POLICIES, *data.POLICIES, *plaintext.POLICIES, *projects.POLICIES]

_names = [policy.name for policy in POLICIES]
if len(set(_names)) != len(_names):
    raise ValueError(f"two rules share a name: {sorted(n for n in _names if _names.count(n) > 1)}")
