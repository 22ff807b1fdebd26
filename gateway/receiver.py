"""The CARPOS receiver: DOJ's mailbox read back into the registry.

One :meth:`CarposReceiver.poll` reads a page: each answer is verified and decrypted (a message that
fails is left in the mailbox and reported), then in one transaction recorded -- in the inbox
(sealed; a second delivery of the same DOJ MCN is ignored), on its outbox message (ACCEPTED /
REJECTED; an EPO's FCN sealed onto the order; what waited behind a rejected EPO SUPERSEDED) and on
the order's CARPOS status -- and only then removed from the mailbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from gateway.sealing import Channel, SealError
from gateway.transport import SwitchTransport
from hub import ids, metrics
from hub.audit import AuditTrail, Event
from hub.carpos import codec, outbox
from hub.carpos.clets import CletsVault
from hub.carpos.envelope import Transmission
from hub.carpos.outbox import Answered
from hub.codes import FINISHED_STATES
from hub.db.engine import Database
from hub.db.models import Account, CarposInboxMessage, Order, Organization, OutboxMessage
from hub.errors import HubError
from hub.outbox.manager import Claim, OutboxManager

log = logging.getLogger("ccpor.gateway")


@dataclass(frozen=True)
class _Answer:
    """One of DOJ's messages, verified, decrypted and parsed, waiting to be recorded."""

    transmission: Transmission
    answer: codec.Answer | None  # None: not a CARPOS answer (kept for a CLETS user to read)

    @property
    def doj_mcn(self) -> str:
        return self.transmission.header.mcn

    @property
    def kind(self) -> str:
        return (self.answer.kind.value if self.answer else self.transmission.header.mke.value)[:3]

    @property
    def answers_mcn(self) -> str | None:
        """The MCN of the hub's transaction this answers: from the verified text, or for a text that
        is not a CARPOS answer from the verified header (None for a notice)."""
        if self.answer is None:
            return self.transmission.header.relates_to
        return self.answer.mcn if self.answer.kind is not codec.AnswerKind.NTC else None

    @property
    def settlement(self) -> codec.Answer | None:
        """What the answer does to the message it answers: an unreadable answer counts as a reject
        (the message must not wait for an answer that came), to be read by a CLETS user."""
        if self.answer is not None:
            return self.answer
        if self.transmission.header.relates_to:
            return codec.Answer(codec.AnswerKind.REJ, self.transmission.header.relates_to, reason=UNREADABLE)
        return None


#: The reason recorded on a message whose answer the hub could not read (DOJ's text is kept as is).
UNREADABLE = "UNREADABLE ANSWER FROM DOJ: SEE ITS TEXT"


#: Told, in the transaction that records them, of DOJ's answers to orders' CARPOS messages (the
#: composition root wires the DSP917 business responses here: ``Dsp917Responses.carpos_answered``).
AnswerListener = Callable[[Session, list[Answered], datetime], None]


