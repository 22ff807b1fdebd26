"""What CARPOS must hear about an order change: the check before, the outbox row with it.

An order submitted with ``SubmitToCarposIndicator`` is entered in CARPOS (EPO); from then on its
changes follow it there: ModifyOrder of the ACTIVE order -> MPO, ServeOrder -> SPO, CancelOrder ->
XPO when entered in error, else CPO (the order no longer in effect); the hub's expiry of an order
(``orders expire``, the worker's job) -> CPO too, sent under the ORI that entered the order (the
hub's own, CA0000000, is no agency of the order's county, and DOJ refuses a change from outside
it): the registry and CARPOS agree that the order is over, whether or not DOJ retires it at EXP.

Before a change is accepted, the transaction it will become is checked with CARPOS's field rules
(:func:`hub.carpos.codec.problems`), so an order CARPOS would reject is refused at intake with DOJ's
reasons. The outbox row is written in the change's own transaction; it names the order version to
send, because an MPO/SPO/CPO/XPO carries the FCN DOJ assigns only when it accepts the EPO -- the
gateway builds the text when it sends.

When DOJ rejects an order's EPO the order is not in CARPOS: its later changes queue nothing (and
what was queued behind the EPO is SUPERSEDED) until a CLETS user fixes the order and calls
ResubmitToCarpos, which enters the order's current version afresh.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from hub import ids, logs
from hub.accounts.service import Principal
from hub.carpos import codec
from hub.carpos.clets import CletsVault
from hub.codes import FINISHED_STATES, CancelReason, CarposStatus, OrderStatus, OutboxState
from hub.db.models import CarposInboxMessage, Order, OrderVersion, OutboxMessage
from hub.errors import InvalidState, ValidationError, Violation
from hub.orders.document import OrderDocument
from hub.orders.forwarding import Change, Forwarding
from hub.orders.service import OrderService

#: The outbox kind of CARPOS transactions (``outbox.kind``).
KIND = "CARPOS"

#: Stands for the values CARPOS supplies later when a transaction is checked before it exists.
_PLACEHOLDER_OCA, _PLACEHOLDER_FCN = "CCP0000000000", "0000000000000"

#: The PostgreSQL channel the gateway LISTENs on; a NOTIFY in the change's transaction is
#: delivered at its commit (and dropped at a rollback), so the gateway never wakes for nothing.
NOTIFY_CHANNEL = "ccpor_carpos"

#: Set in ``Session.info`` (SQLite): ring the gateway's doorbell once the transaction commits.
RING = "ccpor.carpos_ring"


def require_acceptable(doc: OrderDocument, ori: str, mke: codec.Mke, path: str) -> None:
    """Client.ValidationError with every reason CARPOS would reject this order's ``mke``."""
    fcn = None if mke is codec.Mke.EPO else _PLACEHOLDER_FCN
    reasons = codec.problems(codec.from_order(doc, mke=mke, ori=ori, oca=_PLACEHOLDER_OCA, fcn=fcn))
    if reasons:
        raise ValidationError(
            f"CARPOS would reject this order ({len(reasons)} reason{'s' if len(reasons) > 1 else ''}); see detail",
            [Violation(path, reason) for reason in reasons],
        )


def cancel_key(reason: CancelReason) -> codec.Mke:
    return codec.Mke.XPO if reason is CancelReason.ENTERED_IN_ERROR else codec.Mke.CPO


def in_carpos(order: Order) -> bool:
    """The order's changes go to CARPOS: it was submitted there and its entry was not rejected
    (an accepted or still pending EPO)."""
    return bool(order.carpos_requested) and not (
        order.carpos_fcn_sealed is None and order.carpos_status == CarposStatus.REJECTED.value
    )


def enter(s: Session, order_id: int, version: int, who: Principal, now: datetime) -> str:
    """Queue the EPO of the order's ``version`` (the one just written); its MCN."""
    return _enqueue(s, order_id, version, codec.Mke.EPO, who, now)


