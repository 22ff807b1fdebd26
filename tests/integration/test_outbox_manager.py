"""The outbox is one mechanism for every kind of message: a second kind beside CARPOS uses the same
rows, claims, leases, retries, dead letters, per-key order, queue views and audit, with nothing of
its own but its name and its queue rules (hub.outbox)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.audit import AuditTrail
from hub.carpos import outbox as carpos_outbox
from hub.clock import utcnow
from hub.db.engine import Database
from hub.db.models import AuditEvent, CarposInboxMessage, OutboxMessage
from hub.errors import InvalidState, ValidationError
from hub.masterkey import MasterKey
from hub.orders.service import OrderService
from hub.outbox import queue
from hub.outbox.manager import OutboxManager, Outcome
from hub.outbox.retry import RetryPolicy
from tests.support.orders import order, order_element

COURT = "COURT"  # a kind of the next issue's shape: business responses pushed to a court


class CourtRules:
    rejected_hint = "is answered by the court's own correction"

    def needed(self, s: Session, dead: list[Any]) -> set[int]:
        return set()

    def release(self, s: Session, message_ids: list[int]) -> None:
        return None

    def purged(self, s: Session, order_ids: list[int]) -> None:
        return None


KINDS = {carpos_outbox.KIND: carpos_outbox.QUEUE_RULES, COURT: CourtRules()}


def enqueue(db: Database, kind: str, mcn: str, order_id: int | None, seq: int | None) -> None:
    now = utcnow()
    with db.unit_of_work() as s:
        s.execute(
            insert(OutboxMessage.__table__),
            dict(kind=kind, mcn=mcn, mke="RSP", sender_ori="CA019015J", state="QUEUED", attempts=0,
                 order_id=order_id, order_seq=seq, next_attempt_at=now, created_at=now, updated_at=now),
        )  # fmt: skip


def manager(db: Database, kind: str, **kw: Any) -> OutboxManager:
    trail = AuditTrail(MasterKey(os.urandom(32)))
    return OutboxManager(db, trail, RetryPolicy(max_attempts=2), kind=kind, category=kind, **kw)


def test_a_second_kind_shares_the_outbox_and_nothing_crosses_between_kinds(db, clerk):
    with db.unit_of_work() as s:  # an order in CARPOS: its EPO is queued (and stays unsent here)
        receipt = OrderService(forwarding=carpos_outbox.CarposForwarding()).submit(
            s, clerk, order_element(order()), carpos_requested=True
        )
    order_id = int(receipt.order_id[3:])
    enqueue(db, COURT, "RSP-1", order_id, 1)  # the court's answer about the same order ...
    enqueue(db, COURT, "RSP-2", order_id, 2)  # ... and a later one, which waits behind it
    court = manager(db, COURT)
    first = court.claim()
    # Only its own kind, and per-key order within the kind: the unsent EPO of the same order does
    # not hold the court's message back, but the court's first message holds its second.
    assert [(c.kind, c.mcn) for c in first] == [(COURT, "RSP-1")]
    assert [c.mcn for c in manager(db, carpos_outbox.KIND).claim()] == [f"{receipt.order_id}-001"]
    court.record([Outcome(first[0], taken=True)])
    with db.unit_of_work() as s:
        court.settle(s, [(first[0], True)], utcnow())
    (second,) = court.claim()
    assert second.mcn == "RSP-2"
    court.record([Outcome(second, why="court service down", transient=True)])  # retried later ...
    with db.unit_of_work() as s:
        s.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    (again,) = court.claim()
    court.record([Outcome(again, why="court service down", transient=True)])  # ... until the policy gives up
    with db.read() as s:
        states = {mcn: state for mcn, state in s.execute(select(OutboxMessage.mcn, OutboxMessage.state))}
        events = s.execute(
            select(AuditEvent.operation, AuditEvent.outcome)
            .where(AuditEvent.category == COURT)
            .order_by(AuditEvent.seq)
        ).all()
        listed = [queue.entry(m) for m in s.scalars(queue.list_query(None, COURT))]
    assert states == {f"{receipt.order_id}-001": "QUEUED", "RSP-1": "ACCEPTED", "RSP-2": "DEAD"}
    # every failed attempt is audited (the message's history), then the death
    assert [tuple(e) for e in events] == [
        ("COURT RSP", "SENT"),
        ("COURT RSP", "FAILED (attempt 1)"),
        ("COURT RSP", "DEAD"),
    ]
    assert {(e.kind, e.mcn, e.state) for e in listed} == {(COURT, "RSP-1", "ACCEPTED"), (COURT, "RSP-2", "DEAD")}
    with db.unit_of_work() as s:  # the administrator's requeue and purge work on it by its own rules
        entry, what = queue.requeue(s, "RSP-2", utcnow(), KINDS)
        assert entry.state == "QUEUED" and "requeued dead RSP RSP-2" in what
        s.execute(OutboxMessage.__table__.update().where(OutboxMessage.mcn == "RSP-2").values(
            state="DEAD", updated_at=utcnow() - timedelta(days=30)))  # fmt: skip
        assert queue.purge_dead(s, timedelta(days=7), utcnow(), KINDS) == (1, [])
    with db.read() as s:
        assert set(s.scalars(select(OutboxMessage.mcn))) == {f"{receipt.order_id}-001", "RSP-1"}


def test_doj_s_answer_settles_only_a_carpos_message_even_if_another_kind_has_its_number(db, keyset, tmp_path):
    """The receiving side keeps to its kind too: DOJ answering an MCN that a court's message also
    carries (another kind's numbering) neither settles nor marks that message."""
    from hub.carpos import codec
    from hub.carpos.envelope import Header, MessageKey, Transmission
    from tests.support.carpos import exchange

    ex = exchange(db, keyset, tmp_path)
    enqueue(db, COURT, "RSP-1", None, None)
    (claimed,) = manager(db, COURT).claim()
    manager(db, COURT).record([Outcome(claimed, taken=True)])  # SENT, waiting for the court's answer
    now = ex.clock()
    line = codec.answer_text(codec.Answer(codec.AnswerKind.ACK, "RSP-1", fcn="1234567890123"))
    with ex.switch.db.unit_of_work() as s:
        ex.switch.post(s, Transmission(Header("DOJN0000000000000001", "CADOJ0000", "CA019015J",
                                              MessageKey.ACK, now, now, None), (line,)), now)  # fmt: skip
    assert ex.gateway.poll() == (1, 0)  # DOJ's message is read and kept (for a CLETS user), ...
    with db.read() as s:
        row = s.execute(
            select(OutboxMessage.state, OutboxMessage.answered_at).where(OutboxMessage.mcn == "RSP-1")
        ).one()
        answered = s.scalar(
            select(CarposInboxMessage.message_id).where(CarposInboxMessage.doj_mcn == "DOJN0000000000000001")
        )
    assert tuple(row) == ("SENT", None) and answered is None  # ... but the court's message is not DOJ's to settle


def test_a_kind_this_hub_does_not_know_is_left_alone_with_the_reason(db):
    enqueue(db, COURT, "RSP-9", None, None)  # e.g. written by a newer hub, then rolled back
    only_carpos = {carpos_outbox.KIND: carpos_outbox.QUEUE_RULES}
    with db.unit_of_work() as s:
        s.execute(OutboxMessage.__table__.update().values(state="DEAD", updated_at=utcnow() - timedelta(days=30)))
    with db.unit_of_work() as s, pytest.raises(InvalidState, match="kind COURT are not this hub's"):
        queue.requeue(s, "RSP-9", utcnow(), only_carpos)  # no sender here would take it
    with db.unit_of_work() as s:
        assert queue.purge_dead(s, timedelta(days=7), utcnow(), only_carpos) == (0, [])  # not purged blind
    with pytest.raises(ValidationError, match="unknown kind of message 'court'"):
        queue.kind_of("court", only_carpos)
    assert queue.kind_of("carpos", only_carpos) == "CARPOS"


def test_a_message_never_sent_goes_back_without_spending_an_attempt(db):
    """A court still busy, or a batch whose time ran out before a message's turn: the message waits
    (QUEUED, due shortly) with its attempts as they were -- however often that happens, it never dies
    of attempts it did not make (the policy here allows two)."""
    enqueue(db, COURT, "RSP-9", None, None)
    court = manager(db, COURT)
    for _ in range(5):
        (claim,) = court.claim()
        court.record([Outcome(claim, why="not sent: the court has not answered an earlier call", untried=True)])
        with db.unit_of_work() as s:
            row = s.scalars(select(OutboxMessage).where(OutboxMessage.mcn == "RSP-9")).one()
            assert (row.state, row.attempts, row.lease_owner) == ("QUEUED", 0, None)
            assert row.next_attempt_at > utcnow() and "earlier call" in (row.last_error or "")
            s.execute(OutboxMessage.__table__.update().values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    with db.read() as s:  # nothing was sent: nothing to audit
        assert s.scalar(select(AuditEvent.id).where(AuditEvent.category == COURT)) is None
