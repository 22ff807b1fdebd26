"""The mock switch's fault plan: maintenance windows and the dice it rolls."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from mocks.doj.faults import FaultPlan, parse_windows


def at(hh: int, mm: int) -> datetime:
    return datetime(2026, 12, 1, hh, mm, tzinfo=UTC)


def test_windows_cover_their_minutes_and_may_span_midnight():
    plan = FaultPlan(downtime=parse_windows("02:00-02:30, 23:50-00:10,12:00-24:00"))
    assert plan.down(at(2, 0)) and plan.down(at(2, 29)) and not plan.down(at(2, 30))
    assert plan.down(at(23, 55)) and plan.down(at(0, 5)) and not plan.down(at(0, 10))
    assert "until 24:00 UTC" in plan.down(at(13, 0))
    assert plan.down(at(11, 59)) is None


@pytest.mark.parametrize("bad", ["2:00-3:00", "02:00", "25:00-26:00", "02:00-24:30", "a-b"])
def test_malformed_windows_are_refused(bad):
    with pytest.raises(ValueError, match="CCPOR_DOJ_DOWNTIME"):
        parse_windows(bad)


def test_rates_decide_by_the_seeded_dice():
    never, always = FaultPlan(), FaultPlan(drop_rate=1.0, duplicate_rate=1.0, error_rate=1.0, garble_rate=1.0)
    assert not any((never.drop_answer(), never.duplicate_answer(), never.fail_call()))
    assert all((always.drop_answer(), always.duplicate_answer(), always.fail_call()))
    lines = ("QRY.MCN/QPO0000000000001.CNT/1", "REC.FCN/0190000000042.STS/ACTIVE")
    assert never.garble(lines) == lines and always.garble(lines) == (f"?{lines[0]}", lines[1])
    a, b = (FaultPlan(drop_rate=0.5, rng=random.Random(9)) for _ in range(2))  # noqa: S311 - dice
    assert [a.drop_answer() for _ in range(50)] == [b.drop_answer() for _ in range(50)]
    shuffled = FaultPlan(reorder_rate=1.0, rng=random.Random(1)).reorder(list(range(20)))  # noqa: S311
    assert sorted(shuffled) == list(range(20)) and shuffled != list(range(20))
