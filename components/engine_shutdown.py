"""The program's side of an engine that stopped first.

When a provider refuses a change in preview (a volume that would shrink, say), the engine reports
that in one line and shuts its resource monitor down, while the program may still be registering
resources that waited on other resources' outputs (the release record waits on every deployment).
Pulumi's Python SDK then fails those registrations, and its runner ends the program with a Python
traceback of the lost connection under the engine's message. That traceback says nothing an
operator can use, and the one line above it already says what to do. `install()` keeps it out:
an uncaught error whose cause is the engine having gone away ends the program quietly; any other
error keeps Python's usual report, since it is a bug to see.

The engine may also cancel the program outright, with SIGINT, when it stops on such an error (or
when the operator presses Ctrl-C, which the `pulumi` CLI reports itself). The KeyboardInterrupt
then surfaces wherever the runner happens to be, such as waiting for its threads at exit, and its
traceback is no more use than the other: it ends the program quietly too.
"""

from __future__ import annotations

import sys
from types import TracebackType

ENGINE_GONE = ("Resource monitor has terminated", "resource monitor shut down", "monitor shut down")


def caused_by_engine_shutdown(error: BaseException | None) -> bool:
    """True when `error`, or an error it was raised while handling, is the engine having gone."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        details = getattr(error, "details", None)
        text = f"{error} {details() if callable(details) else ''}"
        if any(marker in text for marker in ENGINE_GONE):
            return True
        error = error.__cause__ or error.__context__
    return False


def install() -> None:
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if not (issubclass(kind, KeyboardInterrupt) or caused_by_engine_shutdown(error)):
            previous(kind, error, trace)

    sys.excepthook = hook
