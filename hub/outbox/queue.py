"""The outbox as administrators see it, every kind of message: list, show, requeue, purge dead letters.

What an administrator sees is the outbox's bookkeeping -- kind, message type (CARPOS: the message
key), MCN, state, attempts, the last transport error, times -- never a message's content (DOJ's
answers stay in the CARPOS inbox, for CLETS-certified users). Every change here is audited by its
caller (``/ws/admin`` or the CLI).

What differs by kind -- which dead letters an order still needs, what purging one leaves to tidy,
how a rejected one is fixed -- is the kind's :class:`KindRules` (CARPOS:
:data:`hub.carpos.outbox.QUEUE_RULES`), handed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, and_, case, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from hub import ids
from hub.codes import FINISHED_STATES, OutboxState
from hub.db.models import OutboxMessage
from hub.errors import InvalidState, NotFound, ValidationError, Violation


class KindRules(Protocol):
    """What the queue must know of one kind of message."""

    #: How a REJECTED message of this kind is fixed (the queue never requeues one).
    rejected_hint: str

    def needed(self, s: Session, dead: list[Any]) -> set[int]:
        """Of ``dead`` rows (id, mcn, mke, order_id), the ids whose order still needs them, beyond
        the queue's own rule (a message later ones of its order wait behind)."""

    def release(self, s: Session, message_ids: list[int]) -> None:
        """Before the messages are deleted: let go of what refers to them (their answers' links)."""

    def purged(self, s: Session, order_ids: list[int]) -> None:
        """After: what their orders make of it (their status)."""


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
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


def entry(m: OutboxMessage) -> Entry:
    return Entry(
        id=m.id,
        kind=m.kind,
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


@dataclass(frozen=True)
class Filter:
    """What an administrator narrows the queue to (every field optional): the SOAP ListQueue takes
    state and kind, the console all of them. ``since``/``until``: when the message was queued."""

    state: OutboxState | None = None
    kind: str | None = None
    court: str | None = None
    mke: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order_key: int | None = None
    mcn: str | None = None


def list_query(
    state: OutboxState | None, kind: str | None = None, *, also: Filter = Filter()
) -> Select[tuple[OutboxMessage]]:
    m = OutboxMessage
    query = select(m)
    if kind:
        query = query.where(m.kind == kind)
    if state:
        query = query.where(m.state == state.value)
    if also.court:
        query = query.where(m.sender_ori == also.court)
    if also.mke:
        query = query.where(m.mke == also.mke)
    if also.since:
        query = query.where(m.created_at >= also.since)
    if also.until:
        query = query.where(m.created_at < also.until)
    if also.order_key:
        query = query.where(m.order_id == also.order_key)
    if also.mcn:
        query = query.where(m.mcn == also.mcn)
    return query


#: The states of a message still on its way: waiting to be sent, or sent and waiting for its answer.
WAITING = (OutboxState.QUEUED.value, OutboxState.SENT.value)


def oldest_waiting(s: Session) -> dict[str, datetime]:
    """Per kind, when its oldest message still on its way was queued."""
    m = OutboxMessage
    rows = s.execute(select(m.kind, func.min(m.created_at)).where(m.state.in_(WAITING)).group_by(m.kind))
    return {kind: _aware(first) for kind, first in rows if first is not None}


@dataclass(frozen=True)
class Activity:
    """What happened to one court's messages since a moment: sent, accepted, rejected, died."""

    court: str
    sent: int
    accepted: int
    rejected: int
    dead: int


def activity(s: Session, since: datetime) -> list[Activity]:
    """Per sending ORI (court or agency), the messages sent, answered ACCEPTED or REJECTED, and
    given up (DEAD) since ``since``; one GROUP BY over the rows changed since then."""
    m = OutboxMessage

    def counted(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = s.execute(
        select(
            m.sender_ori,
            counted(m.sent_at >= since),
            counted(and_(m.state == OutboxState.ACCEPTED.value, m.answered_at >= since)),
            counted(and_(m.state == OutboxState.REJECTED.value, m.answered_at >= since)),
            counted(m.state == OutboxState.DEAD.value),
        )
        .where(m.updated_at >= since)
        .group_by(m.sender_ori)
        .order_by(m.sender_ori)
    )
    return [Activity(ori, int(a or 0), int(b or 0), int(c or 0), int(d or 0)) for ori, a, b, c, d in rows]


def throughput(s: Session, now: datetime, hours: int = 24) -> list[tuple[datetime, int, int]]:
    """Messages sent and answered ACCEPTED in each of the last ``hours`` hours (oldest first): one
    SELECT of a sum per bucket, which every database runs alike."""
    m = OutboxMessage
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    edges = [start + timedelta(hours=i) for i in range(hours + 1)]
    columns = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        columns.append(func.sum(case((and_(m.sent_at >= lo, m.sent_at < hi), 1), else_=0)))
        columns.append(
            func.sum(
                case((and_(m.state == OutboxState.ACCEPTED.value, m.answered_at >= lo, m.answered_at < hi), 1), else_=0)
            )
        )
    row = s.execute(select(*columns).where(m.updated_at >= start)).one()
    return [(edges[i], int(row[2 * i] or 0), int(row[2 * i + 1] or 0)) for i in range(hours)]


def _aware(moment: Any) -> datetime:
    """A timestamp an aggregate returned: SQLite's min() of a timestamp column comes back as text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def counts(s: Session, kind: str | None = None) -> dict[str, int]:
    """Messages per state (the queue's summary line), of one kind or of all."""
    query = select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
    rows = s.execute(query.where(OutboxMessage.kind == kind) if kind else query).all()
    return {state: int(n) for state, n in rows}


def kind_of(text: str | None, rules: Mapping[str, KindRules], path: str = "Kind") -> str | None:
    """A kind of message as an operator wrote it (any case), one this hub sends; else the fault."""
    if not text:
        return None
    if text.upper() in rules:
        return text.upper()
    raise ValidationError(f"unknown kind of message {text!r}", [Violation(path, "one of " + ", ".join(sorted(rules)))])


def _rules(rules: Mapping[str, KindRules], kind: str) -> KindRules:
    """The rules of a message's kind; a row of a kind this hub does not know (a newer hub's, rolled
    back) is left alone, with the reason."""
    try:
        return rules[kind]
    except KeyError:
        raise InvalidState(
            f"messages of kind {kind} are not this hub's to handle (it knows {', '.join(rules)})"
        ) from None


def find(s: Session, key: str) -> OutboxMessage:
    """A message by its row number or its MCN."""
    message = (
        s.get(OutboxMessage, int(key))
        if key.isdigit() and len(key) < 10
        else s.scalar(select(OutboxMessage).where(OutboxMessage.mcn == key))
    )
    if message is None:
        raise NotFound(f"no message {key} in the queue")
    return message


def requeue(s: Session, key: str, now: datetime, rules: Mapping[str, KindRules]) -> tuple[Entry, str]:
    """A DEAD message back to QUEUED with its attempts reset (same MCN: harmless if it did arrive);
    a message waiting out a backoff, now. REJECTED ones are fixed as their kind says (CARPOS: a
    CLETS user resubmits the order)."""
    message = find(s, key)
    kind = _rules(rules, message.kind)  # a message of a kind no sender here drains is not requeued
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
            + (f"; a REJECTED one {kind.rejected_hint}" if message.state == "REJECTED" else "")
        )
    s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.state == message.state)
        .values(next_attempt_at=now, last_error=None, updated_at=now, **values)
    )
    s.refresh(message)
    return entry(message), what


