"""One `project` read shared by the creates that look into one project at the same time.

A service create first reads its project: a service of its name there is adopted, not made twice,
and the project's environments say where Railway put the new service's instances (service.py). The
environment create looks for its environment by name in the same read. The engine creates a
stack's services concurrently, in one provider process: `ProjectReads` makes that one request
(issue 13: 5 `project` reads and 1 `environments` read of prod's up from empty become one).

When a read may serve a create is the whole point, so it is exact. A read is stale for what a
write may have changed once that write has ended after the read began: Railway then may or may not
have applied it when it answered. A write marks, when it ends, every read there is:
- sent inside `writing(project_id, name)` (a service create's own writes: its `serviceCreate`, the
  patch that adds its instance here, the deletes of the instances Railway made elsewhere), it may
  have changed only the service of that name in that project. Those reads stay good for every other
  service: making `backend` does not make `frontend`, nor any environment. But a read that began
  before `backend` was made may miss it, so it never decides to create `backend` (nor to adopt it
  after a lost answer: that lookup is then a read of its own, begun after the lost `serviceCreate`).
- any other write (an environment made, a service renamed or deleted) may have changed anything:
  every read is stale.
A create takes a read that is not stale for its service when it is handed over, else it reads
again. What it then decides is as safe as with a read of its own: the moment between the answer
and the create is the same.

One engine run has one provider process, configured once (one endpoint, one token): it keeps one
`ProjectReads`, and base.py tells it of every write. Anywhere else (tests, tools importing a
provider) every create reads its own.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ...provider_process import in_provider_host

Key = tuple[str, str]  # (endpoint, project id)


@dataclass(eq=False)
class _Read:
    project_id: str
    ready: threading.Event = field(default_factory=threading.Event)
    answer: dict[str, Any] | None = None
    failed: bool = False
    stale: bool = False  # a write that may have changed anything ended since it began
    stale_for: set[str] = field(default_factory=set)  # services a write may have made since it began

    def serves(self, service_name: str | None) -> bool:
        return not self.failed and not self.stale and service_name not in self.stale_for


class ProjectReads:
    """Project reads by key, each shared until a write makes it stale (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[Key, _Read] = {}
        self._every: weakref.WeakSet[_Read] = weakref.WeakSet()  # every read someone may still hand over
        self._writing = threading.local()

    def get(self, key: Key, fetch: Callable[[], dict[str, Any]], service_name: str | None = None) -> dict[str, Any]:
        """The project as a read answers it that no write since may have changed for `service_name`
        (None: for its environments only). `fetch` runs the `project` query; concurrent callers
        wait for the one running rather than send their own."""
        while True:
            with self._lock:
                read = self._current.get(key)
                owner = read is None or not read.serves(service_name)
                if owner:
                    read = self._current[key] = _Read(key[-1])
                    self._every.add(read)
            if owner:
                try:
                    read.answer = fetch()
                except BaseException:
                    read.failed = True
                    with self._lock:
                        if self._current.get(key) is read:
                            del self._current[key]
                    raise
                finally:
                    read.ready.set()
            else:
                read.ready.wait()
            with self._lock:
                if read.serves(service_name):
                    return read.answer
            # it failed, or a write ended while it was read: read again

    def made(self, key: Key, answer: dict[str, Any]) -> None:
        """This process just made the project, and `answer` (its create's, in the shape of the
        `project` query) is what a read begun after that create would say: nobody else knew its id,
        so it holds nothing more. It serves the creates that follow like a read of their own."""
        read = _Read(key[-1], answer=answer)
        read.ready.set()
        with self._lock:
            self._current[key] = read
            self._every.add(read)

    @contextlib.contextmanager
    def writing(self, project_id: str, service_name: str) -> Iterator[None]:
        """The writes this thread sends inside change only the service of that name in that project."""
        self._writing.scope = (project_id, service_name)
        try:
            yield
        finally:
            self._writing.scope = None

    def wrote(self) -> None:
        """A write this thread sent has ended (whatever came of it): mark every read begun before it."""
        scope = getattr(self._writing, "scope", None)
        with self._lock:
            for read in list(self._every):
                if scope is None:
                    read.stale = True
                elif read.project_id == scope[0]:
                    read.stale_for.add(scope[1])
            if scope is None:
                self._current.clear()


PROCESS_PROJECT_READS: ProjectReads | None = ProjectReads() if in_provider_host() else None


def read_project(client, project_id: str, service_name: str | None = None) -> dict[str, Any]:
    """The project (its services and environments) as a read answers it that no write since may
    have changed for `service_name`: this process's shared read when there is one."""

    def fetch() -> dict[str, Any]:
        return client.execute("project", {"id": project_id})["project"]

    if PROCESS_PROJECT_READS is None:
        return fetch()
    return PROCESS_PROJECT_READS.get((client.endpoint, project_id), fetch, service_name)


def made(client, project: dict[str, Any]) -> None:
    """The project this process's `projectCreate` answered with: the run's project read (saves the
    first create's `project` request)."""
    if PROCESS_PROJECT_READS is not None:
        PROCESS_PROJECT_READS.made((client.endpoint, project["id"]), project)


def writing(project_id: str, service_name: str) -> contextlib.AbstractContextManager[None]:
    """Around writes that change only the service of that name in that project."""
    if PROCESS_PROJECT_READS is None:
        return contextlib.nullcontext()
    return PROCESS_PROJECT_READS.writing(project_id, service_name)


# Writes that cannot change what a project read holds (the project's own fields, its environments'
# names and its services' names): a service instance's settings, variables, domains, volumes,
# backup schedules and deployments. They leave every read good; so the order in which the engine
# happens to interleave the creates of one `up` (a settings write of the first service before the
# last service's create) does not cost a read. Any other write (a service or an environment made,
# renamed or deleted, the project changed, an environment patch) marks reads as above.
LEAVES_PROJECT_READS = frozenset(
    {
        "serviceInstanceUpdate",
        "variableCollectionUpsert",
        "variableDelete",
        "serviceDomainCreate",
        "serviceDomainUpdate",
        "serviceDomainDelete",
        "customDomainCreate",
        "customDomainUpdate",
        "customDomainDelete",
        "volumeCreate",
        "volumeDelete",
        "volumeInstanceUpdate",
        "volumeInstanceBackupScheduleUpdate",
        "serviceInstanceDeployV2",
        "deploymentRestart",
        "deploymentRollback",
    }
)


def wrote(operation: str) -> None:
    """Every write this process sends, once it has ended (base.py's client says so)."""
    if PROCESS_PROJECT_READS is not None and operation not in LEAVES_PROJECT_READS:
        PROCESS_PROJECT_READS.wrote()
