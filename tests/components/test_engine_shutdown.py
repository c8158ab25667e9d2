"""The program ends quietly when the engine stopped first, and reports every other error."""

from __future__ import annotations

import sys

import pulumi

from components import engine_shutdown


class LostRpc(Exception):
    """Shaped like grpc's _InactiveRpcError: the reason is in details()."""

    def details(self) -> str:
        return "resource monitor shut down while sending resource registration"


def raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 -- chained as the SDK's handler chains it
    except BaseException as error:
        return error


def installed(monkeypatch) -> list:
    reported: list = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, error, trace: reported.append(error))
    engine_shutdown.install()
    return reported


def test_an_error_raised_while_handling_the_engines_shutdown_is_not_reported(monkeypatch):
    reported = installed(monkeypatch)
    gone = pulumi.RunError("Resource monitor has terminated, shutting down")
    error = raised_while_handling(gone, RuntimeError("logging to the engine failed"))
    sys.excepthook(type(error), error, None)
    assert reported == []


def test_a_lost_registration_is_not_reported(monkeypatch):
    reported = installed(monkeypatch)
    error = LostRpc()
    sys.excepthook(type(error), error, None)
    assert reported == []


def test_the_engines_cancel_is_not_reported(monkeypatch):
    """The engine cancels the program with SIGINT when it stops first: KeyboardInterrupt, raised
    wherever the runner was (seen in CI: waiting for its threads at exit)."""
    reported = installed(monkeypatch)
    error = KeyboardInterrupt()
    sys.excepthook(type(error), error, None)
    assert reported == []


def test_any_other_error_keeps_its_report(monkeypatch):
    reported = installed(monkeypatch)
    error = raised_while_handling(KeyError("x"), ValueError("a bug to see"))
    sys.excepthook(type(error), error, None)
    assert reported == [error]
