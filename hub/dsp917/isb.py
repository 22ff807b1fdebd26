"""The ISB's own messages: the receipt the request service answers with (``DSP917CAJUDReqOutput``
holding an ``ISBCommonResponseMessage``) and the ``ISBCommonErrorMessage`` a fault carries as
its detail, both as the official schemas define them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from hub import ns
from hub.contract import Dsp917
from hub.dsp917.codes import Outcome
from hub.dsp917.notification import Notification
from hub.errors import HubError

if TYPE_CHECKING:
    from hub.dsp917.intake import Result

#: The receipt's Status: the notification was received (what became of it is its Message, and the
#: business response's).
RECEIVED = "SUCCESS"


def sub(parent: etree._Element, namespace: str | None, local: str, value: str | None = None) -> etree._Element:
    """A child ``local`` (in ``namespace``; unqualified, as the ISB header's children, for None)."""
    el = etree.SubElement(parent, ns.q(namespace, local) if namespace else local)
    if value is not None:
        el.text = value
    return el


def message(result: Result) -> str:
    """The receipt's Message, in words a clerk can act on."""
    again = " (a resend: the first receipt)" if result.duplicate else ""
    if result.outcome is Outcome.ACCEPTED:
        return f"received{again}: CCPOR order {result.order_id} is {result.status} at version {result.version}"
    assert result.error is not None
    findings = "; ".join(v.message for v in result.findings[:3])
    more = f" (and {len(result.findings) - 3} more)" if len(result.findings) > 3 else ""
    # A refusal names no CCPOR order: the court knows its order by its own id, and another account
    # of the court must not learn an order's id by trying a case number.
    named = result.order_id and result.outcome is not Outcome.REFUSED
    order = f"CCPOR order {result.order_id}: " if named else ""
    return f"received{again}: {order}{result.error.code} {result.error.text}: {findings}{more}"[:2000]


def receipt(n: Notification, result: Result) -> etree._Element:
    """``DSP917CAJUDReqOutput``: the ISB receipt, echoing the court's CorrelationId and ISBTransactionId;
    DocumentId is the hub's id of the stored notification."""
    out = etree.Element(Dsp917.REQ_OUTPUT.tag, nsmap={"dsp917cajudreqop": ns.DSP917_REQ_OUTPUT})
    r = etree.SubElement(out, ns.q(ns.ISB_RESPONSE, "ISBCommonResponseMessage"), nsmap={"tnsresp": ns.ISB_RESPONSE})
    sub(r, ns.ISB_RESPONSE, "Status", RECEIVED)
    sub(r, ns.ISB_RESPONSE, "Message", message(result))
    sub(r, ns.ISB_RESPONSE, "DocumentId", f"DSP917-{result.notification_id}")
    sub(r, ns.ISB_RESPONSE, "CorrelationId", n.correlation_id)
    if n.sequence_id:
        sub(r, ns.ISB_RESPONSE, "SequenceId", n.sequence_id)
    sub(r, ns.ISB_RESPONSE, "ISBTransactionId", n.isb_transaction_id)
    sub(r, ns.ISB_RESPONSE, "TimeStamp", result.received_at.isoformat(timespec="milliseconds"))
    return out


def error_detail(err: HubError) -> etree._Element:
    """``ISBCommonErrorMessage`` for a fault: the hub's fault code and message, one ExceptionDetails
    per violation (its message in Msg, where it is in Data)."""
    root = etree.Element(ns.q(ns.ISB_ERROR, "ISBCommonErrorMessage"), nsmap={"tnserr": ns.ISB_ERROR})
    sub(root, ns.ISB_ERROR, "ExceptionCode", err.code)
    sub(root, ns.ISB_ERROR, "ExceptionMessage", err.message)
    for v in err.violations:
        item = etree.SubElement(root, ns.q(ns.ISB_ERROR, "ExceptionDetails"))
        sub(item, ns.ISB_ERROR, "StackTrace", "")
        sub(item, ns.ISB_ERROR, "Msg", v.message)
        sub(item, ns.ISB_ERROR, "FullClass", f"urn:ca:courts:ccpor:fault:{err.code}")
        sub(item, ns.ISB_ERROR, "Class", err.code)
        sub(item, ns.ISB_ERROR, "Data", v.path)
    return root
