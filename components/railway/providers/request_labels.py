"""Which resource each Railway request is for, sent with it as the `x-mvs-resource` header.

Why: the apply-time bench (bench/railway_requests.py) bounds `up` by the requests each resource
has to make one after another along the dependency chain, and the emulator's request log can
only count those per resource if each request says whose it is. The label is the provider's kind
and the resource's natural key (`Deployment:<service id>`, `CustomDomain:<domain>`,
`Project:<name>`), which the bench derives the same way from the stack's state. Railway ignores
headers it does not know, as it does the CLI's `x-source`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

HEADER = "x-mvs-resource"
KEYS = ("domain", "volume_instance_id", "service_id", "name")  # the first one a resource has
METHODS = ("create", "update", "read", "delete")

_current: ContextVar[str | None] = ContextVar("mvs_railway_resource", default=None)


def label(kind: str, props: Mapping[str, Any]) -> str:
    """`<kind>:<key>` for a resource of that kind (the provider's class name without `Provider`)."""
    key = next((props[k] for k in KEYS if props.get(k)), "")
    return f"{kind}:{key}"


def current_headers() -> dict[str, str]:
    """The header for requests made inside a provider method (none elsewhere)."""
    value = _current.get()
    return {HEADER: value} if value else {}


def labelled(kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """The provider method with its requests labelled: its last argument is the resource's props
    (create(props), read(id, props), update(id, olds, news), delete(id, props))."""

    @functools.wraps(method)
    def wrapper(self, *args: Any) -> Any:
        props = args[-1] if args and isinstance(args[-1], Mapping) else {}
        token = _current.set(label(kind, props))
        try:
            return method(self, *args)
        finally:
            _current.reset(token)

    return wrapper
