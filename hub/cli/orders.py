"""``ccpor-hub orders expire``: order maintenance (run daily)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hub.cli.common import Exit, database, in_transaction, settings
from hub.codes import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.db.engine import Database


def register(sub: argparse._SubParsersAction) -> None:
    orders = sub.add_parser("orders", help="order maintenance").add_subparsers(dest="orders_command", required=True)
    orders.add_parser("expire", help="mark ACTIVE orders past their expiration date EXPIRED").set_defaults(func=expire)


def expire(args: argparse.Namespace) -> int:
    from hub.accounts.service import Principal
    from hub.orders.service import OrderService

    db = database()
    system = Principal(
        account_id=_system_account(db),
        username="ccpor-hub",
        organization_id=0,
        ori="CA0000000",
        county_code="00",
        role=Role.ADMINISTRATOR,
        clets_certified=False,
    )
    db.dispose()

    def work(session: Session) -> str:
        expired = OrderService(calendar=settings().calendar).expire_due(session, system)
        return f"{len(expired)} order(s) expired" + (": " + ", ".join(expired) if expired else "")

    return in_transaction("orders expire", "", work)  # the expiries and their ADMIN event, one transaction


def _system_account(db: Database) -> int:
    """The first ADMINISTRATOR account: expiry is recorded in its name."""
    from sqlalchemy import select

    from hub.db.models import Account

    with db.unit_of_work() as session:
        first = session.scalar(select(Account.id).where(Account.role == Role.ADMINISTRATOR.value).limit(1))
    if first is None:
        raise Exit("create an ADMINISTRATOR account first: expiry is recorded in its name", prefix="")
    return int(first)
