"""Waiting for another process to reach a state: poll a condition until it holds or time runs out.

The other processes (gateway, switch) work on their own clock; a test learns that they are done
only by looking at the state they leave (a row, a status) -- never by sleeping a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def until(condition: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.05) -> T:
    """The first truthy value ``condition()`` returns; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(every)
        last = condition()
    return last
