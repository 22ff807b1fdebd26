"""``ccpor-hub orders expire``: order maintenance (the worker runs it hourly: hub.jobs)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hub.cli.common import Exit, database, in_transaction, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def register(sub: argparse._SubParsersAction) -> None:
    orders = sub.add_parser("orders", help="order maintenance").add_subparsers(dest="orders_command", required=True)
    orders.add_parser("expire", help="mark ACTIVE orders past their expiration date EXPIRED").set_defaults(func=expire)


def expire(args: argparse.Namespace) -> int:
    from hub.accounts.service import system_principal
    from hub.carpos.outbox import CarposForwarding
    from hub.orders.service import OrderService

    db = database()
    try:
        with db.read() as session:
            system = system_principal(session)
    finally:
        db.dispose()
    if system is None:
        raise Exit("create an ADMINISTRATOR account first: expiry is recorded in its name", prefix="")

    def work(session: Session) -> str:
        expired = OrderService(calendar=settings().calendar, forwarding=CarposForwarding()).expire_due(session, system)
        return f"{len(expired)} order(s) expired" + (": " + ", ".join(expired) if expired else "")

    return in_transaction("orders expire", "", work)  # the expiries and their ADMIN event, one transaction