def follow(s: Session, order: Order, who: Principal, mke: codec.Mke, now: datetime) -> str | None:
    """Queue ``mke`` (MPO/SPO/CPO/XPO) for the order's current version if the order is in CARPOS."""
    if not in_carpos(order):
        return None
    return _enqueue(s, order.id, order.version, mke, who, now)


def resubmit(s: Session, order: Order, who: Principal, now: datetime, path: str) -> tuple[str, codec.Mke]:
    """ResubmitToCarpos: after DOJ rejected something of the order, send its current version again --
    an EPO when the order never got on file, else an MPO (the whole record, service included) for an
    ACTIVE order or its cancel key again for a CANCELLED one; its MCN and key. The order's open
    rejects are acknowledged by it."""
    public = ids.public(ids.ORDER, order.id)
    if not order.carpos_requested:
        raise InvalidState(f"order {public} was never submitted to CARPOS (SubmitOrder with SubmitToCarposIndicator)")
    waiting = s.scalar(
        select(OutboxMessage.state)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.order_id == order.id,
            OutboxMessage.state.not_in(FINISHED_STATES),
        )
        .limit(1)
    )
    if waiting == OutboxState.DEAD.value:
        raise InvalidState(f"a CARPOS message of order {public} is DEAD: an administrator requeues it (RequeueMessage)")
    if waiting is not None:
        raise InvalidState(f"a CARPOS message of order {public} is still {waiting}: wait for DOJ's answer")
    open_rejects = (
        CarposInboxMessage.order_id == order.id,
        CarposInboxMessage.kind == codec.AnswerKind.REJ.value,
        CarposInboxMessage.acknowledged_at.is_(None),
    )
    open_reject = s.scalar(select(CarposInboxMessage.id).where(*open_rejects).limit(1))
    if order.carpos_status != CarposStatus.REJECTED.value and open_reject is None:
        raise InvalidState(f"nothing to resubmit: DOJ has not rejected anything of order {public}")
    if order.carpos_fcn_sealed is None:
        mke = codec.Mke.EPO
    elif order.status == OrderStatus.ACTIVE.value:
        mke = codec.Mke.MPO
    elif order.status == OrderStatus.CANCELLED.value and order.cancel_reason:
        mke = cancel_key(CancelReason(order.cancel_reason))
    else:
        mke = None
    if mke is None or (mke is codec.Mke.EPO and order.status != OrderStatus.ACTIVE.value):
        raise InvalidState(f"order {public} is {order.status}: there is nothing to send CARPOS for it")
    require_acceptable(OrderDocument.from_xml(order.document), who.ori, mke, path)
    mcn = _enqueue(s, order.id, order.version, mke, who, now)
    s.execute(
        update(CarposInboxMessage).where(*open_rejects).values(acknowledged_by_id=who.account_id, acknowledged_at=now)
    )
    return mcn, mke


@dataclass(frozen=True)
class Answered:
    """DOJ's answer to one CARPOS message of an order, as the gateway's receiver tells whoever listens
    (the DSP917 business responses)."""

    order_id: int
    mke: str
    accepted: bool
    fcn: str | None = None
    reason: str | None = None
    #: The order version the answered message carries (the change it was queued with).
    order_version: int | None = None
    #: The ORI the message was sent under (whose transaction DOJ answered).
    sender_ori: str = ""


class CarposForwarding(Forwarding):
    """The order service's :class:`~hub.orders.forwarding.Forwarding` to CARPOS: which message key
    each change becomes, checked before the change and queued with it (the rules above)."""

    _KEYS = {Change.ENTER: codec.Mke.EPO, Change.MODIFY: codec.Mke.MPO, Change.SERVE: codec.Mke.SPO}

    def check(self, order: Order | None, doc: OrderDocument, who: Principal, change: Change, path: str) -> None:
        if change is Change.ENTER or (order is not None and change in self._KEYS and in_carpos(order)):
            require_acceptable(doc, who.ori, self._KEYS[change], path)

    def record(
        self,
        s: Session,
        order: Order | None,
        order_id: int,
        version: int,
        who: Principal,
        change: Change,
        now: datetime,
        reason: CancelReason | None = None,
    ) -> None:
        if change is Change.ENTER:
            enter(s, order_id, version, who, now)
        elif change is Change.EXPIRE and order is not None:
            follow(s, order, on_behalf_of_entry(s, order, who), codec.Mke.CPO, now)
        elif order is not None:
            assert change is not Change.CANCEL or reason is not None, "a cancel names its reason"
            follow(s, order, who, cancel_key(reason) if reason is not None else self._KEYS[change], now)


