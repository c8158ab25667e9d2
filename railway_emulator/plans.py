"""Railway's plans: the one place the emulator keeps what depends on the account's plan.

- `retention_hours`: how long Railway keeps a removed deployment's image, so how long it can be
  rolled back (docs, pricing/plans: Free/Trial 24h, Hobby 72h, Pro 120h, Enterprise 360h);
- `requests_per_hour`: the public API's hourly rate limit (docs: Free 100, Hobby 1000, Pro 10000,
  Enterprise custom). None where the docs give no number (Trial, Enterprise): choosing that plan
  leaves the rate limit as it is configured.

The plan is a setting of the model (state["settings"]["plan"], default HOBBY), chosen with
POST /_emulator/plan {"plan": "PRO"}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_PLAN = "HOBBY"


@dataclass(frozen=True)
class Plan:
    name: str
    retention_hours: int
    requests_per_hour: int | None


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("FREE", 24, 100),
        Plan("TRIAL", 24, None),
        Plan("HOBBY", 72, 1000),
        Plan("PRO", 120, 10000),
        Plan("ENTERPRISE", 360, None),
    )
}


def plan_named(name: Any) -> Plan:
    """The plan called `name` (any case); ValueError for a name Railway does not have."""
    plan = PLANS.get(str(name).upper()) if isinstance(name, str) else None
    if plan is None:
        raise ValueError(f"unknown plan {name!r}: one of {', '.join(PLANS)}")
    return plan


def current_plan(state: dict[str, Any]) -> Plan:
    return PLANS[(state.get("settings") or {}).get("plan") or DEFAULT_PLAN]
