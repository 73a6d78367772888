"""The token-bucket rate limiter: bursts of a minute's budget, refills, several budgets at once."""

from __future__ import annotations

import pytest

from hallmark.errors import RateLimitedError
from hallmark.web.ratelimit import TokenBuckets, charge


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_minute_of_budget_may_come_at_once_then_it_refills() -> None:
    clock = Clock()
    buckets = TokenBuckets({"requests": 60}, clock=clock)
    for _ in range(60):
        assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("a", {"requests": 1}) == pytest.approx(1.0)
    clock.now += 0.5
    assert buckets.take("a", {"requests": 1}) == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a", {"requests": 1}) == 0
    # Another client has its own buckets.
    assert buckets.take("b", {"requests": 1}) == 0


def test_a_refused_request_charges_no_budget() -> None:
    clock = Clock()
    buckets = TokenBuckets({"requests": 10, "items": 100}, clock=clock)
    assert buckets.take("a", {"requests": 1, "items": 90}) == 0
    # Enough requests left, not enough items: refused, and the request is not charged.
    assert buckets.take("a", {"requests": 1, "items": 20}) == pytest.approx(10 / (100 / 60))
    for _ in range(9):
        assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("a", {"requests": 1}) > 0


def test_fits_says_whether_a_cost_could_ever_pass() -> None:
    buckets = TokenBuckets({"items": 100})
    assert buckets.fits({"items": 100}) and not buckets.fits({"items": 101})


def test_the_least_recent_clients_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets({"requests": 1}, clock=clock, max_clients=2)
    for client in ("a", "b", "c"):
        assert buckets.take(client, {"requests": 1}) == 0
    # "a" was forgotten, so it starts full again; "c" is still remembered and empty.
    assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("c", {"requests": 1}) > 0


def test_charge_raises_with_whole_seconds_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets({"requests": 60}, clock=clock)
    charge(buckets, "a", {"requests": 60}, "lookups")
    with pytest.raises(RateLimitedError, match="try again in 1 seconds") as caught:
        charge(buckets, "a", {"requests": 1}, "lookups")
    assert caught.value.retry_after == 1
    assert caught.value.status == 429


def test_budgets_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        TokenBuckets({"requests": 0})
