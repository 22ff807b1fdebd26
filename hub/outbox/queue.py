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
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, delete, exists, func, select, update
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


def list_query(state: OutboxState | None, kind: str | None = None) -> Select[tuple[OutboxMessage]]:
    query = select(OutboxMessage)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return query.where(OutboxMessage.state == state.value) if state else query


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
