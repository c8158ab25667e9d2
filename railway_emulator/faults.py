"""Injectable faults: latency, 5xx, 429, timeouts, and failure after the change was committed.

Rules are matched in order for every GraphQL request; a seeded random source makes a run with
probabilistic faults repeatable.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["latency", "error", "rate_limit", "timeout", "fail_after_commit"]
KINDS = ("latency", "error", "rate_limit", "timeout", "fail_after_commit")


@dataclass
class FaultRule:
    kind: FaultKind
    probability: float = 1.0
    operations: list[str] | None = None  # None: every operation
    count: int | None = None  # fire at most this many times
    latency_ms: int = 0
    phase: Literal["response", "request"] = "response"  # latency: hold the answer, or the request before it runs
    status: int = 503
    retry_after: int = 1
    seconds: float = 5.0  # how long a timeout fault holds the request

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        if data.get("kind") not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {data.get('kind')!r}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
        if data.get("phase", "response") not in ("response", "request"):
            raise ValueError(f"fault phase must be response or request, not {data['phase']!r}")
        return cls(**data)


@dataclass
class Faults:
    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    _random: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        parsed = [FaultRule.from_json(rule) for rule in rules]
        with self._lock:
            self.rules = parsed
            self.seed = seed
            self._random = random.Random(seed)

    def pick(self, operation: str | None) -> list[FaultRule]:
        """The rules that fire for this request (latency rules combine with at most one other)."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in self.rules:
                if rule.count is not None and rule.count <= 0:
                    continue
                if rule.operations is not None and operation not in rule.operations:
                    continue
                if self._random.random() >= rule.probability:
                    continue
                if rule.kind != "latency" and any(r.kind != "latency" for r in fired):
                    continue
                if rule.count is not None:
                    rule.count -= 1
                fired.append(rule)
        return fired
