"""The services this provider process made: Railway answered their `serviceCreate` in this run.

Such a service has no domains: Railway gives a new service none, and nobody outside this run knew
its id before the answer came. So a domain create on it need not read the service's domains
first to adopt one (domains.py; issue 13: 4 `domains` reads of prod's up from empty). That holds
once per domain: the first create of a given domain on the service skips the read, any later one
in this process reads again, since the first may have made it. A service only adopted here (an
earlier run, another stack, a create whose answer was lost) is never recorded: its domains are read.

Its variables in its environment are the ones its `serviceCreate` carried (service.py; the way
Railway's own CLI adds a service with variables). The Variables create that follows writes only
what differs from those (variables.py; issue 13: 5 `variableCollectionUpsert`s of prod's up from
empty become none). It is told them once: a second Variables create on the service in this process
writes them all again, as if nothing were known.

One engine run has one provider process. Anywhere else (tests, tools importing a provider) nothing
is recorded and every domain create reads first.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

from ...provider_process import in_provider_host


class MadeHere:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: set[str] = set()
        self._claimed: set[tuple[str, Hashable]] = set()
        self._variables: dict[str, dict[str, str]] = {}

    def made(self, service_id: str, variables: dict[str, str] | None = None) -> None:
        """Railway answered this process's `serviceCreate` with this service, which carried these
        variables (none: the service has none)."""
        with self._lock:
            self._services.add(service_id)
            self._variables[service_id] = dict(variables or {})

    def variables(self, service_id: str) -> dict[str, str] | None:
        """The variables the service was made with, once: None when it was not made here or
        someone asked before."""
        with self._lock:
            return self._variables.pop(service_id, None)

    def first(self, service_id: str, what: Hashable) -> bool:
        """True when the service was made here and nothing here asked before for `what` on it (the
        question counts as the asking: a second one is answered False)."""
        with self._lock:
            if service_id not in self._services or (service_id, what) in self._claimed:
                return False
            self._claimed.add((service_id, what))
            return True


MADE_HERE: MadeHere | None = MadeHere() if in_provider_host() else None


def made(service_id: str, variables: dict[str, str] | None = None) -> None:
    if MADE_HERE is not None:
        MADE_HERE.made(service_id, variables)


def variables_made_with(service_id: str) -> dict[str, str] | None:
    """The variables a service made here holds in its environment since its create, told once;
    None when that is not known (not made here, asked before, or outside the provider process)."""
    return MADE_HERE.variables(service_id) if MADE_HERE is not None else None


def has_none_yet(service_id: str, what: Hashable) -> bool:
    """Whether the service certainly has no `what` yet (a domain): made here, and no create of that
    `what` on it sent here before. False outside the provider process."""
    return MADE_HERE is not None and MADE_HERE.first(service_id, what)
