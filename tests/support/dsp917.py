"""DSP917 notifications for the tests: the official sample, and the sample made current, as SOAP
envelopes written the way tests/support/orders.py writes the hub's own (every namespace declared
on the Envelope, the message bound to prefix ``svc``), so the attack corpus serves it too."""

from __future__ import annotations

from lxml import etree

from hub import ns
from hub.cli.demo import dsp917_notification
from hub.contract import dsp917_sample
from tests.support.orders import envelope

N = {
    "ip": ns.DSP917_REQ_INPUT,
    "r": ns.DSP917_REQ,
    "nc": ns.DSP917_NC,
    "h": ns.ISB_HEADER,
    "s": ns.DSP917_S,
}
OBJECTS = "r:ProductExchangePackage/r:ProductRelatedObjects"
CASE_PATH = f"{OBJECTS}/r:ProductRelatedActivities/r:CourtCase"
ORDER_PATH = f"{CASE_PATH}/r:CaseRestrainingOrder"
RESTRAINED = f"{OBJECTS}/r:ProductRelatedPeople/r:Person[@s:id='RES_1']"


def sample() -> etree._Element:
    return etree.fromstring(dsp917_sample("DSP917_Request.xml"))


def put(root: etree._Element, path: str, value: str) -> None:
    (el,) = root.xpath(path, namespaces=N)
    el.text = value


def with_ids(root: etree._Element, correlation: str, transaction: str = "1") -> etree._Element:
    put(root, "h:ISBCommonServiceHeader/CorrelationId", correlation)
    put(root, "h:ISBCommonServiceHeader/ISBTransactionId", transaction)
    return root


def current(correlation: str, order_identification: str, docket: str = "00003235") -> etree._Element:
    """The sample made into an order in force today (the demo's notification)."""
    return dsp917_notification(correlation, order_identification, docket)


def without_attachment(root: etree._Element) -> etree._Element:
    for el in root.xpath(f"{ORDER_PATH}/r:RestrainingOrderAttachment", namespaces=N):
        el.getparent().remove(el)
    return root


def envelope_text(message: etree._Element, *, username: str | None, password: str | None) -> bytes:
    """``message`` as the Body's child of an envelope in tests/support/orders.py's form (PasswordText)."""
    text = etree.tostring(message, encoding="unicode")
    start_end = text.index(">") + 1
    root_tag, inner = text[:start_end], text[start_end : text.rindex("</")]
    declarations = " ".join(
        f'xmlns:{prefix}="{uri}"' for prefix, uri in message.nsmap.items() if prefix and uri != ns.DSP917_REQ_INPUT
    )
    assert root_tag.startswith("<"), root_tag
    template = envelope("PLACEHOLDER", [], username=username, password=password, service=ns.DSP917_REQ_INPUT)
    head, tail = template.split(b"<svc:PLACEHOLDER/>")
    head = head.replace(b"<soap:Envelope ", f"<soap:Envelope {declarations} ".encode(), 1)
    return head + b"<svc:DSP917CAJUDReqInput>" + inner.encode() + b"</svc:DSP917CAJUDReqInput>" + tail
