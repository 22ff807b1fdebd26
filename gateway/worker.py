"""The gateway's work: drain the outbox to the DOJ switch, read DOJ's mailbox back.

One :meth:`Gateway.drain` claims due messages and sends them as one batch::

    claim   one short transaction: due rows (QUEUED, or SENT with the answer overdue; no live lease;
            every earlier message of the same order finished) ``FOR UPDATE SKIP LOCKED`` on
            PostgreSQL (SQLite has a single writer), each given this gateway's lease and one more
            attempt; commit. Another gateway skips or cannot see these rows until the lease lapses.
    build   outside any transaction: the text from the order version the row names (the FCN opened
            from the order), or the sealed query; seal each (encrypt to DOJ, sign).
    submit  one SOAP call with the batch.
    record  one transaction: QUEUED receipts -> SENT (answer due within the policy's timeout),
            REFUSED -> DEAD; a transport failure -> retry after a backoff, or DEAD when the policy
            is exhausted. Updates are guarded by the lease: a row someone else took over, or DOJ
            already answered, is left alone.

A crash anywhere in between leaves rows leased; when the lease lapses they are sent again with
the same MCN, which the switch answers with its original result -- so each message takes effect
once however often it travels.

One :meth:`Gateway.poll` reads DOJ's mailbox: each answer is verified and decrypted (a message that
fails is left in the mailbox and reported), then in one transaction recorded -- in the inbox
(sealed; a second delivery of the same DOJ MCN is ignored), on its outbox message (ACCEPTED /
REJECTED; an EPO's FCN sealed onto the order; what waited behind a rejected EPO SUPERSEDED) and on
the order's CARPOS status -- and only then removed from the mailbox.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from gateway import carpos
from gateway.envelope import Header, MessageKey, Transmission
from gateway.retry import RetryPolicy
from gateway.sealing import Channel, SealError
from gateway.transport import SubmitReceipt, SwitchTransport, TransportError
from hub import ids
from hub.audit import CARPOS, AuditTrail, Event
from hub.carpos.clets import CletsVault
from hub.codes import FINISHED_STATES, CarposStatus, OutboxState
from hub.db.engine import Database
from hub.db.models import Account, CarposInboxMessage, CarposMessage, Order, OrderVersion, Organization
from hub.errors import HubError
from hub.orders.document import OrderDocument

log = logging.getLogger("ccpor.gateway")

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def owner_id() -> str:
    """This gateway process's name on the leases it takes."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class _Claimed:
    id: int
    mcn: str
    mke: str
    attempts: int
    state: str


@dataclass
class _Built:
    claimed: _Claimed
    sealed: bytes | None = None
    problem: str | None = None


