"""The CARPOS queue as administrators see it: list, show, requeue, purge dead letters.

What an administrator sees is the outbox's bookkeeping -- message key, MCN, state, attempts, the
last transport error, times -- never CLETS data (DOJ's answers stay in the inbox, for CLETS-certified
users). Every change here is audited by its caller (``/ws/admin`` or the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from hub import ids
from hub.carpos import codec, outbox
from hub.codes import FINISHED_STATES, OutboxState
from hub.db.models import CarposInboxMessage, CarposMessage, Order
from hub.errors import InvalidState, NotFound, ValidationError, Violation


@dataclass(frozen=True)
class Entry:
    id: int
    mcn: str
    mke: str
    state: str
    attempts: int
    order_id: str | None
    sender_ori: str
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    leased_by: str | None

    def as_dict(self) -> dict[str, object]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(self).items()}


def entry(m: CarposMessage) -> Entry:
    return Entry(
        id=m.id,
        mcn=m.mcn,
        mke=m.mke,
        state=m.state,
        attempts=m.attempts,
        order_id=ids.public(ids.ORDER, m.order_id) if m.order_id else None,
        sender_ori=m.sender_ori,
        next_attempt_at=m.next_attempt_at,
        last_error=m.last_error,
        created_at=m.created_at,
        updated_at=m.updated_at,
        sent_at=m.sent_at,
        answered_at=m.answered_at,
        leased_by=m.lease_owner,
    )


def state_of(text: str | None, path: str = "State") -> OutboxState | None:
    if not text:
        return None
    try:
        return OutboxState(text.upper())
    except ValueError:
        raise ValidationError(
            f"unknown queue state {text!r}", [Violation(path, "one of " + ", ".join(s.value for s in OutboxState))]
        ) from None


def list_query(state: OutboxState | None) -> Select[tuple[CarposMessage]]:
    query = select(CarposMessage)
    return query.where(CarposMessage.state == state.value) if state else query


def counts(s: Session) -> dict[str, int]:
    """Messages per state (the queue's summary line)."""
    rows = s.execute(select(CarposMessage.state, func.count()).group_by(CarposMessage.state)).all()
    return {state: int(n) for state, n in rows}


def find(s: Session, key: str) -> CarposMessage:
    """A message by its row number or its MCN."""
    message = (
        s.get(CarposMessage, int(key))
        if key.isdigit() and len(key) < 10
        else s.scalar(select(CarposMessage).where(CarposMessage.mcn == key))
    )
    if message is None:
        raise NotFound(f"no CARPOS message {key} in the queue")
    return message


def requeue(s: Session, key: str, now: datetime) -> tuple[Entry, str]:
    """A DEAD message back to QUEUED with its attempts reset (same MCN: harmless if it did arrive);
    a message waiting out a backoff, now. REJECTED ones are fixed and resubmitted by a CLETS user."""
    message = find(s, key)
    if message.state == OutboxState.DEAD.value:
        values: dict[str, object] = {"state": OutboxState.QUEUED.value, "attempts": 0}
        what = f"requeued dead {message.mke} {message.mcn} (was: {message.last_error or 'no error recorded'})"
    elif message.state in (OutboxState.QUEUED.value, OutboxState.SENT.value) and message.lease_owner is None:
        values = {}
        what = f"{message.mke} {message.mcn} tried again now (was due {message.next_attempt_at:%Y-%m-%dT%H:%M:%SZ})"
    else:
        raise InvalidState(
            f"{message.mcn} is {message.state}"
            + (" and being sent" if message.lease_owner else "")
            + ": only DEAD messages, or messages waiting for their next attempt, can be requeued"
            + ("; a REJECTED one is fixed and resubmitted (ResubmitToCarpos)" if message.state == "REJECTED" else "")
        )
    s.execute(
        update(CarposMessage)
        .where(CarposMessage.id == message.id, CarposMessage.state == message.state)
        .values(next_attempt_at=now, last_error=None, updated_at=now, **values)
    )
    s.refresh(message)
    return entry(message), what


def purge_dead(s: Session, older_than: timedelta, now: datetime) -> tuple[int, list[str]]:
    """Delete DEAD messages whose last change is older than ``older_than``: how many, and the MCNs
    kept because deleting them would strand their order -- an order's entry (an EPO of an order CARPOS
    does not have) or a message later ones of its order wait behind; an administrator requeues those.
    Purged MCNs are never given again (``orders.carpos_seq``)."""
    if older_than < timedelta(days=1):
        raise ValidationError("purge-dead keeps at least a day of dead letters", [Violation("older-than", ">= 1 day")])
    m, later = CarposMessage, aliased(CarposMessage)
    waited_on = exists().where(
        later.order_id == m.order_id, later.order_seq > m.order_seq, later.state.not_in(FINISHED_STATES)
    )
    rows = s.execute(
        select(m.id, m.mcn, m.mke, m.order_id, waited_on.label("waited_on"), Order.carpos_fcn_sealed)
        .outerjoin(Order, Order.id == m.order_id)
        .where(m.state == OutboxState.DEAD.value, m.updated_at < now - older_than)
    ).all()
    entry_key = codec.Mke.EPO.value
    needed = [r for r in rows if r.order_id and (r.waited_on or (r.mke == entry_key and r.carpos_fcn_sealed is None))]
    kept = {r.id for r in needed}
    doomed = [r for r in rows if r.id not in kept]
    if doomed:
        gone = [r.id for r in doomed]
        s.execute(update(CarposInboxMessage).where(CarposInboxMessage.message_id.in_(gone)).values(message_id=None))
        s.execute(delete(CarposMessage).where(CarposMessage.id.in_(gone)))
        outbox.refresh_statuses(s, sorted({r.order_id for r in doomed if r.order_id}))
    return len(doomed), [r.mcn for r in needed]
