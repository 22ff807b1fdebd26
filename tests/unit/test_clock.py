"""The one freshness rule for a Created time (UsernameTokens, signature Timestamps); the courts' calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.clock import CourtCalendar, freshness

NOW = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
MAX_AGE, SKEW, TICK = timedelta(minutes=5), timedelta(minutes=1), timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("created", "verdict"),
    [
        (NOW, None),
        (NOW + SKEW, None),  # a sender's clock ahead by the tolerated skew
        (NOW + SKEW + TICK, "future"),
        (NOW - MAX_AGE - SKEW, None),  # as old as allowed, with the skew
        (NOW - MAX_AGE - SKEW - TICK, "stale"),
    ],
)
def test_a_created_time_is_fresh_within_its_age_and_the_clock_skew(created, verdict):
    assert freshness(created, NOW, MAX_AGE, SKEW) == verdict


@pytest.mark.parametrize("zone", ["Pacific/Atlantis", "America", "../etc"])
def test_a_calendar_refuses_what_is_not_a_time_zone(zone):
    with pytest.raises(ValueError, match="is not an IANA time zone"):
        CourtCalendar(zone)
