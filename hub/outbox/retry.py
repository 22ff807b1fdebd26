"""The outbox's retry policy (every kind of message): one object holds every number, one function decides retry or dead.

Transport failures (the switch down, a timeout, a 5xx, a SOAP Server fault) are transient: the
message is tried again after an exponential backoff with full jitter (so that many gateways coming
back after an outage do not hit the switch in step). A refusal by the switch (bad signature, an
envelope it cannot read) and DOJ's REJ are permanent: no retry. After ``max_attempts`` transient
failures a message goes DEAD and waits for an administrator (``ccpor-hub queue requeue``). An
answer that does not come within ``answer_timeout`` counts as a failed attempt too: the message is
sent again with the same MCN, which the switch answers with its original result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    #: Attempts before a message goes DEAD (the first send counts). Hazard: too low turns a short
    #: switch outage into a pile of dead letters; too high hides a permanent problem for long.
    max_attempts: int = 12
    #: Delay before the second attempt; each further one doubles it, up to ``max_delay``.
    base_delay: timedelta = timedelta(seconds=2)
    max_delay: timedelta = timedelta(minutes=5)
    #: How long DOJ may take to answer before the message is sent again (same MCN).
    answer_timeout: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay <= timedelta(0) or self.max_delay < self.base_delay:
            raise ValueError("retry policy: max_attempts >= 1 and 0 < base_delay <= max_delay")

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """How long to wait after the ``attempts``-th failure: uniform in [0, min(cap, base * 2**(n-1))]
        ("full jitter"), never less than a tenth of the base so a failing switch is not hammered."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))
        return max(self.base_delay / 10, ceiling * rng.random())

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
