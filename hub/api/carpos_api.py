"""The CARPOS service (/ws/carpos): one handler per WSDL operation, CLETS-certified users only.

Handlers translate SOAP <-> :mod:`hub.carpos.inbox` (DOJ's messages), :mod:`hub.carpos.outbox`
(queries, resubmissions). Every call is audited by the call wrapper (category CARPOS); the audit
event names the message or order, never DOJ's text.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway import carpos
from hub import ids
from hub.accounts import permissions
from hub.api.bindings import Bindings
from hub.api.orders_api import Call, guarded, page_fields
from hub.carpos import inbox, outbox
from hub.carpos.clets import CletsVault
from hub.db.engine import Database
from hub.db.models import CarposInboxMessage
from hub.errors import ValidationError, Violation
from hub.orders.search import paginate
from hub.orders.service import OrderService
from hub.settings import Settings

_QUERY = "/crp:QueryCarpos/crp:Query"


class CarposApi:
    """Handlers for /ws/carpos. Read-only operations are listed in ``READS``."""

    # QueryCarpos commits its QPO in a transaction of its own and then waits for DOJ's answer:
    # on SQLite it must not hold the write lock meanwhile, so it runs as a read.
    READS = frozenset({"ListCarposMessages", "QueryCarpos"})

    def __init__(
        self, bindings: Bindings, orders: OrderService, db: Database, vault: CletsVault, settings: Settings
    ) -> None:
        self.t = bindings
        self.orders = orders
        self.db = db
        self.vault = vault
        self.settings = settings

    def handler(self, operation: str) -> Callable[[Call], Any]:
        return guarded(self, operation, permissions.require_clets)

    def _message(self, v: inbox.View) -> Any:
        m, a = v.message, v.answer
        return self.t["CarposMessageType"](
            MessageId=v.public_id,
            Kind=m.kind,
            DojMessageControlNumber=m.doj_mcn,
            RelatesToMessageControlNumber=v.relates_to,
            MessageKey=v.mke,
            OrderId=ids.public(ids.ORDER, m.order_id) if m.order_id else None,
            FileControlNumber=a.fcn if a else None,
            ReasonText=a.reason if a else None,
            CarposText=list(v.lines),
            ReceivedDateTime=m.received_at,
            NeedsActionIndicator=m.needs_action and m.acknowledged_at is None,
            AcknowledgedByName=v.acknowledged_by,
            AcknowledgedDateTime=m.acknowledged_at,
        )

    # ------------------------------------------------------------- operations

    def op_ListCarposMessages(self, c: Call) -> Any:
        k = c.args.get("Criteria")
        needs = getattr(k, "NeedsActionOnlyIndicator", None)
        query = inbox.criteria(
            c.who,
            needs_action_only=True if needs is None else bool(needs),
            order_id=getattr(k, "OrderId", None),
            kind=getattr(k, "Kind", None),
        )
        number = int(c.args.get("PageNumber") or 1)
        page = paginate(
            c.session,
            query,
            number,
            self.settings.page_size,
            CarposInboxMessage.received_at.desc(),
            CarposInboxMessage.id.desc(),
        )
        return self.t["CarposMessageListType"](
            **page_fields(page),
            Message=[self._message(v) for v in inbox.views(c.session, page.items, self.vault)],
        )

    def op_AcknowledgeCarposMessage(self, c: Call) -> Any:
        v = inbox.acknowledge(c.session, c.who, c.args["MessageId"], self.orders.clock(), self.vault)
        c.detail = f"acknowledged {v.message.kind} {v.message.doj_mcn}"
        return self._message(v)

    def op_QueryCarpos(self, c: Call) -> Any:
        tx = self._query_transaction(c)
        with self.db.unit_of_work() as s:  # committed now: the gateway must see it while we wait
            mcn = outbox.query(s, c.who, tx, self.vault, self.orders.clock())
        c.detail = f"QPO {mcn}"
        deadline = time.monotonic() + self.settings.carpos_query_wait_seconds
        while True:
            with self.db.read() as s:
                outcome = inbox.query_outcome(s, mcn, self.vault)
            if outcome.status != "PENDING" or time.monotonic() >= deadline:
                break
            time.sleep(0.05)  # the gateway answers within a second or so; the answer is a row to look for
        return self.t["CarposQueryResultType"](
            MessageControlNumber=mcn,
            QueryStatus=outcome.status,
            ReasonText=outcome.reason,
            Record=[self._record(r, line) for r, line in zip(outcome.records, outcome.lines[1:], strict=True)],
        )

    def _query_transaction(self, c: Call) -> carpos.Transaction:
        q = c.args["Query"]
        by_fcn = bool(q.FileControlNumber)
        by_person = bool(q.PersonSurName and q.PersonBirthDate)
        by_case = bool(q.CaseDocketID and q.IssuingCourtORIIdentification)
        if by_fcn + by_person + by_case != 1:
            raise ValidationError(
                "a CARPOS query names a record one way: FileControlNumber; PersonSurName and PersonBirthDate; "
                "or CaseDocketID and IssuingCourtORIIdentification",
                [Violation(_QUERY, "exactly one of the three ways, complete")],
            )
        pairs: list[tuple[str, str | None]] = [("ORI", c.who.ori)]
        if by_fcn:
            pairs.append(("FCN", q.FileControlNumber))
        elif by_person:
            name = carpos.wire_name(q.PersonSurName, q.PersonGivenName, q.PersonMiddleName)
            pairs += [("NAM", name), ("DOB", carpos.wire_date(q.PersonBirthDate))]
        else:
            pairs += [("PNO", carpos.normalize(q.CaseDocketID)[:20]), ("CTI", q.IssuingCourtORIIdentification)]
        return carpos.build(carpos.Mke.QPO, pairs)

    def _record(self, r: carpos.Record, line: str) -> Any:
        expires = r.get("EXP")
        return self.t["CarposRecordType"](
            FileControlNumber=r.fcn,
            RecordStatus=r.status,
            EnteringAgencyORIIdentification=r.get("ORI"),
            AgencyCaseIdentification=r.get("OCA"),
            RestrainedPersonName=r.get("NAM"),
            RestrainedPersonBirthDate=carpos.parse_wire_date(r.get("DOB")),
            ProtectionOrderTypeCode=r.get("OTC"),
            CourtOrderIssuingDate=carpos.parse_wire_date(r.get("ISD")),
            CourtOrderExpirationDate=carpos.parse_wire_date(expires),
            NonExpiringIndicator=expires == "NONEXP",
            IssuingCourtORIIdentification=r.get("CTI"),
            CaseDocketID=r.get("PNO"),
            ProtectionOrderConditionCode=r.all("PCO"),
            ProtectionOrderBradyIndicator=r.get("BRD"),
            ServedIndicator=r.get("SVD") is not None,
            CarposText=line,
        )

    def op_ResubmitToCarpos(self, c: Call) -> Any:
        order, mcn, mke = self.orders.resubmit_to_carpos(c.session, c.who, c.args["OrderId"])
        c.detail = f"resubmitted as {mke} {mcn}"
        return self.t["OrderCarposStatusType"](
            OrderId=c.args["OrderId"], CarposStatus=order.carpos_status, MessageControlNumber=mcn, MessageKey=mke
        )