class CarposReceiver:
    """Reads DOJ's mailbox through ``transport`` and records the answers (the CARPOS gateway's half
    that receives; :class:`gateway.worker.Gateway` is both). ``answered``: see :data:`AnswerListener`."""

    db: Database
    channel: Channel
    transport: SwitchTransport
    vault: CletsVault
    audit: AuditTrail
    outbox: OutboxManager
    batch: int
    clock: Any
    answered: AnswerListener | None = None

    def poll(self) -> tuple[int, int]:
        """Read one page of the mailbox; (answers recorded, answers still waiting there)."""
        items, remaining = self.transport.fetch(min(self.batch, 500))
        if not items:
            return 0, remaining
        opened: list[tuple[int, _Answer]] = []
        for item in items:
            try:
                t = self.channel.open(item.sealed)
            except (SealError, HubError) as exc:
                # Left in the mailbox: a configuration problem (DOJ's certificate) must not lose answers.
                log.error("mailbox item %d is not acceptable and stays in DOJ's mailbox: %s", item.mailbox_id, exc)
                continue
            try:
                answer: codec.Answer | None = codec.parse_answer(t.text)
            except codec.CarposError:
                # Not the reason: it quotes DOJ's text, which is CLETS data and stays out of logs.
                log.error("DOJ's message %s is not a CARPOS answer; kept for a CLETS user to read", t.header.mcn)
                answer = None
            opened.append((item.mailbox_id, _Answer(t, answer)))
        if not opened:
            return 0, remaining
        log.debug("mailbox page of %d answers", len(opened))
        for attempt in (1, 2):
            try:
                with self.db.unit_of_work() as s:
                    self._record_answers(s, [a for _, a in opened])
                recorded = [mailbox_id for mailbox_id, _ in opened]
            except IntegrityError:
                recorded = self._record_one_by_one(opened)
            except DBAPIError as exc:
                # A deadlock or serialization failure (the sender recording the same messages' receipts
                # at that moment): the victim's transaction is rolled back whole, so recording the page
                # again at once is safe; after a second failure DOJ keeps it for a later read.
                name = type(exc.orig).__name__
                if attempt == 1:
                    log.info("recording a mailbox page failed (%s); recording it again", name)
                    continue
                log.warning("recording a mailbox page failed (%s); DOJ keeps it for the next read", name)
                return 0, remaining
            break
        self.transport.acknowledge(recorded)
        return len(recorded), remaining

    def _record_one_by_one(self, opened: list[tuple[int, _Answer]]) -> list[int]:
        """After a conflict on the page (another gateway recorded some of the same answers at the
        same moment): each answer in a savepoint of its own; the mailbox ids that are now recorded,
        by us or by the other -- anything else stays in DOJ's mailbox."""
        recorded = []
        with self.db.unit_of_work() as s:
            for mailbox_id, a in opened:
                try:
                    with s.begin_nested():
                        self._record_answers(s, [a])
                    recorded.append(mailbox_id)
                except IntegrityError:
                    there = s.scalar(select(CarposInboxMessage.id).where(CarposInboxMessage.doj_mcn == a.doj_mcn))
                    if there is not None:
                        recorded.append(mailbox_id)
                    else:
                        log.error("answer %s could not be recorded; it stays in DOJ's mailbox", a.doj_mcn)
        return recorded

    def _record_answers(self, s: Session, batch: list[_Answer]) -> None:
        """Record a page of DOJ's messages: in the inbox (sealed, once per DOJ MCN), on the messages
        they answer, on their orders -- a fixed number of statements, whatever the page's size."""
        now = self.clock()
        seen = set(
            s.scalars(
                select(CarposInboxMessage.doj_mcn).where(CarposInboxMessage.doj_mcn.in_([a.doj_mcn for a in batch]))
            )
        )
        fresh: list[_Answer] = []
        for a in batch:  # a doubled answer may also come twice in one page
            if a.doj_mcn in seen:
                log.info("DOJ delivered %s again; recorded once", a.doj_mcn)
                continue
            seen.add(a.doj_mcn)
            fresh.append(a)
        if not fresh:
            return
        m = OutboxMessage
        wanted = [a.answers_mcn for a in fresh if a.answers_mcn]
        messages = {
            r.mcn: r
            for r in s.execute(
                select(m.id, m.mcn, m.mke, m.state, m.order_id, m.order_seq, m.sender_ori, m.requested_by_id,
                       m.attempts, m.sent_at, m.created_at, m.order_version, m.request_id)
                .where(m.kind == outbox.KIND, m.mcn.in_(wanted))  # fmt: skip
            )
        } if wanted else {}  # fmt: skip
        for mcn in set(wanted) - set(messages):
            log.warning("DOJ answered %s, which the hub never sent", mcn)
        order_of = {a.doj_mcn: self._order_reference(a, messages) for a in fresh}
        owners = _pairs(
            s, select(Order.id, Order.owner_org_id).where(Order.id.in_({o for o in order_of.values() if o}))
        )
        askers = _pairs(
            s,
            select(Account.id, Account.organization_id).where(
                Account.id.in_({r.requested_by_id for r in messages.values() if r.requested_by_id})
            ),
        )
        addressees = _pairs(
            s,
            select(Organization.ori, Organization.id).where(
                Organization.ori.in_({a.transmission.header.destination_ori for a in fresh})
            ),
        )
        # The orders' rows first, in id order, before anything else touches them (the inbox rows'
        # foreign keys would take key-share locks that a later FOR UPDATE must wait behind).
        order_ids = sorted(set(owners))
        if order_ids:
            s.execute(select(Order.id).where(Order.id.in_(order_ids)).order_by(Order.id).with_for_update())
        rows, events, settled, unsent = [], [], [], {}
        for a in fresh:
            message = messages.get(a.answers_mcn or "")
            order_id = order_of[a.doj_mcn] if order_of[a.doj_mcn] in owners else None
            addressee = addressees.get(a.transmission.header.destination_ori)
            if message is None and addressee is not None:
                audience = addressee  # a notice: for the organization DOJ addressed it to
            elif order_id is not None:
                audience = owners[order_id]
            elif message is not None and message.requested_by_id:
                audience = askers.get(message.requested_by_id)
            else:
                audience = addressee
            rows.append(
                dict(
                    doj_mcn=a.doj_mcn,
                    kind=a.kind,
                    message_id=message.id if message else None,
                    order_id=order_id,
                    organization_id=audience,
                    needs_action=a.answer is None or a.answer.kind in (codec.AnswerKind.REJ, codec.AnswerKind.NTC),
                    text_sealed=self.vault.seal_answer(a.doj_mcn, a.transmission.lines),
                    received_at=now,
                )
            )
            target = ids.public(ids.ORDER, order_id) if order_id else (message.mcn if message else a.doj_mcn)
            ori = message.sender_ori if message else a.transmission.header.destination_ori
            about = (
                Claim(
                    message.id, message.mcn, message.mke, message.attempts, message.state, ori, target, kind=outbox.KIND
                )
                if message
                else Claim(0, a.doj_mcn, a.kind, 0, "", ori, target, kind=outbox.KIND)
            )
            events.append(self.outbox.event(about, "RECEIVED", now, operation=f"CARPOS {a.kind}"))
            settlement = a.settlement
            if message is not None and settlement is not None and message.state not in FINISHED_STATES:
                settled.append((message, settlement))
                if message.sent_at is None:  # the switch took it, but its receipt never reached the hub
                    detail = f"MCN {message.mcn}, known from DOJ's answer"
                    unsent[message.id] = (about, _sent_time(a, message, now), detail)
        s.execute(insert(CarposInboxMessage.__table__), rows)
        self._settle(s, settled, now)
        sent: list[Event] = []
        self.outbox.mark_sent(s, list(unsent.values()), now, sent)
        self.audit.record_all(s.connection(), sent + events)  # a message's SENT before its answer's RECEIVED

    def _order_reference(self, a: _Answer, messages: dict[str, Any]) -> int | None:
        """The order an answer (its message's) or a notice (its OCA, or the envelope's) is about."""
        message = messages.get(a.answers_mcn or "")
        if message is not None:
            return message.order_id  # type: ignore[no-any-return]
        reference = (a.answer.extra.get("OCA") if a.answer else None) or a.transmission.header.order_reference
        if a.answers_mcn or not reference:
            return None
        try:
            return ids.parse(ids.ORDER, reference)
        except HubError:
            return None

    def _settle(self, s: Session, settled: list[tuple[Any, codec.Answer]], now: datetime) -> None:
        """The answered messages ACCEPTED or REJECTED (:meth:`OutboxManager.settle`), FCNs sealed onto
        their orders, what waited behind a rejected entry SUPERSEDED, the orders' CARPOS status (the
        caller locked the orders' rows)."""
        if not settled:
            return
        order_ids = sorted({m.order_id for m, _ in settled if m.order_id is not None})
        self.outbox.settle(s, [(m, _accepts(a)) for m, a in settled], now)
        fcns = [
            {"b_id": m.order_id, "b_fcn": self.vault.seal_fcn(m.order_id, a.fcn)}
            for m, a in settled
            if m.order_id is not None and m.mke == codec.Mke.EPO.value and a.kind is codec.AnswerKind.ACK and a.fcn
        ]
        orders = Order.__table__
        if fcns:
            s.execute(
                update(orders).where(orders.c.id == bindparam("b_id")).values(carpos_fcn_sealed=bindparam("b_fcn")),
                fcns,
            )
        for m, a in sorted(settled, key=lambda pair: pair[0].id):
            if m.order_id is not None and m.mke == codec.Mke.EPO.value and not _accepts(a):
                # Not on file: what waited behind the EPO cannot go (no FCN); a resubmitted EPO carries it.
                self.outbox.supersede_behind(s, m.order_id, m.order_seq, now)
        outbox.refresh_statuses(s, order_ids)
        for m, a in settled:
            log.info(  # DOJ's words are CLETS data: only the answer's kind
                "CARPOS %s %s answered %s",
                m.mke,
                m.mcn,
                a.kind.value,
                extra={
                    "kind": "CARPOS",
                    "mke": m.mke,
                    "mcn": m.mcn,
                    "state": a.kind.value,
                    "request_id": m.request_id or "",
                },
            )
            metrics.CARPOS_ANSWERS.labels(
                a.kind.value, metrics.reason_class(a.reason or "") if not _accepts(a) else ""
            ).inc()
            if m.sent_at is not None:
                metrics.CARPOS_ANSWER_SECONDS.observe(max(0.0, (now - m.sent_at).total_seconds()))
        if self.answered is not None:
            told = [
                Answered(
                    m.order_id,
                    m.mke,
                    _accepts(a),
                    fcn=a.fcn,
                    reason=a.reason,
                    order_version=m.order_version,
                    sender_ori=m.sender_ori,
                )
                for m, a in sorted(settled, key=lambda pair: pair[0].id)
                if m.order_id is not None
            ]
            self.answered(s, told, now)


def _sent_time(a: _Answer, message: Any, recorded: datetime) -> datetime:
    """When a message the hub has no record of sending was sent, as honestly as its answer tells:
    the time DOJ made the answer (its envelope's signed CreatedDateTime -- DOJ had the transmission
    by then; the answer carries no earlier receipt time), kept between the message's making and the
    answer's recording (DOJ's clock may be off from the hub's)."""
    return min(recorded, max(message.created_at, a.transmission.header.created))


def _pairs(s: Session, query: Any) -> dict[Any, Any]:
    return {key: value for key, value in s.execute(query)}


def _accepts(answer: codec.Answer) -> bool:
    return answer.kind in (codec.AnswerKind.ACK, codec.AnswerKind.QRY)
