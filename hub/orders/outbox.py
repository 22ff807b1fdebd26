"""What CARPOS must hear about an order change: the check before, the outbox row with it.

An order submitted with ``SubmitToCarposIndicator`` is entered in CARPOS (EPO); from then on its
changes follow it there: ModifyOrder of the ACTIVE order -> MPO, ServeOrder -> SPO, CancelOrder ->
XPO when entered in error, else CPO (the order no longer in effect). Expiry sends nothing: CARPOS
retires an order at its own EXP.

Before the change is accepted, the transaction it will become is checked with CARPOS's field rules
(:func:`gateway.carpos.problems`), so an order CARPOS would reject is refused at intake with DOJ's
reasons. The outbox row is written in the change's own transaction; it names the order version to
send, because an MPO/SPO/CPO/XPO carries the FCN DOJ assigns only when it accepts the EPO -- the
gateway builds the text when it sends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gateway import carpos
from hub import ids
from hub.accounts.service import Principal
from hub.codes import CancelReason, OutboxState
from hub.db.models import CarposMessage, Order
from hub.errors import ValidationError, Violation
from hub.orders.document import OrderDocument

#: Stands for the values CARPOS supplies later when a transaction is checked before it exists.
_PLACEHOLDER_OCA, _PLACEHOLDER_FCN = "CCP0000000000", "0000000000000"


def require_acceptable(doc: OrderDocument, who: Principal, mke: carpos.Mke, path: str) -> None:
    """Client.ValidationError with every reason CARPOS would reject this order's ``mke``."""
    fcn = None if mke is carpos.Mke.EPO else _PLACEHOLDER_FCN
    reasons = carpos.problems(carpos.from_order(doc, mke=mke, ori=who.ori, oca=_PLACEHOLDER_OCA, fcn=fcn))
    if reasons:
        raise ValidationError(
            f"CARPOS would reject this order ({len(reasons)} reason{'s' if len(reasons) > 1 else ''}); see detail",
            [Violation(path, reason) for reason in reasons],
        )


def cancel_key(reason: CancelReason) -> carpos.Mke:
    return carpos.Mke.XPO if reason is CancelReason.ENTERED_IN_ERROR else carpos.Mke.CPO


def enqueue(s: Session, order: Order, mke: carpos.Mke, now: datetime) -> str:
    """Queue ``mke`` for the order's current version, after the order's earlier messages; its MCN."""
    seq = (s.scalar(select(func.max(CarposMessage.order_seq)).where(CarposMessage.order_id == order.id)) or 0) + 1
    mcn = f"{ids.public(ids.ORDER, order.id)}-{seq:03d}"
    s.connection().execute(
        insert(CarposMessage.__table__),
        dict(
            order_id=order.id,
            order_seq=seq,
            order_version=order.version,
            mke=mke.value,
            mcn=mcn,
            state=OutboxState.QUEUED.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        ),
    )
    return mcn
