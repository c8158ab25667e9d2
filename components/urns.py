"""Reading Pulumi's resource names (URNs), for the policy pack and the provider processes alike."""

from __future__ import annotations


def stack_of(urn: str) -> str:
    """The stack in a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`), or ""."""
    head = urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:") if head.startswith("urn:pulumi:") else ""