def purge_dead(
    s: Session, older_than: timedelta, now: datetime, rules: Mapping[str, KindRules]
) -> tuple[int, list[str]]:
    """Delete DEAD messages whose last change is older than ``older_than``: how many, and the MCNs
    kept because deleting them would strand their order -- a message later ones of its kind and
    order wait behind, or one its kind says the order needs (CARPOS: the EPO of an order DOJ does
    not have); an administrator requeues those. Purged MCNs are never given again (CARPOS:
    ``orders.carpos_seq``)."""
    if older_than < timedelta(days=1):
        raise ValidationError("purge-dead keeps at least a day of dead letters", [Violation("older-than", ">= 1 day")])
    m, later = OutboxMessage, aliased(OutboxMessage)
    waited_on = exists().where(
        later.kind == m.kind,
        later.order_id == m.order_id,
        later.order_seq > m.order_seq,
        later.state.not_in(FINISHED_STATES),
    )
    rows = s.execute(
        select(m.id, m.kind, m.mcn, m.mke, m.order_id, waited_on.label("waited_on")).where(
            m.state == OutboxState.DEAD.value, m.updated_at < now - older_than, m.kind.in_(list(rules))
        )
    ).all()
    kept = {r.id for r in rows if r.order_id and r.waited_on}
    for kind in {r.kind for r in rows}:
        kept |= rules[kind].needed(s, [r for r in rows if r.kind == kind and r.id not in kept])
    doomed = [r for r in rows if r.id not in kept]
    by_kind = {kind: [r for r in doomed if r.kind == kind] for kind in {r.kind for r in doomed}}
    for kind, mine in by_kind.items():
        rules[kind].release(s, [r.id for r in mine])
    if doomed:
        s.execute(delete(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in doomed])))
    for kind, mine in by_kind.items():
        rules[kind].purged(s, sorted({r.order_id for r in mine if r.order_id}))
    return len(doomed), [r.mcn for r in rows if r.id in kept]
