"""Where an order's changes go beyond the registry: the port the order service forwards through.

The order service knows that an order changed and how; what a destination makes of it (CARPOS: an
EPO, MPO, SPO, CPO or XPO in the outbox, :class:`hub.carpos.outbox.CarposForwarding`) belongs to
the destination, which sits above the orders in the layers (docs/ARCHITECTURE.md) and is handed
to :class:`~hub.orders.service.OrderService` by the composition (``hub.api.app``).

Two steps, so that a change the destination would refuse is refused whole: :meth:`check` before
anything is written (a ``ValidationError`` with the destination's reasons), :meth:`record` in the
same transaction as the order's new version (queued with it, or not at all).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy.orm import Session

from hub.accounts.service import Principal
from hub.codes import CancelReason
from hub.db.models import Order
from hub.orders.document import OrderDocument


class Change(enum.Enum):
    """What happened to an order, in the registry's words."""

    ENTER = "ENTER"  # a new ACTIVE order (or a completed draft) its submitter asked to forward
    MODIFY = "MODIFY"  # a new version of an ACTIVE order
    SERVE = "SERVE"  # proof of service recorded
    CANCEL = "CANCEL"  # cancelled (the reason says how)
    EXPIRE = "EXPIRE"  # past its last day in force (the hub's expiry, in its own name)


class Forwarding:
    """Where an order's changes go. This base forwards nothing (a registry without a CARPOS link,
    most unit tests); a destination overrides both steps."""

    def check(self, order: Order | None, doc: OrderDocument, who: Principal, change: Change, path: str) -> None:
        """Refuse (``ValidationError``, violations at ``path``) a change the destination would
        reject; ``order`` is the order as it stands (None for a new one), ``doc`` what it becomes."""
        return None

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
        """Queue the change of version ``version`` of order ``order_id`` in the caller's transaction."""
        return None


NO_FORWARDING = Forwarding()
