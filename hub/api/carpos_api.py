"""The CARPOS service (/ws/carpos): one handler per WSDL operation, CLETS-certified users only.

Handlers translate SOAP <-> :mod:`hub.carpos.inbox` (DOJ's messages), :mod:`hub.carpos.outbox`
(queries, resubmissions). Every call is audited by the call wrapper (category CARPOS); the audit
event names the message or order, never DOJ's text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub import ids
from hub.accounts import permissions
from hub.api.call import Call, guarded, page_fields
from hub.carpos import codec, inbox, outbox
from hub.carpos.clets import CletsVault
from hub.db.models import CarposInboxMessage
from hub.errors import ValidationError, Violation
from hub.orders.search import paginate
from hub.orders.service import OrderService
from hub.settings import Settings
from hub.soap.bindings import Bindings
from hub.soap.operations import Operation, declared, operation

_QUERY = "/crp:QueryCarpos/crp:Query"


class CarposApi:
    """Handlers for /ws/carpos (CLETS-certified users only), each declared with
    :func:`~hub.soap.operations.operation`. QueryCarpos writes (its QPO, committed with its audit
    event) and answers at once: nothing here waits for DOJ, whose answer may take seconds
    (docs/DECISIONS.md 35)."""

    def __init__(self, bindings: Bindings, orders: OrderService, vault: CletsVault, settings: Settings) -> None:
        self.t = bindings
        self.orders = orders
        self.vault = vault
        self.settings = settings
        self.operations = declared(self, (op.name for op in bindings.operations()), allowed=permissions.require_clets)

    def handler(self, op: Operation) -> Callable[[Call], Any]:
        return guarded(op)

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

    @operation(read_only=True)
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

    @operation()
    def op_AcknowledgeCarposMessage(self, c: Call) -> Any:
        v = inbox.acknowledge(c.session, c.who, c.args["MessageId"], self.orders.clock(), self.vault)
        c.detail = f"acknowledged {v.message.kind} {v.message.doj_mcn}"
        return self._message(v)

    @operation()
    def op_QueryCarpos(self, c: Call) -> Any:
        """Queue the QPO and answer PENDING with its MCN. Waiting here for DOJ would hold a worker
        (and on PostgreSQL a transaction) for as long as DOJ takes: a few slow answers would starve
        every other caller. The answer comes through GetCarposQueryResult and ListCarposMessages."""
        mcn = outbox.query(c.session, c.who, self._query_transaction(c), self.vault, self.orders.clock())
        c.detail = f"QPO {mcn}"
        return self._result(mcn, inbox.PENDING)

    @operation(read_only=True)
    def op_GetCarposQueryResult(self, c: Call) -> Any:
        mcn = c.args["MessageControlNumber"]
        outcome = inbox.query_outcome(c.session, c.who, mcn, self.vault)
        c.detail = f"QPO {mcn}"
        return self._result(mcn, outcome)

    def _result(self, mcn: str, outcome: inbox.QueryOutcome) -> Any:
        return self.t["CarposQueryResultType"](
            MessageControlNumber=mcn,
            QueryStatus=outcome.status,
            ReasonText=outcome.reason,
            Record=[self._record(r, line) for r, line in zip(outcome.records, outcome.lines[1:], strict=True)],
            CarposText=list(outcome.lines),
        )

    def _query_transaction(self, c: Call) -> codec.Transaction:
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
            name = codec.wire_name(q.PersonSurName, q.PersonGivenName, q.PersonMiddleName)
            pairs += [("NAM", name), ("DOB", codec.wire_date(q.PersonBirthDate))]
        else:
            pairs += [("PNO", codec.normalize(q.CaseDocketID)[:20]), ("CTI", q.IssuingCourtORIIdentification)]
        return codec.build(codec.Mke.QPO, pairs)

    def _record(self, r: codec.Record, line: str) -> Any:
        expires = r.get("EXP")
        return self.t["CarposRecordType"](
            FileControlNumber=r.fcn,
            RecordStatus=r.status,
            EnteringAgencyORIIdentification=r.get("ORI"),
            AgencyCaseIdentification=r.get("OCA"),
            RestrainedPersonName=r.get("NAM"),
            RestrainedPersonBirthDate=codec.parse_wire_date(r.get("DOB")),
            ProtectionOrderTypeCode=r.get("OTC"),
            CourtOrderIssuingDate=codec.parse_wire_date(r.get("ISD")),
            CourtOrderExpirationDate=codec.parse_wire_date(expires),
            NonExpiringIndicator=expires == "NONEXP",
            IssuingCourtORIIdentification=r.get("CTI"),
            CaseDocketID=r.get("PNO"),
            ProtectionOrderConditionCode=r.all("PCO"),
            ProtectionOrderBradyIndicator=r.get("BRD"),
            ServedIndicator=r.get("SVD") is not None,
            CarposText=line,
        )

    @operation()
    def op_ResubmitToCarpos(self, c: Call) -> Any:
        order, mcn, mke = outbox.resubmit_order(
            c.session, self.orders, c.who, c.args["OrderId"], "/crp:ResubmitToCarpos/crp:OrderId"
        )
        c.detail = f"resubmitted as {mke} {mcn}"
        return self.t["OrderCarposStatusType"](
            OrderId=c.args["OrderId"], CarposStatus=order.carpos_status, MessageControlNumber=mcn, MessageKey=mke
        )
