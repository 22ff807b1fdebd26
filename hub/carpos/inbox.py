"""View CARPOS Messages: what DOJ sent, for the CLETS-certified users who may read it.

A CLETS-certified user sees the messages of their own organization (the order's owner, the asker
of a query, the addressee of a notice) and the answers to transactions sent under their own ORI
(a sheriff completing a court's order); nobody else sees any. Texts are opened from their sealed
form only here, for the response, and never logged or audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from hub import ids
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.carpos import codec, outbox
from hub.carpos.clets import CletsVault
from hub.codes import OutboxState
from hub.db.models import Account, CarposInboxMessage, OutboxMessage
from hub.errors import InvalidState, NotFound


@dataclass(frozen=True)
class View:
    """One message as a CLETS user reads it."""

    message: CarposInboxMessage
    lines: tuple[str, ...]
    answer: codec.Answer | None
    mke: str | None
    relates_to: str | None
    acknowledged_by: str | None

    @property
    def public_id(self) -> str:
        return ids.public(ids.CARPOS_MESSAGE, self.message.id)


def visible(who: Principal) -> Select[tuple[CarposInboxMessage]]:
    permissions.require_clets(who)
    sent_by_us = select(OutboxMessage.id).where(OutboxMessage.kind == outbox.KIND, OutboxMessage.sender_ori == who.ori)
    return select(CarposInboxMessage).where(
        or_(CarposInboxMessage.organization_id == who.organization_id, CarposInboxMessage.message_id.in_(sent_by_us))
    )


def criteria(
    who: Principal, *, needs_action_only: bool = True, order_id: str | None = None, kind: str | None = None
) -> Select[tuple[CarposInboxMessage]]:
    query = visible(who)
    if needs_action_only:
        query = query.where(CarposInboxMessage.needs_action.is_(True), CarposInboxMessage.acknowledged_at.is_(None))
    if order_id:
        query = query.where(CarposInboxMessage.order_id == ids.parse(ids.ORDER, order_id))
    if kind:
        query = query.where(CarposInboxMessage.kind == kind)
    return query


def view(s: Session, message: CarposInboxMessage, vault: CletsVault) -> View:
    (one,) = views(s, [message], vault)
    return one


def views(s: Session, messages: list[CarposInboxMessage], vault: CletsVault) -> list[View]:
    """The messages as their reader sees them, with the transaction each answers and who
    acknowledged it: two queries for a whole page, not two per message."""
    sent_ids = {m.message_id for m in messages if m.message_id}
    sent = {
        r.id: r
        for r in s.execute(
            select(OutboxMessage.id, OutboxMessage.mke, OutboxMessage.mcn).where(OutboxMessage.id.in_(sent_ids))
        )
    } if sent_ids else {}  # fmt: skip
    by_ids = {m.acknowledged_by_id for m in messages if m.acknowledged_by_id}
    names = dict(
        (row.id, row.username) for row in s.execute(select(Account.id, Account.username).where(Account.id.in_(by_ids)))
    ) if by_ids else {}  # fmt: skip
    out = []
    for message in messages:
        lines = vault.open_answer(message.doj_mcn, message.text_sealed)
        try:
            answer: codec.Answer | None = codec.parse_answer(lines[0])
        except codec.CarposError:
            answer = None
        answered = sent.get(message.message_id) if message.message_id else None
        mke, mcn = (answered.mke, answered.mcn) if answered else (None, None)
        out.append(View(message, lines, answer, mke, mcn, names.get(message.acknowledged_by_id)))
    return out


def acknowledge(s: Session, who: Principal, public_id: str, now: datetime, vault: CletsVault) -> View:
    message_id = ids.parse(ids.CARPOS_MESSAGE, public_id)
    message = s.scalar(visible(who).where(CarposInboxMessage.id == message_id))
    if message is None:
        raise NotFound(f"no CARPOS message {public_id} for {who.ori}")
    if not message.needs_action:
        raise InvalidState(f"{public_id} is an acknowledgement from DOJ; it needs no action")
    if message.acknowledged_at is None:
        s.execute(
            update(CarposInboxMessage)
            .where(CarposInboxMessage.id == message.id, CarposInboxMessage.acknowledged_at.is_(None))
            .values(acknowledged_by_id=who.account_id, acknowledged_at=now)
        )
        s.refresh(message)
    return view(s, message, vault)


@dataclass(frozen=True)
class QueryOutcome:
    status: str  # ANSWERED, REJECTED, UNREADABLE, PENDING
    reason: str | None
    records: tuple[codec.Record, ...]
    lines: tuple[str, ...]  # DOJ's answer as it came; empty while there is none


#: A query DOJ has not answered yet (QueryCarpos's own answer).
PENDING = QueryOutcome("PENDING", None, (), ())


def query_outcome(s: Session, who: Principal, mcn: str, vault: CletsVault) -> QueryOutcome:
    """Where the query ``mcn`` stands, for ``who``: DOJ's answer if it came, else PENDING.

    ``who`` sees it as they would see its answer in the inbox (:func:`visible`); while DOJ has not
    answered, the organization it was sent under (whose CLETS users will see that answer). For
    anyone else, and for an MCN that is no query, Client.NotFound: a query's existence does not leak.
    """
    sent = s.scalar(
        select(OutboxMessage).where(
            OutboxMessage.kind == outbox.KIND, OutboxMessage.mcn == mcn, OutboxMessage.mke == codec.Mke.QPO.value
        )
    )
    answer = (
        s.scalar(visible(who).where(CarposInboxMessage.message_id == sent.id).order_by(CarposInboxMessage.id).limit(1))
        if sent
        else None
    )
    if sent is None or (answer is None and sent.sender_ori != who.ori):
        raise NotFound(f"no CARPOS query {mcn} for {who.ori}")
    if answer is None:
        dead = sent.state == OutboxState.DEAD.value
        return QueryOutcome("REJECTED", sent.last_error, (), ()) if dead else PENDING
    lines = vault.open_answer(answer.doj_mcn, answer.text_sealed)
    try:
        return _read_answer(lines)
    except codec.CarposError as err:
        # The gateway keeps such an answer on purpose (it settles the query as a reject): the CLETS
        # user reads DOJ's lines themselves, as ListCarposMessages shows them.
        return QueryOutcome("UNREADABLE", "; ".join(err.reasons), (), lines)


def _read_answer(lines: tuple[str, ...]) -> QueryOutcome:
    """DOJ's answer to a query, read; CarposError if it is not one the hub can read."""
    parsed = codec.parse_answer(lines[0])
    if parsed.kind is codec.AnswerKind.REJ:
        return QueryOutcome("REJECTED", parsed.reason, (), lines)
    if parsed.kind is not codec.AnswerKind.QRY:
        raise codec.CarposError([f"NOT A QUERY ANSWER ({parsed.kind.value})"])
    return QueryOutcome("ANSWERED", None, tuple(codec.parse_record(line) for line in lines[1:]), lines)
