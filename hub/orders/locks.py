"""Edit locks on orders: who may hold one, what it blocks, and how an administrator removes one.

The definition (docs/SECURITY.md, "Order locks"): an order is *locked* while a user holds an edit
lock on it (``LockOrder``), typically while a person reviews and completes it in a court or sheriff
system. While the lock is held, nobody else may change the order (modify, serve, cancel, attach an
image, complete a draft) -- they get ``Client.InvalidState`` naming the holder. Reading is never
blocked. A lock ends when its holder releases it (``ReleaseOrder``), when it lapses
(:data:`LOCK_TTL` after it was taken or renewed -- the CJIS 30-minute idle limit), or when an
administrator removes it (``UnlockOrder``).

``UnlockOrder`` is safe because it names the lock it removes: the administrator passes the
``LockedDateTime`` that ``SearchLockedOrders`` listed, and the guarded ``UPDATE ... WHERE
locked_at = :listed`` removes nothing if the lock was released and taken again meanwhile
(``Client.Conflict``). Removing a lock never changes the order or its version, so the former
holder's next change still goes through the ordinary version check and cannot overwrite anything
it did not read.

The guard is also in SQL: every change's ``UPDATE`` carries ``locked_by_id IS NULL OR locked_by_id
= :me OR lock_expires_at <= :now`` (``hub.orders.records.guarded_update``), so a lock taken between the
check here and the write still wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from hub import ids
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.codes import OrderStatus
from hub.db.models import Account, Order, Organization
from hub.errors import Conflict, InvalidState

#: How long an edit lock lasts after it is taken (or renewed by its holder's LockOrder).
LOCK_TTL = timedelta(minutes=30)


@dataclass(frozen=True)
class LockInfo:
    order_id: str
    holder: str
    holder_ori: str
    locked_at: datetime
    expires_at: datetime


def unlocked_for(editor_id: int, now: datetime) -> object:
    """SQL: the order is not locked against ``editor_id`` at ``now``."""
    return or_(Order.locked_by_id.is_(None), Order.locked_by_id == editor_id, Order.lock_expires_at <= now)


def require_unlocked(s: Session, who: Principal, order: Order, now: datetime) -> None:
    """InvalidState if another user holds a live edit lock on ``order``."""
    if order.locked_by_id is None or order.locked_by_id == who.account_id:
        return
    if order.lock_expires_at is not None and order.lock_expires_at <= now:
        return
    info = _info(s, order.id)
    raise InvalidState(
        f"order {info.order_id} is locked for editing by {info.holder} ({info.holder_ori}) until "
        f"{info.expires_at:%Y-%m-%dT%H:%M:%SZ}; ask them to release it, or an administrator to unlock it"
    )


def lock(s: Session, who: Principal, order: Order, now: datetime) -> LockInfo:
    """Take (or, for its holder, renew) the edit lock on an order the caller may change."""
    permissions.require_change(who, order)
    if order.status not in (OrderStatus.DRAFT.value, OrderStatus.ACTIVE.value):
        raise InvalidState(f"order {ids.public(ids.ORDER, order.id)} is {order.status}; only DRAFT and ACTIVE orders")
    result = s.execute(
        update(Order)
        .where(Order.id == order.id, unlocked_for(who.account_id, now))
        .values(
            locked_by_id=who.account_id,
            # A renewal keeps the original time: it identifies the lock for UnlockOrder.
            locked_at=func.coalesce(
                select(Order.locked_at)
                .where(Order.id == order.id, Order.locked_by_id == who.account_id, Order.lock_expires_at > now)
                .scalar_subquery(),
                now,
            ),
            lock_expires_at=now + LOCK_TTL,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        s.refresh(order)
        require_unlocked(s, who, order, now)  # names the holder
        raise Conflict("the lock changed meanwhile: try again")  # pragma: no cover - lapsed in between
    return _info(s, order.id)


def release(s: Session, who: Principal, order: Order) -> None:
    """The holder gives up its lock."""
    result = s.execute(
        update(Order)
        .where(Order.id == order.id, Order.locked_by_id == who.account_id)
        .values(locked_by_id=None, locked_at=None, lock_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(f"you hold no lock on order {ids.public(ids.ORDER, order.id)}")


def unlock(s: Session, order_id: str, listed_locked_at: datetime) -> LockInfo:
    """An administrator removes the lock taken at ``listed_locked_at`` (and only that one)."""
    key = ids.parse(ids.ORDER, order_id)
    current = _info(s, key) if s.scalar(select(Order.locked_by_id).where(Order.id == key)) else None
    result = s.execute(
        update(Order)
        .where(Order.id == key, Order.locked_by_id.is_not(None), Order.locked_at == listed_locked_at)
        .values(locked_by_id=None, locked_at=None, lock_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1 or current is None:  # type: ignore[attr-defined]
        raise Conflict(
            f"order {order_id} holds no lock taken at {listed_locked_at:%Y-%m-%dT%H:%M:%S.%fZ}: it was released or "
            "taken again since; search the locked orders again"
        )
    return current


def search(
    s: Session, now: datetime, *, county: str | None, holder_ori: str | None, page: int, size: int
) -> tuple[int, list[LockInfo]]:
    """Live locks (not lapsed), oldest first."""
    where = and_(
        Order.locked_by_id.is_not(None),
        Order.lock_expires_at > now,
        *([Order.county_code == county] if county else []),
        *([Organization.ori == holder_ori] if holder_ori else []),
    )
    base = (
        select(Order.id)
        .join(Account, Account.id == Order.locked_by_id)
        .join(Organization, Organization.id == Account.organization_id)
        .where(where)
    )
    total = s.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = s.scalars(base.order_by(Order.locked_at, Order.id).limit(size).offset((page - 1) * size)).all()
    return total, [_info(s, order_id) for order_id in rows]


def _info(s: Session, order_key: int) -> LockInfo:
    row = s.execute(
        select(Order.id, Order.locked_at, Order.lock_expires_at, Account.username, Organization.ori)
        .join(Account, Account.id == Order.locked_by_id)
        .join(Organization, Organization.id == Account.organization_id)
        .where(Order.id == order_key)
    ).one()
    return LockInfo(ids.public(ids.ORDER, row.id), row.username, row.ori, row.locked_at, row.lock_expires_at)