def on_behalf_of_entry(s: Session, order: Order, who: Principal) -> Principal:
    """``who`` (the hub itself) sending under the ORI of the order's latest entry (its EPO's sender),
    else of its issuing court."""
    entered = s.scalar(
        select(OutboxMessage.sender_ori)
        .where(OutboxMessage.kind == KIND, OutboxMessage.order_id == order.id, OutboxMessage.mke == codec.Mke.EPO.value)
        .order_by(OutboxMessage.order_seq.desc())
        .limit(1)
    )
    return dataclasses.replace(who, ori=entered or order.court_ori)


def resubmit_order(
    s: Session, orders: OrderService, who: Principal, order_id: str, path: str
) -> tuple[Order, str, str]:
    """ResubmitToCarpos of ``order_id`` by ``who`` (who may change it now): :func:`resubmit`; the
    order as it stands after, the MCN and the message key queued."""
    order = orders.changeable(s, who, order_id)
    mcn, mke = resubmit(s, order, who, orders.clock(), path)
    s.refresh(order)
    return order, mcn, mke.value


class CarposQueueRules:
    """What the outbox's queue must know of CARPOS messages (:class:`hub.outbox.queue.KindRules`)."""

    rejected_hint = "is fixed and resubmitted (ResubmitToCarpos)"

    def needed(self, s: Session, dead: list[Any]) -> set[int]:
        """An order's entry (an EPO of an order CARPOS does not have: no FCN)."""
        entries = [r for r in dead if r.order_id and r.mke == codec.Mke.EPO.value]
        if not entries:
            return set()
        off_file = set(
            s.scalars(
                select(Order.id).where(Order.id.in_({r.order_id for r in entries}), Order.carpos_fcn_sealed.is_(None))
            )
        )
        return {r.id for r in entries if r.order_id in off_file}

    def release(self, s: Session, message_ids: list[int]) -> None:
        s.execute(
            update(CarposInboxMessage).where(CarposInboxMessage.message_id.in_(message_ids)).values(message_id=None)
        )

    def purged(self, s: Session, order_ids: list[int]) -> None:
        refresh_statuses(s, order_ids)


QUEUE_RULES = CarposQueueRules()


def query(s: Session, who: Principal, tx: codec.Transaction, vault: CletsVault, now: datetime) -> str:
    """Queue a QPO (checked: ValidationError with DOJ's reasons); its MCN. The query text is kept sealed."""
    reasons = codec.problems(tx)
    if reasons:
        raise ValidationError(
            "CARPOS would reject this query; see detail", [Violation("/crp:QueryCarpos", r) for r in reasons]
        )
    mcn = f"QPO{secrets.randbelow(10**13):013d}"
    _insert(s, mcn, codec.Mke.QPO, who, now, payload_sealed=vault.seal_query(mcn, codec.encode(tx)))
    return mcn


