"""Provider errors as the operator reads them: one line, and a command in it that can be pasted as
it is (the stack named from the request's URN, never a literal `<stack>`)."""

from __future__ import annotations

import traceback

import grpc
import pytest

from components.errors import RailwayUnavailable
from components.provider_process import _OneLineTracebacks, one_line
from components.railway.providers.deployment import DeploymentFailed
from components.urns import stack_of


class Request:
    def __init__(self, urn: str):
        self.urn = urn


class Aborted(Exception):
    pass


class Context:
    """What the gRPC servicer gets: abort() raises with the details it was given."""

    def abort(self, _code: grpc.StatusCode, details: str):
        raise Aborted(details)


def host_handler(fn):
    """The shape of pulumi.dynamic's `_abort_with_traceback`, with our traceback stand-in."""
    tracebacks = _OneLineTracebacks()

    def wrapper(self, request, context):
        try:
            return fn(self, request, context)
        except Exception:
            context.abort(grpc.StatusCode.UNKNOWN, tracebacks.format_exc())

    return wrapper


def test_the_stack_of_a_urn():
    assert stack_of("urn:pulumi:staging::mvs::pulumi-python:dynamic/railway:Deployment::staging-backend") == "staging"
    assert stack_of("") == "" and stack_of("not a urn") == ""


def test_a_failure_in_a_request_names_the_stack_of_that_request():
    class Servicer:
        @host_handler
        def Create(self, request, context):
            raise DeploymentFailed("ended FAILED: run `./mvs rollback <stack>`; `./mvs logs <stack> backend`")

    with pytest.raises(Aborted) as aborted:
        Servicer().Create(Request("urn:pulumi:prod::mvs::t::prod-backend"), Context())
    assert str(aborted.value) == "ended FAILED: run `./mvs rollback prod`; `./mvs logs prod backend`"


def test_without_a_urn_the_placeholder_stays_and_the_next_step_is_added():
    assert one_line(RailwayUnavailable("no answer", "serviceCreate"), None).endswith(
        "run `./mvs up <stack>` again (what was done is kept)"
    )
    assert "./mvs up dev again" in one_line(RailwayUnavailable("no answer", "serviceCreate"), "dev").replace("`", "")
    assert "Traceback" not in one_line(ValueError("x"))
    assert _OneLineTracebacks().format_stack is traceback.format_stack, "the rest of the module is the module's"
