"""A resource's properties as plain data, whatever hands them over.

The engine passes properties through pulumi_policy's proxy, which raises when a rule touches a
value a preview cannot know yet (and the SDK then skips the whole rule for that resource); tests
pass plain dicts, where such a value is one of the engine's sentinel strings. Rules read through
here and get UNKNOWN for both, so a preview neither fails a rule nor skips it for what it cannot
see, and every check judges only what is known. `__provider` (a dynamic resource's pickled
provider) is left out; numbers that are whole come back as ints (the engine sends floats).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

PROVIDER_KEY = "__provider"
SENTINELS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)


class _Unknown:
    """A value only the update will know."""

    def __repr__(self) -> str:
        return "<unknown until the update runs>"


UNKNOWN: Any = _Unknown()


def _item(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError:
        return UNKNOWN


def plain(value: Any) -> Any:
    """`value` as dicts, lists and scalars, with UNKNOWN wherever the engine has no value yet."""
    if isinstance(value, str):
        return UNKNOWN if value in SENTINELS else value
    if isinstance(value, Mapping):
        return {key: plain(_item(value, key)) for key in value if key != PROVIDER_KEY}
    if isinstance(value, Sequence):
        return [plain(_item(value, index)) for index in range(len(value))]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def known(*values: Any) -> bool:
    """Whether none of `values` is UNKNOWN."""
    return all(value is not UNKNOWN for value in values)
