"""The faults the mock court injects, and the one rule that turns them into what a call gets.

The fault plan (:class:`Faults`) lives in the court's database (``mocks.court.store``), so every
gunicorn worker sees the same one and a test or ``ccpor-hub mock-court faults`` flips it from
outside. Each POST is numbered in that database; :func:`verdict` decides from the plan and the
number alone, so the dice of the error rate are the same in every worker and in every run of a
seed::

    Faults(down=True)                -> HTTP 503, Server.Unavailable (fail-next is not used up)
    Faults(fail_next=2)              -> HTTP 500, Server.InjectedFailure, twice; then the service
    Faults(error_rate=0.25), call n  -> HTTP 500 when roll(seed, n) < 0.25
    Faults(latency_ms=300)           -> every call held 0.3 s first, whatever it then gets
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hub.errors import HubError
from mocks.soap import NOTHING, SERVER_ERROR, UNAVAILABLE, Injected, Unavailable


class InjectedFailure(HubError):
    """The court's service failed this call on purpose (fault injection): send it again later."""

    code = "Server.InjectedFailure"


@dataclass(frozen=True)
class Faults:
    """What the court's service does to calls now. ValueError for a value out of its range."""

    #: Every call is answered HTTP 503 with ``Server.Unavailable``.
    down: bool = False
    #: Milliseconds every call is held before it is answered.
    latency_ms: int = 0
    #: The next this many calls (that are not refused as down) fail with HTTP 500, ``Server.InjectedFailure``.
    fail_next: int = 0
    #: Share of calls (0..1) that fail with HTTP 500, ``Server.InjectedFailure``, by the seeded dice.
    error_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.fail_next < 0:
            raise ValueError("latency-ms and fail-next are counts: 0 or more")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"the error rate is a share between 0 and 1, not {self.error_rate}")


def roll(seed: int, call: int) -> float:
    """The dice for call number ``call`` under ``seed``: in [0, 1), the same in every process."""
    return random.Random(f"{seed}:{call}").random()  # noqa: S311 - fault injection, not secrets


def verdict(faults: Faults, call: int, seed: int) -> tuple[Injected, bool]:
    """What call number ``call`` gets under ``faults``, and whether it uses up one of ``fail_next``."""
    delay = faults.latency_ms / 1000
    if faults.down:
        down = Unavailable("the court's response service is down (fault injection): send it again later")
        return Injected(delay, UNAVAILABLE, down, retry_after=5), False
    if faults.fail_next > 0:
        return Injected(
            delay, SERVER_ERROR, InjectedFailure(f"injected failure (fail-next: {faults.fail_next}, this one included)")
        ), True
    if faults.error_rate > 0 and roll(seed, call) < faults.error_rate:
        return Injected(
            delay, SERVER_ERROR, InjectedFailure(f"injected failure (error rate {faults.error_rate})")
        ), False
    return (Injected(delay) if delay else NOTHING), False
