"""The CARPOS transmission envelope (``xsd/carpos-transmission.xsd``) as a typed value.

A :class:`Transmission` is one message between the hub and the DOJ switch in the clear: a header
for routing and de-duplication and the CARPOS text lines. :func:`to_xml` writes the envelope's
cleartext form; :func:`from_xml` reads one back after checking it against the schema. On the wire
an envelope is always sealed (:mod:`gateway.sealing`): the Payload encrypted, the whole signed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from hub.carpos.codec import AnswerKind, Mke
from hub.contract import validate_request
from hub.errors import ValidationError

NS = "urn:ca:courts:ccpor:carpos-transmission:1"
XSD = "carpos-transmission.xsd"


def q(local: str) -> str:
    return f"{{{NS}}}{local}"


TRANSMISSION, HEADER, BODY, PAYLOAD, TEXT = q("Transmission"), q("Header"), q("Body"), q("Payload"), q("CarposText")


#: Every message key an envelope header may carry: the codec's transactions and its answers, one list.
MessageKey = enum.StrEnum("MessageKey", {k.name: k.value for k in (*Mke, *AnswerKind)})  # type: ignore[misc]


@dataclass(frozen=True)
class Header:
    mcn: str
    sender_ori: str
    destination_ori: str
    mke: MessageKey
    created: datetime
    sent: datetime
    order_reference: str | None = None
    relates_to: str | None = None


@dataclass(frozen=True)
class Transmission:
    """One message in the clear: its header and its CARPOS text lines (the first is the
    transaction or answer; a QRY answer adds one REC line per record)."""

    header: Header
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.lines[0]


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("envelope timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload_xml(lines: tuple[str, ...]) -> etree._Element:
    payload = etree.Element(PAYLOAD, nsmap={"tx": NS})
    for line in lines:
        etree.SubElement(payload, TEXT).text = line
    return payload


def to_xml(t: Transmission) -> etree._Element:
    """The cleartext envelope::

    <tx:Transmission xmlns:tx="urn:ca:courts:ccpor:carpos-transmission:1" Version="1">
      <tx:Header>
        <tx:MessageControlNumber>CCP0000000042-001</tx:MessageControlNumber>
        <tx:SenderORI>CA019015J</tx:SenderORI><tx:DestinationORI>CADOJ0000</tx:DestinationORI>
        <tx:MessageKey>EPO</tx:MessageKey>
        <tx:CreatedDateTime>2026-12-01T10:00:00.000Z</tx:CreatedDateTime>
        <tx:SentDateTime>2026-12-01T10:00:00.125Z</tx:SentDateTime>
        <tx:OrderReference>CCP0000000042</tx:OrderReference>
      </tx:Header>
      <tx:Body><tx:Payload><tx:CarposText>EPO.ORI/CA019015J.OCA/...</tx:CarposText></tx:Payload></tx:Body>
    </tx:Transmission>
    """
    h = t.header
    root = etree.Element(TRANSMISSION, nsmap={"tx": NS}, Version="1")
    header = etree.SubElement(root, HEADER)
    for local, value in (
        ("MessageControlNumber", h.mcn),
        ("RelatesToMessageControlNumber", h.relates_to),
        ("SenderORI", h.sender_ori),
        ("DestinationORI", h.destination_ori),
        ("MessageKey", h.mke.value),
        ("CreatedDateTime", _stamp(h.created)),
        ("SentDateTime", _stamp(h.sent)),
        ("OrderReference", h.order_reference),
    ):
        if value is not None:
            etree.SubElement(header, q(local)).text = value
    etree.SubElement(root, BODY).append(payload_xml(t.lines))
    return root


def check(element: etree._Element, what: str = "transmission") -> None:
    """ValidationError (with every violation) unless ``element`` is a valid Transmission or Payload."""
    violations = validate_request(element, XSD)
    if violations:
        raise ValidationError(f"the {what} does not match {XSD}", violations)


def from_xml(root: etree._Element, payload: etree._Element | None = None, *, checked: bool = False) -> Transmission:
    """The transmission in an envelope (checked against the schema here unless ``checked``);
    ``payload`` is the decrypted Payload when the envelope's Body holds the encrypted form."""
    if not checked:
        check(root)
    header = root.find(HEADER)
    assert header is not None  # guaranteed by the schema

    def text(local: str) -> str | None:
        return header.findtext(q(local))

    if payload is None:
        payload = root.find(f"{BODY}/{PAYLOAD}")
        if payload is None:
            raise ValidationError("the transmission's Body holds no Payload")
    else:
        check(payload, "decrypted payload")
    return Transmission(
        Header(
            mcn=text("MessageControlNumber") or "",
            relates_to=text("RelatesToMessageControlNumber"),
            sender_ori=text("SenderORI") or "",
            destination_ori=text("DestinationORI") or "",
            mke=MessageKey(text("MessageKey")),
            created=datetime.fromisoformat(text("CreatedDateTime") or ""),
            sent=datetime.fromisoformat(text("SentDateTime") or ""),
            order_reference=text("OrderReference"),
        ),
        tuple(t.text or "" for t in payload.iterfind(TEXT)),
    )
