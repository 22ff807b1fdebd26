"""The faults the mock switch injects, decided in one place from its settings.

Every decision takes the switch's random generator (seeded: ``CCPOR_DOJ_RANDOM_SEED``) and clock,
so a test can replay a run and unit tests can pin the outcome.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mocks.doj.settings import SwitchSettings

_WINDOW = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])$")


@dataclass(frozen=True)
class Window:
    """A daily maintenance window in UTC, [start, end); one that ends before it starts spans midnight."""

    start: time
    end: time | None  # None: 24:00

    def covers(self, moment: datetime) -> bool:
        now = moment.timetz().replace(tzinfo=None)
        end = self.end or time.max
        if self.start <= end:
            return self.start <= now < end
        return now >= self.start or now < end

    def ends_after(self, moment: datetime) -> str:
        return "24:00" if self.end is None else self.end.strftime("%H:%M")


def parse_windows(text: str) -> tuple[Window, ...]:
    """``"02:00-02:30,23:50-00:10"`` -> windows; ValueError naming the bad part."""
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = _WINDOW.match(part)
        if not m:
            raise ValueError(f"CCPOR_DOJ_DOWNTIME: {part!r} is not HH:MM-HH:MM (UTC)")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h2 == 24 and m2:
            raise ValueError(f"CCPOR_DOJ_DOWNTIME: {part!r} ends after 24:00")
        out.append(Window(time(h1, m1), None if h2 == 24 else time(h2, m2)))
    return tuple(out)


@dataclass
class FaultPlan:
    answer_latency: timedelta = timedelta(0)
    call_latency: timedelta = timedelta(0)
    error_rate: float = 0.0
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    garble_rate: float = 0.0
    downtime: tuple[Window, ...] = ()
    rng: random.Random = field(default_factory=lambda: random.Random(1))  # noqa: S311 - fault injection, not secrets
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, s: SwitchSettings) -> FaultPlan:
        return cls(
            answer_latency=timedelta(milliseconds=s.answer_latency_ms),
            call_latency=timedelta(milliseconds=s.call_latency_ms),
            error_rate=s.error_rate,
            drop_rate=s.drop_rate,
            duplicate_rate=s.duplicate_rate,
            reorder_rate=s.reorder_rate,
            garble_rate=s.garble_rate,
            downtime=s.downtime,
            rng=random.Random(s.random_seed),  # noqa: S311 - fault injection, not secrets
        )

    def _chance(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self.rng.random() < rate

    def down(self, now: datetime) -> str | None:
        """Why every call is refused now (a maintenance window), or None."""
        for window in self.downtime:
            if window.covers(now):
                return f"the CARPOS switch is down for maintenance until {window.ends_after(now)} UTC"
        return None

    def fail_call(self) -> bool:
        return self._chance(self.error_rate)

    def drop_answer(self) -> bool:
        return self._chance(self.drop_rate)

    def duplicate_answer(self) -> bool:
        return self._chance(self.duplicate_rate)

    def garble(self, lines: tuple[str, ...]) -> tuple[str, ...]:
        """The answer's lines, or by the dice with line noise before the first: a text the hub cannot
        read as a CARPOS answer, which it must keep for a CLETS user all the same."""
        if not self._chance(self.garble_rate):
            return lines
        return (f"?{lines[0]}", *lines[1:])

    def reorder(self, items: list) -> list:  # type: ignore[type-arg]
        if not self._chance(self.reorder_rate):
            return items
        shuffled = list(items)
        with self._lock:
            self.rng.shuffle(shuffled)
        return shuffled
