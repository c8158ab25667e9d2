"""How the local components get a declared secret: by name, as a secret Output (the stack's
configuration in production, Pulumi mocks' config in tests). One type, so the components that
need secrets (the stack, its monitoring) take the same source without importing each other."""

from __future__ import annotations

from collections.abc import Callable

import pulumi

# name of a declared secret -> its value as a secret Output
SecretSource = Callable[[str], pulumi.Output[str]]
