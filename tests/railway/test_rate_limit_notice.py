"""Waits for Railway's rate limit are shown to the operator with their length and the plan's
limit, not logged at INFO where nobody sees them (issue 8, point 17)."""

from __future__ import annotations

import logging

from components.railway.client import RailwayClient, RailwayToken, RetryPolicy, describe_limit

from .conftest import ACCOUNT_TOKEN, EmulatorHandle


def test_a_rate_limit_wait_is_announced_with_its_length_and_the_plans_limit(emulator: EmulatorHandle, caplog):
    emulator.rate_limit(100, 3600)
    emulator.faults({"kind": "rate_limit", "retry_after": 7, "count": 1, "operations": ["me"]})
    notices: list[str] = []
    sleeps: list[float] = []
    client = RailwayClient(
        RailwayToken(ACCOUNT_TOKEN),
        endpoint=emulator.url,
        retry=RetryPolicy(),
        sleep=sleeps.append,
        notice=notices.append,
    )
    with caplog.at_level(logging.INFO, logger="mvs.railway"), client:
        client.execute("me")
    assert sleeps == [7]
    [notice] = notices
    assert notice.startswith("railway: rate limited on me: waiting 7s, as Railway asks; ")
    assert "the token's limit is 100 requests per hour (Railway's Free plan), " in notice
    assert "left; the window resets at " in notice and notice.endswith(" UTC")
    assert [r for r in caplog.records if r.levelno >= logging.INFO] == []


def test_the_limit_in_words_names_the_plan_only_when_it_is_one_of_railways():
    from components.railway.client import RateLimitStatus

    assert describe_limit(RateLimitStatus()) == "Railway did not say the token's limit"
    assert describe_limit(RateLimitStatus(limit=1000, remaining=3)) == (
        "the token's limit is 1000 requests per hour (Railway's Hobby plan), 3 left"
    )
    assert describe_limit(RateLimitStatus(limit=250)) == "the token's limit is 250 requests per hour"
