"""Railway's error messages without the secrets a request carried.

A GraphQL server that rejects an input echoes it back: graphql's own message for a bad variable
ends "found: {...}" with the whole input, variables and all. A service's create and a variables
write carry secret values (`variables` maps), so a rejected one would print them in the error the
operator sees, and in CI logs. Every message from Railway passes through here first: the values
the request held where secrets live are blanked, whatever the message's wording.

Where secrets live is the request's shape, not its wording: any string inside a `variables` map
(Railway's EnvironmentVariables) and any string under a key that names a secret (password, token,
secret, value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

BLANKED = "[redacted]"
BARE_MIN = 4  # a shorter value is blanked only where it is quoted, so "1" does not eat every digit
_SECRET_KEY = re.compile(r"(password|token|secret|value)", re.IGNORECASE)


def _secret_strings(value: Any, secret: bool = False) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            inside = secret or key == "variables" or bool(_SECRET_KEY.search(str(key)))
            yield from _secret_strings(item, inside)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secret_strings(item, secret)
    elif secret and isinstance(value, str) and value:
        yield value


def _forms(value: str) -> Iterator[str]:
    """How an echo may spell the value: quoted as Python or JSON would (escapes and all), and bare."""
    yield repr(value)
    yield json.dumps(value)
    if len(value) >= BARE_MIN:
        yield value


def without_secrets(message: str, request_variables: Mapping[str, Any] | None) -> str:
    """`message` with every secret-bearing value of the request blanked (longest first, so a value
    that contains another is blanked whole)."""
    forms = {form for value in _secret_strings(request_variables or {}) for form in _forms(value)}
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, BLANKED)
    return message