def _enqueue(s: Session, order_id: int, version: int, mke: codec.Mke, who: Principal, now: datetime) -> str:
    # The order's own counter, advanced under its row lock: concurrent changes get distinct numbers,
    # and a number is never given twice (a purged message's MCN would be answered from DOJ's ledger).
    seq = s.execute(
        update(Order)
        .where(Order.id == order_id)
        .values(carpos_seq=Order.carpos_seq + 1, carpos_requested=True, carpos_status=CarposStatus.PENDING.value)
        .returning(Order.carpos_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    mcn = f"{ids.public(ids.ORDER, order_id)}-{seq:03d}"
    _insert(s, mcn, mke, who, now, order_id=order_id, order_seq=seq, order_version=version)
    return mcn


def _insert(s: Session, mcn: str, mke: codec.Mke, who: Principal, now: datetime, **columns: object) -> None:
    """One QUEUED outbox row, due now; the gateway is woken when the transaction commits."""
    s.execute(
        insert(OutboxMessage.__table__),
        dict(
            kind=KIND,
            mcn=mcn,
            mke=mke.value,
            sender_ori=who.ori,
            requested_by_id=who.account_id,
            state=OutboxState.QUEUED.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
            request_id=logs.current_request_id() or None,
            **columns,
        ),
    )
    ring(s)


def refresh_statuses(s: Session, order_ids: list[int]) -> None:
    """Write each order's CARPOS status as its messages now stand (:func:`order_statuses`)."""
    if not order_ids:
        return
    table = Order.__table__
    s.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(carpos_status=bindparam("b_status")),
        [{"b_id": o, "b_status": status.value} for o, status in order_statuses(s, order_ids).items()],
    )


def order_statuses(s: Session, order_ids: list[int]) -> dict[int, CarposStatus]:
    """Per order: PENDING while any of its messages is unfinished (queued, sent, dead); else how DOJ
    answered the last one (ACCEPTED for an order left with no message: only an order on file can
    have all its messages purged)."""
    states: dict[int, list[str]] = {o: [] for o in order_ids}
    for order_id, state in s.execute(
        select(OutboxMessage.order_id, OutboxMessage.state)
        .where(
            OutboxMessage.kind == KIND,
            OutboxMessage.order_id.in_(order_ids),
            OutboxMessage.state != OutboxState.SUPERSEDED.value,
        )
        .order_by(OutboxMessage.order_id, OutboxMessage.order_seq)
    ):
        states[order_id].append(state)
    out = {}
    for order_id, seq in states.items():
        if any(state not in FINISHED_STATES for state in seq):
            out[order_id] = CarposStatus.PENDING
        elif not seq or seq[-1] == OutboxState.ACCEPTED.value:
            out[order_id] = CarposStatus.ACCEPTED
        else:
            out[order_id] = CarposStatus.REJECTED
    return out


def ring(s: Session) -> None:
    """Wake the gateway when this transaction commits (PostgreSQL: NOTIFY; SQLite: the doorbell
    socket, rung by the commit hook of :func:`hub.carpos.doorbell.install_ringer`)."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"))
    else:
        s.info[RING] = True


#: What the text of one outbox message is made from (a SELECT's row: the message's columns, its
#: order's sealed FCN, the order version's document) -- the gateway's and the console's query.
def text_inputs(message_ids: list[int]) -> Any:
    m = OutboxMessage
    return (
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
        .where(m.id.in_(message_ids))
    )


def text_of(row: Any, vault: CletsVault) -> tuple[str, str | None]:
    """A CARPOS message's NCIC-style text (CLETS data) and the order reference it carries (its OCA),
    from a :func:`text_inputs` row: a query's sealed text opened, a transaction encoded from the order
    version it names (checked: ``CarposError`` with DOJ's reasons; ``ValueError`` when an input is missing)."""
    if row.mke == codec.Mke.QPO.value:
        return vault.open_query(row.mcn, row.payload_sealed), None
    if row.document is None:
        raise ValueError("the order version it names is missing")
    mke = codec.Mke(row.mke)
    fcn = None
    if mke is not codec.Mke.EPO:
        if row.carpos_fcn_sealed is None:
            raise ValueError("the order has no FCN (its EPO was never accepted)")
        fcn = vault.open_fcn(row.order_id, row.carpos_fcn_sealed)
    reference = ids.public(ids.ORDER, row.order_id)
    tx = codec.from_order(OrderDocument.from_xml(row.document), mke=mke, ori=row.sender_ori, oca=reference, fcn=fcn)
    return codec.encode(tx), reference
