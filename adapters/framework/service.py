"""The long-running part every adapter shares: poll, do one round of work, wait; stop cleanly.

SIGTERM and SIGINT set a flag: the round in hand finishes the record it is sending (a call is
bounded by ``hub.timeout_seconds``) and the process exits 0 with nothing half-done -- whatever
was not reached is still WAITING in the state database for the next start.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from adapters.framework.logs import Log
from adapters.framework.state import StateStore


class Stopping:
    """Set by SIGTERM/SIGINT; waits end early when it is set."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self, log: Log) -> None:
        def stop(signum: int, _frame: object) -> None:
            log.info("stopping", signal=signal.Signals(signum).name)
            self.event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        """Wait ``seconds`` unless a stop comes first; True if it did."""
        return self.event.wait(seconds)


def run_forever(round_: Callable[[], None], poll_seconds: float, stopping: Stopping, log: Log) -> int:
    log.info("started", poll_seconds=poll_seconds)
    while not stopping.requested:
        round_()
        stopping.wait(poll_seconds)
    log.info("stopped")
    return 0


class Adapter(Protocol):
    def round(self) -> None: ...

    def close(self) -> None: ...


def main(name: str, build: Callable[[Log, Stopping, bool], Adapter], poll_seconds: float, once: bool) -> int:
    """An adapter process: SIGTERM handled, one round (``once``) or rounds until stopped."""
    log = Log(name)
    stopping = Stopping()
    stopping.install(log)
    adapter = build(log, stopping, once)
    try:
        if once:
            adapter.round()
            return 0
        return run_forever(adapter.round, poll_seconds, stopping, log)
    finally:
        adapter.close()


def status(state_path: Path, text: Callable[[StateStore], str]) -> str:
    """``text`` of the adapter's state database (which ``status`` never creates)."""
    if not state_path.exists():
        return f"no state at {state_path} yet: the adapter has not run"
    store = StateStore(state_path)
    try:
        return text(store)
    finally:
        store.close()
