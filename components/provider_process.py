"""What this project adds to the provider processes Pulumi starts (`python -m pulumi.dynamic`).

Pulumi's Python provider host has two gaps. It has no health check: when the `pulumi` process is
killed (SIGKILL, a closed CI runner), nothing stops it and it waits forever; that one is closed
from its very start by tools/provider_host_watch.py, which tools/setup installs into the venv.
The other is closed from inside once one of this project's providers is loaded into it
(`prepare()`, called when a provider module is imported):

- It reports every provider error with a Python traceback (`_abort_with_traceback` formats
  `traceback.format_exc()`). The host's reference to the `traceback` module is replaced by one
  that renders this project's own errors as one line: what failed, Railway's message and the
  next step. The engine already names the resource above it. Anything else keeps its traceback
  only with MVS_DEBUG=1, since it is a bug to report.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback

from .errors import (
    MvsError,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutcomeUnknown,
    RailwayRateLimited,
    RailwayRequestInvalid,
    RailwayUnavailable,
)
from .urns import stack_of

_started = threading.Event()


NEXT_STEPS = (
    (RailwayUnavailable, "Railway did not answer in time; run `./mvs up <stack>` again (what was done is kept)"),
    (RailwayRateLimited, "the plan's request limit is spent; wait for its window to pass, then run `./mvs up <stack>`"),
    (RailwayOutcomeUnknown, "run `./mvs up <stack>` again: what the request made is adopted, not made twice"),
    (RailwayNotFound, "it was removed outside this stack: run `./mvs pulumi refresh --stack <stack>`, then up"),
    (RailwayRequestInvalid, "this is a bug in mvs-infra: please report it with this line"),
    (RailwayNotAuthorized, "check the Railway token (RAILWAY_API_TOKEN, RAILWAY_TOKEN or railway:token)"),
)


def one_line(error: BaseException, stack: str | None = None) -> str:
    """How a provider error reaches the `pulumi` output; `<stack>` in it becomes the stack's name
    when it is known (the request's URN names it), so a command can be pasted as it is."""
    text = _one_line(error)
    return text.replace("<stack>", stack) if stack else text


def _one_line(error: BaseException) -> str:
    if not isinstance(error, MvsError):
        if os.environ.get("MVS_DEBUG"):
            return traceback.format_exc()
        return (
            f"{type(error).__name__}: {error} (a bug in mvs-infra's providers: run again with MVS_DEBUG=1 "
            "for the details, and please report it)"
        )
    message = str(error).strip()
    says_what_to_do = "./mvs" in message or "check " in message.lower()
    hint = next((step for kind, step in NEXT_STEPS if isinstance(error, kind)), "")
    return f"{message.rstrip('.')}. Next: {hint}" if hint and not says_what_to_do else message


class _OneLineTracebacks:
    """Stands in for the `traceback` module inside the provider host (see the module docstring)."""

    def __getattr__(self, name: str):
        return getattr(traceback, name)

    def format_exc(self, *args, **kwargs) -> str:
        error = sys.exc_info()[1]
        if error is None:
            return traceback.format_exc(*args, **kwargs)
        # The host calls this from its handler of one gRPC request (`request` in the caller's
        # frame); that request's URN names the stack.
        request = sys._getframe(1).f_locals.get("request")
        return one_line(error, stack_of(str(getattr(request, "urn", "") or "")) or None)


def in_provider_host() -> bool:
    """Whether this process is a dynamic provider host Pulumi started for one engine run."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "pulumi.dynamic.__main__"


def prepare() -> None:
    """Once per process, if it is a dynamic provider host (not the program, not tests): make its
    errors one line."""
    host = sys.modules.get("__main__")
    if not in_provider_host() or _started.is_set():
        return
    _started.set()
    if getattr(host, "traceback", None) is traceback:
        host.traceback = _OneLineTracebacks()
