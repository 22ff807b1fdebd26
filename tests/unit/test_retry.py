"""The retry policy: exponential backoff with full jitter, a floor, a cap, and a last attempt."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from hub.outbox.retry import RetryPolicy


def test_delays_grow_to_the_cap_with_jitter():
    policy = RetryPolicy(base_delay=timedelta(seconds=2), max_delay=timedelta(seconds=60))
    rng = random.Random(5)  # noqa: S311 - jitter
    for attempts, ceiling in ((1, 2), (2, 4), (3, 8), (6, 60), (20, 60)):
        delays = [policy.delay(attempts, rng) for _ in range(200)]
        assert all(timedelta(seconds=0.2) <= d <= timedelta(seconds=ceiling) for d in delays)
        assert max(delays) > timedelta(seconds=ceiling * 0.8)  # jitter spreads them over the range
        assert len(set(delays)) > 150


def test_attempts_run_out():
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_nonsense_policies_are_refused():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=timedelta(seconds=10), max_delay=timedelta(seconds=1))
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=timedelta(0))
