"""A DSP917 business response as the court reads it, and the ISB receipt it answers with.

What arrives (checked against the official schema before it gets here; xsd/dsp917/mapping/
business-response-mapping.csv and error-response-mapping.csv)::

    <ip:DSP917CAJUDRespInput>                          ns.DSP917_RESP_INPUT
      <hdr:ISBCommonServiceHeader>                     ns.ISB_HEADER, its children unqualified
        <Source/> <Target/> ... <DocumentId/> <CorrelationId/> <ISBTransactionId/> ... <TimeStamp/> <CourtCd/>
      <cajud:ProductExchangePackage>                   ns.DSP917_RESP
        <cajud:ProductExchangeResponseActivity>        the outcome: accepted
          <cajud:ControlNumber>                        DOJ's FCN, once DOJ accepted (optional)
          <cajud:OrderIdentification><nc:IdentificationID>   the CCPOR order id
          <cajud:CaseRestrainingOrder><nc:ActivityCategoryText>  the order type (optional)
      or
        <cajud:ProductExchangeErrorActivity>           the outcome: refused
          <cajud:ErrorInformation> (one or more)
            <cajud:ErrorInformationMessageCode/> <cajud:ErrorInformationMessageText/>

What goes back (``DSP917CAJUDRespOutput``, the official output schema)::

    <op:DSP917CAJUDRespOutput>                         ns.DSP917_RESP_OUTPUT
      <r:ISBCommonResponseMessage>                     ns.ISB_RESPONSE, its children qualified
        <r:Status>Success</r:Status> <r:Message>...</r:Message>
        <r:DocumentId/> <r:CorrelationId/> <r:ISBTransactionId/> <r:TimeStamp/>   echoed from the header
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub import ns

#: The ISB receipt's Status for a message the court took (the specification names no values; ours).
SUCCESS = "Success"

_NS = {"h": ns.ISB_HEADER, "c": ns.DSP917_RESP, "nc": ns.DSP917_RESP_NC}


@dataclass(frozen=True)
class ErrorInformation:
    """One error of an error business response: the code and the text a clerk reads."""

    code: str
    text: str


@dataclass(frozen=True)
class BusinessResponse:
    """What one business response says: the ISB header's ids, then the outcome."""

    #: The header's DocumentId (the id of this response; None when empty, as in the error sample).
    document_id: str | None
    #: The court's CorrelationId of the notification it answers.
    correlation_id: str | None
    isb_transaction_id: str
    court_cd: str | None
    source: str
    target: str | None
    #: The header's TimeStamp exactly as sent (echoed in the receipt).
    timestamp: str
    #: An accepted order: the CCPOR order id, DOJ's FCN (``ControlNumber``) once known, the order type.
    order_id: str | None = None
    control_number: str | None = None
    order_type: str | None = None
    #: A refused one: each error's code and text.
    errors: tuple[ErrorInformation, ...] = ()

    @property
    def is_error(self) -> bool:
        return bool(self.errors)


def _text(parent: etree._Element | None, path: str) -> str | None:
    """The text at ``path`` below ``parent``, stripped; None where there is none (or it is empty)."""
    value = parent.findtext(path, namespaces=_NS) if parent is not None else None
    return (value.strip() or None) if value is not None else None


def read(message: etree._Element) -> BusinessResponse:
    """The business response in ``message`` (a ``DSP917CAJUDRespInput`` valid by the official schema)."""
    header = message.find("h:ISBCommonServiceHeader", _NS)
    accepted = message.find("c:ProductExchangePackage/c:ProductExchangeResponseActivity", _NS)
    errors = message.findall("c:ProductExchangePackage/c:ProductExchangeErrorActivity/c:ErrorInformation", _NS)
    return BusinessResponse(
        document_id=_text(header, "DocumentId"),
        correlation_id=_text(header, "CorrelationId"),
        isb_transaction_id=_text(header, "ISBTransactionId") or "",
        court_cd=_text(header, "CourtCd"),
        source=_text(header, "Source") or "",
        target=_text(header, "Target"),
        timestamp=_text(header, "TimeStamp") or "",
        order_id=_text(accepted, "c:OrderIdentification/nc:IdentificationID"),
        control_number=_text(accepted, "c:ControlNumber"),
        order_type=_text(accepted, "c:CaseRestrainingOrder/nc:ActivityCategoryText"),
        errors=tuple(
            ErrorInformation(
                _text(e, "c:ErrorInformationMessageCode") or "", _text(e, "c:ErrorInformationMessageText") or ""
            )
            for e in errors
        ),
    )


def receipt(response: BusinessResponse, message: str, status: str = SUCCESS) -> etree._Element:
    """The ``DSP917CAJUDRespOutput`` answering ``response``: its ids and TimeStamp echoed."""
    out = etree.Element(ns.q(ns.DSP917_RESP_OUTPUT, "DSP917CAJUDRespOutput"), nsmap={"op": ns.DSP917_RESP_OUTPUT})
    common = etree.SubElement(out, ns.q(ns.ISB_RESPONSE, "ISBCommonResponseMessage"), nsmap={"r": ns.ISB_RESPONSE})
    fields = (
        ("Status", status),
        ("Message", message),
        ("DocumentId", response.document_id),
        ("CorrelationId", response.correlation_id),
        ("ISBTransactionId", response.isb_transaction_id),
        ("TimeStamp", response.timestamp),
    )
    for name, value in fields:
        if value is not None:
            etree.SubElement(common, ns.q(ns.ISB_RESPONSE, name)).text = value
    return out
