"""The CARPOS gateway: drain the outbox's CARPOS messages to the DOJ switch, read DOJ's mailbox back.

:class:`Gateway` is CARPOS's :class:`~gateway.sender.Sender` (its ``build``: the text from the order
version, sealed; its ``submit``: one call to the switch with the batch) and its
:class:`~gateway.receiver.CarposReceiver` (``poll``). What each stage does and why a crash anywhere
is harmless (the same MCN again, answered by the switch's ledger with its original result):
docs/ARCHITECTURE.md, "The path of a CARPOS message" -- the one place that path is told.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from gateway.receiver import AnswerListener, CarposReceiver
from gateway.sealing import Channel
from gateway.sender import Built, Drained, Sender, Submitted
from gateway.transport import SwitchTransport, TransportError
from hub.audit import CARPOS, AuditTrail
from hub.carpos import codec, outbox
from hub.carpos.clets import CletsVault
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.clock import Clock, utcnow
from hub.db.engine import Database
from hub.errors import HubError
from hub.outbox.manager import Claim, OutboxManager
from hub.outbox.retry import RetryPolicy

__all__ = ["Built", "Drained", "Gateway", "Submitted"]


class Gateway(Sender, CarposReceiver):
    """Drains the CARPOS outbox and reads the mailbox; holds no state between calls but its lease name.

    Its public stages -- :meth:`claim`, :meth:`build`, :meth:`submit`, :meth:`record` (what
    :meth:`send_batch` runs in turn) and :meth:`poll` -- are the seams tests and operators use; the
    bookkeeping is the outbox's (:class:`hub.outbox.manager.OutboxManager`, the same for every
    kind), this class adds what is CARPOS's: the text, the seal, the switch, DOJ's answers.

    Every database step works on a whole batch in a few statements (the per-message cost is the
    sealing, not the bookkeeping); a gateway process may run several of these on threads, each with
    its own transport (:meth:`with_transport`), since claims never overlap.
    """

    def __init__(
        self,
        db: Database,
        channel: Channel,
        transport: SwitchTransport,
        vault: CletsVault,
        audit: AuditTrail,
        policy: RetryPolicy,
        *,
        doj_ori: str,
        batch: int = 100,
        lease_seconds: int = 60,
        owner: str | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        answered: AnswerListener | None = None,
    ) -> None:
        self.db = db
        self.answered = answered
        self.channel = channel
        self.transport = transport
        self.vault = vault
        self.audit = audit
        self.doj_ori = doj_ori
        self.outbox = OutboxManager(
            db,
            audit,
            policy,
            kind=outbox.KIND,
            category=CARPOS,
            destination="DOJ",
            batch=batch,
            lease_seconds=lease_seconds,
            owner=owner,
            clock=clock,
            rng=rng,
        )

    def build(self, claimed: list[Claim]) -> list[Built]:
        """Stage 2, outside any transaction: each claimed message sealed (or why it cannot be), one
        query for all of their inputs."""
        now = self.clock()
        query = outbox.text_inputs([c.id for c in claimed])
        with self.db.read() as s:
            inputs = {r.id: r for r in s.execute(query)}
        out = []
        for c in claimed:
            built = Built(c)
            built.problem = self.outbox.overdue(c)
            if built.problem is None:
                try:
                    built.sealed = self.channel.seal(self._transmission(inputs[c.id], now))
                except (HubError, codec.CarposError, ValueError) as exc:
                    built.problem = f"cannot build the transaction: {exc}"[:200]
            out.append(built)
        return out

    def submit(self, built: list[Built]) -> Submitted:
        """Stage 3: one SOAP call with the batch's sealed messages (none: nothing is called)."""
        ready = [b.sealed for b in built if b.sealed is not None]
        if not ready:
            return Submitted(built, [])
        try:
            return Submitted(built, self.transport.submit(ready))
        except TransportError as exc:
            return Submitted(built, [], exc)

    def _transmission(self, row: Any, now: datetime) -> Transmission:
        text, reference = outbox.text_of(row, self.vault)
        header = Header(
            mcn=row.mcn,
            sender_ori=row.sender_ori,
            destination_ori=self.doj_ori,
            mke=MessageKey(row.mke),
            created=row.created_at,
            sent=now,
            order_reference=reference,
        )
        return Transmission(header, (text,))
