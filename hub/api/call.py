"""What every handler of the hub's services receives and shares: the call, the role guard, paging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from hub import ns
from hub.accounts.service import Principal
from hub.orders.search import Page
from hub.orders.service import Receipt
from hub.soap.operations import Operation


@dataclass
class Call:
    """What one SOAP call carries through the layers."""

    session: Session
    who: Principal
    body: etree._Element
    args: dict[str, Any]
    #: What an administrator's call changed, in words, for its audit event (never a secret).
    detail: str = ""
    #: The use case's receipt, where the handler keeps it: the audit's note reads the order's facts there.
    receipt: Receipt | None = None

    def element(self, local: str) -> etree._Element:
        found = self.body.find(ns.q(etree.QName(self.body).namespace or ns.ORDERS_SERVICE, local))
        assert found is not None, local  # guaranteed by schema validation of the body
        return found


def guarded(op: Operation) -> Callable[[Call], Any]:
    """``op``'s handler, run only once the caller passed its ``allowed`` rule (a service for one kind
    of account: administrators, CLETS users); the handler itself when it declares none."""
    if op.allowed is None:
        return op.handler
    allowed, handler = op.allowed, op.handler

    def checked(c: Call) -> Any:
        allowed(c.who)
        return handler(c)

    return checked


def page_fields(page: Page) -> dict[str, int]:
    """The paging elements every list answer of the services carries."""
    return {"TotalCount": page.total, "PageNumber": page.number, "LastPageNumber": page.last}
