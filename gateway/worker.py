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

from sqlalchemy import and_, select

from gateway.receiver import AnswerListener, CarposReceiver
from gateway.sealing import Channel
from gateway.sender import Built, Drained, Sender, Submitted
from gateway.transport import SwitchTransport, TransportError
from hub import ids
from hub.audit import CARPOS, AuditTrail
from hub.carpos import codec, outbox
from hub.carpos.clets import CletsVault
from hub.carpos.envelope import Header, MessageKey, Transmission
from hub.clock import Clock, utcnow
from hub.db.engine import Database
from hub.db.models import Order, OrderVersion, OutboxMessage
from hub.errors import HubError
from hub.orders.document import OrderDocument
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
        m = OutboxMessage
        query = (
            select(
                m.id,
                m.mcn,
                m.mke,
                m.sender_ori,
                m.created_at,
                m.order_id,
                m.payload_sealed,
                Order.carpos_fcn_sealed,
                OrderVersion.document,
            )  # fmt: skip
            .outerjoin(Order, Order.id == m.order_id)
            .outerjoin(OrderVersion, and_(OrderVersion.order_id == m.order_id, OrderVersion.version == m.order_version))
            .where(m.id.in_([c.id for c in claimed]))
        )
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
        if row.mke == codec.Mke.QPO.value:
            text, reference = self.vault.open_query(row.mcn, row.payload_sealed), None
        else:
            if row.document is None:
                raise ValueError("the order version it names is missing")
            mke = codec.Mke(row.mke)
            fcn = None
            if mke is not codec.Mke.EPO:
                if row.carpos_fcn_sealed is None:
                    raise ValueError("the order has no FCN (its EPO was never accepted)")
                fcn = self.vault.open_fcn(row.order_id, row.carpos_fcn_sealed)
            reference = ids.public(ids.ORDER, row.order_id)
            tx = codec.from_order(
                OrderDocument.from_xml(row.document), mke=mke, ori=row.sender_ori, oca=reference, fcn=fcn
            )
            text = codec.encode(tx)  # checked: CarposError with DOJ's reasons
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
