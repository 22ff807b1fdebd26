"""What every handler of the hub's services receives and shares: the call, the role guard, paging,
and the pending call the call wrapper runs and audits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from hub import metrics, ns
from hub.accounts.service import Principal
from hub.audit import AuditTrail, Event
from hub.clock import utcnow
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


@dataclass
class PendingCall:
    """One call's handler and inputs, run (and audited) inside the sessions the call wrapper opens.

    ``who`` is the calling account once authenticated (None until then: a refusal is audited under
    the name the request gave)."""

    handler: Callable[[Call], Any]
    body: Any
    args: dict[str, Any]
    operation: str
    client: str
    trail: AuditTrail
    category: str = ""
    who: Principal | None = None
    call: Call | None = None

    def run(self, session: Session) -> Any:
        assert self.who is not None, "authenticate before running the handler"
        self.call = Call(session=session, who=self.who, body=self.body, args=self.args)
        return self.handler(self.call)

    def target(self, result: Any = None) -> str:
        """The order, image or account named in the request, else the one the call created."""
        return str(
            self.args.get("OrderId")
            or self.args.get("ImageId")
            or self.args.get("Username")
            or self.args.get("MessageId")
            or getattr(result, "OrderId", None)
            or getattr(result, "ImageId", None)
            or getattr(result, "order_id", None)
            or ""
        )

    def audit(self, session: Session, result: Any) -> None:
        """The call's OK event, in the session of its work (or, for a read, the next write)."""
        assert self.who is not None and self.call is not None
        self.trail.record(
            session.connection(),
            Event(
                at=utcnow(),
                username=self.who.username,
                org_ori=self.who.ori,
                operation=self.operation,
                outcome="OK",
                target=self.target(result),
                client_address=self.client,
                detail=self.call.detail,
                category=self.category,
            ),
        )


_requests = logging.getLogger("ccpor.requests")


@contextmanager
def observed(service: str, call: PendingCall) -> Iterator[None]:
    """Count and time ``call`` (hub.metrics) and write its one summary line (``ccpor.requests``):
    operation, account, organization, outcome and duration -- identifiers and codes, nothing the
    call carried. The request id is the log filter's (hub.logs)."""
    seen = metrics.Observed()
    try:
        with metrics.soap_call(service, call.operation) as seen:
            yield
    finally:
        who = call.who
        _requests.info(
            "%s %s by %s: %s in %.1f ms",
            service,
            call.operation,
            who.username if who else "(not authenticated)",
            seen.outcome,
            seen.seconds * 1000,
            extra={
                "service": service,
                "operation": call.operation,
                "account": who.username if who else "",
                "organization": who.ori if who else "",
                "outcome": seen.outcome,
                "duration_ms": round(seen.seconds * 1000, 1),
            },
        )