class Gateway:
    """Drains the outbox and reads the mailbox; holds no state between calls but its lease name."""

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
    ) -> None:
        self.db = db
        self.channel = channel
        self.transport = transport
        self.vault = vault
        self.audit = audit
        self.policy = policy
        self.doj_ori = doj_ori
        self.batch = batch
        self.lease = lease_seconds
        self.owner = owner or owner_id()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not secrets

    # ------------------------------------------------------------------------------------ sending

    def drain(self) -> int:
        """Claim and send one batch; the number of messages the switch took."""
        claimed = self._claim()
        if not claimed:
            return 0
        built = self._build(claimed)
        ready = [b for b in built if b.sealed is not None]
        receipts: list[SubmitReceipt] = []
        error: TransportError | None = None
        if ready:
            try:
                receipts = self.transport.submit([b.sealed for b in ready])  # type: ignore[misc]
            except TransportError as exc:
                error = exc
        self._record_sends(built, ready, receipts, error)
        return 0 if error else sum(1 for r in receipts if not r.refused)

    def _claim(self) -> list[_Claimed]:
        now = self.clock()
        m, earlier = CarposMessage, aliased(CarposMessage)
        waiting_behind = exists().where(
            earlier.order_id == m.order_id, earlier.order_seq < m.order_seq, earlier.state.not_in(FINISHED_STATES)
        )
        query = (
            select(m.id, m.mcn, m.mke, m.attempts, m.state)
            .where(
                m.state.in_((OutboxState.QUEUED.value, OutboxState.SENT.value)),
                m.next_attempt_at <= now,
                or_(m.lease_expires_at.is_(None), m.lease_expires_at < now),
                ~waiting_behind,
            )
            .order_by(m.next_attempt_at, m.id)
            .limit(self.batch)
            .with_for_update(skip_locked=True, of=m)
        )
        with self.db.unit_of_work() as s:
            rows = [_Claimed(r.id, r.mcn, r.mke, r.attempts + 1, r.state) for r in s.execute(query)]
            if rows:
                s.execute(
                    update(m)
                    .where(m.id.in_([r.id for r in rows]))
                    .values(
                        lease_owner=self.owner,
                        lease_expires_at=now + timedelta(seconds=self.lease),
                        attempts=m.attempts + 1,
                        updated_at=now,
                    )
                )
        return rows

    def _build(self, claimed: list[_Claimed]) -> list[_Built]:
        now = self.clock()
        out = []
        with self.db.read() as s:
            for c in claimed:
                built = _Built(c)
                try:
                    built.sealed = self.channel.seal(self._transmission(s, c, now))
                except (HubError, carpos.CarposError, ValueError) as exc:
                    built.problem = f"cannot build the transaction: {exc}"[:200]
                out.append(built)
        return out

    def _transmission(self, s: Session, c: _Claimed, now: datetime) -> Transmission:
        message = s.get(CarposMessage, c.id)
        assert message is not None
        if message.mke == carpos.Mke.QPO.value:
            assert message.payload_sealed is not None
            text, reference = self.vault.open_query(message.mcn, message.payload_sealed), None
        else:
            order = s.get(Order, message.order_id)
            document = s.scalar(
                select(OrderVersion.document).where(
                    OrderVersion.order_id == message.order_id, OrderVersion.version == message.order_version
                )
            )
            assert order is not None and document is not None
            mke = carpos.Mke(message.mke)
            fcn = None
            if mke is not carpos.Mke.EPO:
                if order.carpos_fcn_sealed is None:
                    raise ValueError("the order has no FCN (its EPO was never accepted)")
                fcn = self.vault.open_fcn(order.id, order.carpos_fcn_sealed)
            reference = ids.public(ids.ORDER, order.id)
            tx = carpos.from_order(
                OrderDocument.from_xml(document), mke=mke, ori=message.sender_ori, oca=reference, fcn=fcn
            )
            text = carpos.encode(tx)  # checked: CarposError with DOJ's reasons
        header = Header(
            mcn=message.mcn,
            sender_ori=message.sender_ori,
            destination_ori=self.doj_ori,
            mke=MessageKey(message.mke),
            created=message.created_at,
            sent=now,
            order_reference=reference,
        )
        return Transmission(header, (text,))

    def _record_sends(
        self, built: list[_Built], ready: list[_Built], receipts: list[SubmitReceipt], error: TransportError | None
    ) -> None:
        now = self.clock()
        by_position = {i: r for i, r in enumerate(receipts, start=1)}
        with self.db.unit_of_work() as s:
            for position, b in enumerate(ready, start=1):
                receipt = by_position.get(position)
                if error is not None:
                    self._retry_or_die(s, b.claimed, str(error), now)
                elif receipt is None or receipt.refused:
                    why = receipt.reason if receipt else "no receipt"
                    self._die(s, b.claimed, f"refused by the switch: {why}", now)
                else:
                    self._sent(s, b.claimed, now)
            for b in built:
                if b.problem is not None:
                    self._die(s, b.claimed, b.problem, now)

    def _mine(self, c: _Claimed) -> list[object]:
        return [
            CarposMessage.id == c.id,
            CarposMessage.lease_owner == self.owner,
            CarposMessage.state.in_((OutboxState.QUEUED.value, OutboxState.SENT.value)),
        ]

    def _sent(self, s: Session, c: _Claimed, now: datetime) -> None:
        result = s.execute(
            update(CarposMessage)
            .where(*self._mine(c))
            .values(
                state=OutboxState.SENT.value,
                sent_at=now,
                next_attempt_at=now + self.policy.answer_timeout,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            self._audit(s, c, "SENT" if c.attempts == 1 else f"RESENT (attempt {c.attempts})", now)

    def _retry_or_die(self, s: Session, c: _Claimed, why: str, now: datetime) -> None:
        if self.policy.exhausted(c.attempts):
            self._die(s, c, f"gave up after {c.attempts} attempts: {why}", now)
            return
        log.warning("CARPOS %s %s: attempt %d failed (%s); trying again later", c.mke, c.mcn, c.attempts, why)
        s.execute(
            update(CarposMessage)
            .where(*self._mine(c))
            .values(
                next_attempt_at=now + self.policy.delay(c.attempts, self.rng),
                lease_owner=None,
                lease_expires_at=None,
                last_error=why[:200],
                updated_at=now,
            )
        )

    def _die(self, s: Session, c: _Claimed, why: str, now: datetime) -> None:
        log.error("CARPOS %s %s is DEAD: %s (an administrator can requeue it)", c.mke, c.mcn, why)
        result = s.execute(
            update(CarposMessage)
            .where(*self._mine(c))
            .values(
                state=OutboxState.DEAD.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error=why[:200],
                updated_at=now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            self._audit(s, c, "DEAD", now)

    def _audit(self, s: Session, c: _Claimed, outcome: str, now: datetime, operation: str | None = None) -> None:
        message = s.get(CarposMessage, c.id)
        target = ids.public(ids.ORDER, message.order_id) if message and message.order_id else c.mcn
        self.audit.record(
            s.connection(),
            Event(
                at=now,
                username="ccpor-gateway",
                org_ori=message.sender_ori if message else "",
                operation=operation or f"CARPOS {c.mke}",
                outcome=outcome[:40],
                target=target,
                client_address=self.owner[:64],
                detail=f"MCN {c.mcn}",
                category=CARPOS,
            ),
        )

    # ---------------------------------------------------------------------------------- receiving

    def poll(self) -> tuple[int, int]:
        """Read one page of the mailbox; (answers recorded, answers still waiting there)."""
        items, remaining = self.transport.fetch(min(self.batch, 500))
        if not items:
            return 0, remaining
        opened: list[tuple[int, Transmission]] = []
        for item in items:
            try:
                opened.append((item.mailbox_id, self.channel.open(item.sealed)))
            except (SealError, HubError) as exc:
                # Left in the mailbox: a configuration problem (DOJ's certificate) must not lose answers.
                log.error("mailbox item %d is not acceptable and stays in DOJ's mailbox: %s", item.mailbox_id, exc)
        if opened:
            with self.db.unit_of_work() as s:
                for _, t in opened:
                    try:
                        with s.begin_nested():
                            self._record_answer(s, t)
                    except IntegrityError:
                        # Another gateway recorded the same answer at the same moment (the inbox's
                        # unique DOJ MCN): theirs stands, and this one is simply removed too.
                        log.info("answer %s was recorded by another gateway", t.header.mcn)
            self.transport.acknowledge([mailbox_id for mailbox_id, _ in opened])
        return len(opened), remaining

    def _record_answer(self, s: Session, t: Transmission) -> None:
        now = self.clock()
        doj_mcn = t.header.mcn
        if s.scalar(select(CarposInboxMessage.id).where(CarposInboxMessage.doj_mcn == doj_mcn)) is not None:
            log.info("DOJ delivered %s again; recorded once", doj_mcn)
            return
        try:
            answer: carpos.Answer | None = carpos.parse_answer(t.text)
        except carpos.CarposError as exc:
            log.error("DOJ's message %s is not a CARPOS answer (%s); kept for a CLETS user to read", doj_mcn, exc)
            answer = None
        kind = answer.kind.value if answer else t.header.mke.value
        message = None
        if answer is not None and answer.kind is not carpos.AnswerKind.NTC:
            message = s.scalar(select(CarposMessage).where(CarposMessage.mcn == answer.mcn))
            if message is None:
                log.warning("DOJ answered %s, which the hub never sent", answer.mcn)
        order_id = message.order_id if message else self._order_of_notice(s, t, answer)
        s.execute(
            insert(CarposInboxMessage.__table__),
            dict(
                doj_mcn=doj_mcn,
                kind=kind[:3],
                message_id=message.id if message else None,
                order_id=order_id,
                organization_id=self._audience(s, message, order_id, t),
                needs_action=answer is None or answer.kind in (carpos.AnswerKind.REJ, carpos.AnswerKind.NTC),
                text_sealed=self.vault.seal_answer(doj_mcn, t.lines),
                received_at=now,
            ),
        )
        claimed = _Claimed(message.id, message.mcn, message.mke, message.attempts, message.state) if message else None
        if message is not None and answer is not None and message.state not in FINISHED_STATES:
            self._settle(s, message, answer, now)
        if claimed is not None:
            self._audit(s, claimed, "RECEIVED", now, operation=f"CARPOS {kind}")
        elif order_id is not None or answer is not None:
            self.audit.record(
                s.connection(),
                Event(at=now, username="ccpor-gateway", org_ori=t.header.destination_ori, operation=f"CARPOS {kind}",
                      outcome="RECEIVED", target=ids.public(ids.ORDER, order_id) if order_id else doj_mcn,
                      client_address=self.owner[:64], detail=f"MCN {doj_mcn}", category=CARPOS),
            )  # fmt: skip

    def _order_of_notice(self, s: Session, t: Transmission, answer: carpos.Answer | None) -> int | None:
        reference = (answer.extra.get("OCA") if answer else None) or t.header.order_reference
        if not reference:
            return None
        try:
            order_id = ids.parse(ids.ORDER, reference)
        except HubError:
            return None
        return order_id if s.get(Order, order_id) is not None else None

    def _audience(self, s: Session, message: CarposMessage | None, order_id: int | None, t: Transmission) -> int | None:
        """Whose CLETS users see the message: the order's owner; for a query, the asker's organization;
        else the organization the notice is addressed to."""
        if order_id is not None:
            return s.scalar(select(Order.owner_org_id).where(Order.id == order_id))
        if message is not None and message.requested_by_id is not None:
            return s.scalar(select(Account.organization_id).where(Account.id == message.requested_by_id))
        return s.scalar(select(Organization.id).where(Organization.ori == t.header.destination_ori))

    def _settle(self, s: Session, message: CarposMessage, answer: carpos.Answer, now: datetime) -> None:
        if message.order_id is not None:  # the order row first: one writer of its CARPOS state at a time
            s.execute(select(Order.id).where(Order.id == message.order_id).with_for_update())
        accepted = answer.kind in (carpos.AnswerKind.ACK, carpos.AnswerKind.QRY)
        s.execute(
            update(CarposMessage)
            .where(CarposMessage.id == message.id, CarposMessage.state.not_in(FINISHED_STATES))
            .values(
                state=(OutboxState.ACCEPTED if accepted else OutboxState.REJECTED).value,
                answered_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=None,
                updated_at=now,
            )
        )
        if message.order_id is None:
            return
        order_values: dict[str, object] = {}
        if message.mke == carpos.Mke.EPO.value and answer.kind is carpos.AnswerKind.ACK and answer.fcn:
            order_values["carpos_fcn_sealed"] = self.vault.seal_fcn(message.order_id, answer.fcn)
        if message.mke == carpos.Mke.EPO.value and not accepted:
            # Not on file: what waited behind the EPO cannot go (no FCN); a resubmitted EPO carries it.
            s.execute(
                update(CarposMessage)
                .where(
                    CarposMessage.order_id == message.order_id,
                    CarposMessage.order_seq > message.order_seq,
                    CarposMessage.state == OutboxState.QUEUED.value,
                )
                .values(state=OutboxState.SUPERSEDED.value, updated_at=now)
            )
        order_values["carpos_status"] = _order_status(s, message.order_id).value
        s.execute(update(Order).where(Order.id == message.order_id).values(**order_values))


def _order_status(s: Session, order_id: int) -> CarposStatus:
    """PENDING while any message of the order is unfinished; else how DOJ answered the last one."""
    states = s.scalars(
        select(CarposMessage.state)
        .where(CarposMessage.order_id == order_id, CarposMessage.state != OutboxState.SUPERSEDED.value)
        .order_by(CarposMessage.order_seq)
    ).all()
    if any(state not in FINISHED_STATES for state in states):
        return CarposStatus.PENDING
    return CarposStatus.ACCEPTED if states and states[-1] == OutboxState.ACCEPTED.value else CarposStatus.REJECTED
