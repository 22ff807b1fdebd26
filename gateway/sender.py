"""What every sender of an outbox kind does, whatever its destination: the four public stages.

One :meth:`Sender.drain` runs :meth:`~Sender.claim` (the outbox's: lease a batch of due messages),
:meth:`~Sender.build` (the kind's: each message ready to go, or why it cannot be),
:meth:`~Sender.submit` (the kind's: hand them to the destination) and :meth:`~Sender.record` (the
outbox's: each message's outcome) on one batch. The bookkeeping -- leases, retries, dead letters,
per-order order, the one SENT event -- is :class:`hub.outbox.manager.OutboxManager`'s, the same for
every kind; a kind's sender adds only how its messages are built and sent.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from gateway.transport import SubmitReceipt, TransportError
from hub import metrics
from hub.outbox.manager import Claim, OutboxManager, Outcome

log = logging.getLogger("ccpor.gateway")


@dataclass
class Built:
    """A claimed message made ready to send: its bytes (sealed, for CARPOS), or why it cannot be."""

    claimed: Claim
    sealed: bytes | None = None
    problem: str | None = None
    #: Where this one message goes, when the kind's destinations differ (each court its own service).
    address: str | None = None


@dataclass(frozen=True)
class Submitted:
    """One batch after its submission: what was built, and the destination's receipts, one per
    message in the order they went (or the transport's failure)."""

    built: list[Built]
    receipts: list[SubmitReceipt]
    error: TransportError | None = None
    destination: str = "the switch"

    @property
    def ready(self) -> list[Built]:
        return [b for b in self.built if b.sealed is not None]

    def outcomes(self) -> list[Outcome]:
        """Each message's outcome: the transport's failure (transient) for all that went, else the
        receipt at its position (taken, or refused); those that could not be built, refused."""
        by_position = {i: r for i, r in enumerate(self.receipts, start=1)}
        out = []
        for position, b in enumerate(self.ready, start=1):
            receipt = by_position.get(position)
            if self.error is not None:
                out.append(Outcome(b.claimed, why=str(self.error), transient=True))
            elif receipt is not None and receipt.untried:
                out.append(Outcome(b.claimed, why=f"{self.destination}: {receipt.reason}", untried=True))
            elif receipt is not None and receipt.failed:
                out.append(Outcome(b.claimed, why=f"{self.destination}: {receipt.reason}", transient=True))
            elif receipt is None or receipt.refused:
                why = receipt.reason if receipt else "no receipt"
                out.append(Outcome(b.claimed, why=f"refused by {self.destination}: {why}"))
            else:
                out.append(Outcome(b.claimed, taken=True))
        out += [Outcome(b.claimed, why=b.problem) for b in self.built if b.problem is not None]
        return out


@dataclass(frozen=True)
class Drained:
    """One batch: messages claimed, and how many of them the destination took."""

    claimed: int
    sent: int


class Sender(ABC):
    """One outbox kind's sender: the stages on its :class:`OutboxManager` (``self.outbox``), with
    ``build`` and ``submit`` its kind's. Holds no state between calls but its lease name; a process may
    run several on threads, each with its own transport (:meth:`with_transport`), since claims never
    overlap."""

    outbox: OutboxManager
    transport: Any

    # The outbox's settings, as the sender's (tests and the scheduler read and move them).
    owner = property(lambda self: self.outbox.owner, lambda self, v: setattr(self.outbox, "owner", v))
    clock = property(lambda self: self.outbox.clock, lambda self, v: setattr(self.outbox, "clock", v))
    policy = property(lambda self: self.outbox.policy, lambda self, v: setattr(self.outbox, "policy", v))
    batch = property(lambda self: self.outbox.batch, lambda self, v: setattr(self.outbox, "batch", v))

    def with_transport(self, transport: Any) -> Any:
        """The same sender (same lease name, database, keys) talking through another transport."""
        twin = copy.copy(self)
        twin.transport = transport
        twin.outbox = copy.copy(self.outbox)
        twin.outbox.rng = random.Random()  # noqa: S311 - backoff jitter, not secrets
        return twin

    def drain(self) -> int:
        """Claim and send one batch; the number of messages the destination took."""
        return self.send_batch().sent

    def send_batch(self) -> Drained:
        """Claim and send one batch: how many were claimed, and how many the destination took."""
        t0 = time.perf_counter()
        claimed = self.claim()
        if not claimed:
            return Drained(0, 0)
        t1 = time.perf_counter()
        built = self.build(claimed)
        t2 = time.perf_counter()
        submitted = self.submit(built)
        t3 = time.perf_counter()
        metrics.GATEWAY_SEND_DURATION.labels(self.outbox.kind).observe(t3 - t2)
        self.record(submitted)
        log.debug(
            "batch of %d: claimed in %.0f ms, built in %.0f ms, submitted in %.0f ms, recorded in %.0f ms (%s)",
            len(claimed), (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (time.perf_counter() - t3) * 1e3,
            self.outbox.kind,
        )  # fmt: skip
        taken = 0 if submitted.error else sum(1 for r in submitted.receipts if not (r.refused or r.failed))
        return Drained(len(claimed), taken)

    def claim(self) -> list[Claim]:
        """Stage 1: lease a batch of due messages of this kind (:meth:`OutboxManager.claim`)."""
        return self.outbox.claim()

    @abstractmethod
    def build(self, claimed: list[Claim]) -> list[Built]:
        """Stage 2, outside any transaction: each claimed message ready to send, or why it cannot be."""

    @abstractmethod
    def submit(self, built: list[Built]) -> Submitted:
        """Stage 3: hand what was built to the destination."""

    def record(self, submitted: Submitted) -> None:
        """Stage 4: the batch's outcomes in one transaction (:meth:`OutboxManager.record`)."""
        self.outbox.record(submitted.outcomes())
