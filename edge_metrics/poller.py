"""The polling loop: one request per poll, when the budget allows, and what a failure costs.

Time comes in through `clock` and `sleep` (the CLI passes time.time and a stop event's wait), so a
test can run a simulated hour in an instant. The loop never sends a request before
`Budget.allowed_at`, and after a failure not before its backoff either (budget.py); what it shows
stays as the last good poll left it, with `railway_edge_data_age_seconds` saying how old.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .api import Answer, RailwayApi
from .budget import Budget
from .metrics import ExporterMetrics
from .query import OPERATION_NAME, AnswerError, document, read_answer, variables
from .settings import Settings
from .window import STEP_SECONDS, Span, iso


def stderr_line(message: str) -> None:
    print(f"edge-metrics: {message}", file=sys.stderr, flush=True)


class Poller:
    def __init__(
        self,
        settings: Settings,
        api: RailwayApi,
        budget: Budget,
        metrics: ExporterMetrics,
        window: int,
        clock: Callable[[], float],
        sleep: Callable[[float], object],
        log: Callable[[str], None] = stderr_line,
    ):
        self.settings, self.api, self.budget, self.metrics = settings, api, budget, metrics
        self.window, self.clock, self.sleep, self.log = window, clock, sleep, log
        self.names = list(settings.services)
        self.query = document(len(self.names))
        self.failures = 0
        self.next_poll_at = clock()
        self.last_end: float | None = None

    def run(self, stopped: Callable[[], bool]) -> None:
        while not stopped():
            wait = self.next_poll_at - self.clock()
            if wait > 0:
                self.sleep(wait)
                continue
            self.poll()

    def poll(self) -> Answer:
        """One request, now; schedules the next."""
        now = self.clock()
        self.budget.spend(now)
        span = Span.at(now, self.window, self.last_end)
        values = variables(
            [self.settings.services[name] for name in self.names],
            self.settings.environment_id,
            iso(span.start),
            iso(span.end),
            STEP_SECONDS,
        )
        answer = self.api.post(self.query, values, OPERATION_NAME)
        if answer.outcome == "ok":
            try:
                self.metrics.show(read_answer(answer.data or {}, self.names), span, now)
            except AnswerError as error:
                answer = Answer("http_error", message=str(error))
        self.metrics.api_requests.labels(answer.outcome).inc()
        done = self.clock()
        if answer.outcome == "ok":
            if self.failures:
                self.log(f"Railway answers again after {self.failures} failed poll(s)")
            self.failures, self.last_end = 0, span.end
            self.next_poll_at = self.budget.allowed_at(done)
            return answer
        if answer.outcome == "rate_limited":
            wait = max(answer.retry_after or 0.0, self.budget.interval)
            reason = f"Retry-After {answer.retry_after:g} s" if answer.retry_after is not None else "no Retry-After"
        else:
            self.failures += 1
            wait = self.budget.backoff(self.failures)
            reason = f"failure {self.failures} in a row"
        self.next_poll_at = max(self.budget.allowed_at(done), done + wait)
        age = self.metrics.data_age()
        self.log(
            f"poll failed ({answer.outcome}: {answer.message or 'no detail'}); next in {self.next_poll_at - done:.0f} s"
            f" ({reason}); showing values {age:.0f} s old"
        )
        return answer
