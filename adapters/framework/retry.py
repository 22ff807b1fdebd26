"""When to try a transient failure again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """``first`` seconds after the first failure, doubling to at most ``most``; each delay drawn
    from its upper half (so adapters restarted together do not retry in step)."""

    first: float = 2.0
    most: float = 300.0

    def delay(self, failures: int, rnd: random.Random | None = None) -> float:
        """The wait before the next attempt, after ``failures`` failed ones (1 or more)."""
        ceiling = min(self.most, self.first * 2 ** max(0, failures - 1))
        return ceiling * (0.5 + 0.5 * (rnd or random).random())  # noqa: S311 - timing jitter, not a secret
