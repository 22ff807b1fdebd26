"""A court's DSP917 notification (``DSP917CAJUDReqInput``), read: the ISB header, the case, the order,
and the people and organizations its participants point at.

The official schema checked the structure before this reads anything; what XSD cannot say is
checked here (:meth:`Notification.problems`): the ``A``/``U``/``C`` indicator (the schema admits any
one character), the header's CorrelationId the hub's idempotency needs, and that every ``s:ref``
names an ``s:id`` of the right kind (libxml2 does not check NIEM's references).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from hub import ns
from hub.errors import Violation

NS = {
    "ip": ns.DSP917_REQ_INPUT,
    "h": ns.ISB_HEADER,
    "r": ns.DSP917_REQ,
    "nc": ns.DSP917_NC,
    "j": ns.DSP917_J,
    "s": ns.DSP917_S,
}
_ID = ns.q(ns.DSP917_S, "id")
_REF = ns.q(ns.DSP917_S, "ref")

#: Where things are, for the messages (the specification's prefixes, as the mapping sheet writes them).
ROOT = "/dsp917cajudreqip:DSP917CAJUDReqInput"
HEADER = f"{ROOT}/tnshdr:ISBCommonServiceHeader"
OBJECTS = f"{ROOT}/dsp917cajudreq:ProductExchangePackage/dsp917cajudreq:ProductRelatedObjects"
CASE = f"{OBJECTS}/dsp917cajudreq:ProductRelatedActivities/dsp917cajudreq:CourtCase"
ORDER = f"{CASE}/dsp917cajudreq:CaseRestrainingOrder"

#: The longest header value the hub keeps as a key (CorrelationId, ISBTransactionId, CourtCd).
MAX_KEY = 64


def text(el: etree._Element | None, path: str) -> str | None:
    """The stripped text at ``path`` (XPath with the prefixes of :data:`NS`) below ``el``; None if absent
    or empty."""
    if el is None:
        return None
    found = el.xpath(path, namespaces=NS)
    if not found:
        return None
    value = found[0] if isinstance(found[0], str) else found[0].text
    value = (value or "").strip()
    return value or None


def texts(el: etree._Element | None, path: str) -> list[str]:
    if el is None:
        return []
    return [v for v in ((e.text or "").strip() for e in el.xpath(path, namespaces=NS)) if v]


@dataclass(frozen=True)
class Participant:
    """A ProtectedParticipant, RestrainedParticipant or Server: its role and what it points at."""

    element: etree._Element
    role: str
    person: etree._Element | None
    organization: etree._Element | None


class Notification:
    """One validated ``DSP917CAJUDReqInput``."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.header = root.find(ns.q(ns.ISB_HEADER, "ISBCommonServiceHeader"))
        self.case = _one(
            root, "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase"
        )
        self.order = _one(self.case, "r:CaseRestrainingOrder")
        objects = _one(root, "r:ProductExchangePackage/r:ProductRelatedObjects")
        self._by_id: dict[str, etree._Element] = {}
        self._duplicate_ids: list[str] = []
        for el in objects.iter(etree.Element):
            sid = el.get(_ID)
            if sid is not None:
                if sid in self._by_id:
                    self._duplicate_ids.append(sid)
                self._by_id[sid] = el

    # ---------------------------------------------------------------- the ISB header

    def _header(self, local: str) -> str:
        return (self.header.findtext(local) or "").strip() if self.header is not None else ""

    @property
    def correlation_id(self) -> str:
        return self._header("CorrelationId")

    @property
    def isb_transaction_id(self) -> str:
        return self._header("ISBTransactionId")

    @property
    def court_cd(self) -> str:
        return self._header("CourtCd")

    @property
    def document_id(self) -> str:
        return self._header("DocumentId")

    @property
    def sequence_id(self) -> str:
        return (self.header.findtext("SequencingInfo/Id") or "").strip() if self.header is not None else ""

    # ---------------------------------------------------------------- the case and the order

    @property
    def action(self) -> str:
        return text(self.order, "r:AddUpdateCancelText") or ""

    @property
    def docket(self) -> str:
        return text(self.case, "nc:CaseDocketID") or ""

    @property
    def docket_key(self) -> str:
        """The case number as the court's orders are found again by it (case does not matter)."""
        return self.docket.upper()

    @property
    def order_key(self) -> str:
        return self.order_identification.upper()

    @property
    def order_identification(self) -> str:
        """The court's own id of the order (its case system's), the key of later updates and cancels."""
        return text(self.order, "nc:IdentificationID") or ""

    @property
    def order_type(self) -> str:
        return text(self.order, "nc:ActivityCategoryText") or ""

    @property
    def court_name(self) -> str:
        return text(self.order, "j:CourtName") or ""

    def participants(self, path: str) -> list[Participant]:
        """The participants at ``path`` below the case (``r:ProtectedParticipant``) or the order
        (``r:Server``), each with the person or organization its reference names."""
        base = self.order if path.startswith("r:Server") else self.case
        out = []
        for el in base.xpath(path, namespaces=NS):
            role = text(el, "r:RoleOfEntity/r:EntityRoleCode") or ""
            person_ref = text(el, "r:RoleOfEntity/nc:RoleOfPersonReference/@s:ref")
            org_ref = text(el, "r:RoleOfEntity/nc:RoleOfOrganizationReference/@s:ref")
            out.append(
                Participant(
                    el,
                    role,
                    self._by_id.get(person_ref) if person_ref else None,
                    self._by_id.get(org_ref) if org_ref else None,
                )
            )
        return out

    def contacts_of(self, person: etree._Element) -> list[tuple[str, etree._Element]]:
        """(address type, ContactInformation) of every address associated with ``person``."""
        pid = person.get(_ID)
        out = []
        for assoc in self.root.xpath(
            "r:ProductExchangePackage/r:RestrainedParticipantPersonContactInformationAssociation", namespaces=NS
        ):
            if text(assoc, "nc:PersonReference/@s:ref") == pid:
                contact = self._by_id.get(text(assoc, "nc:ContactInformationReference/@s:ref") or "")
                if contact is not None:
                    out.append((text(assoc, "r:ContactInformationCategoryAddressTypeCode") or "", contact))
        return out

    def attachments(self) -> list[etree._Element]:
        return self.order.findall(ns.q(ns.DSP917_REQ, "RestrainingOrderAttachment"))

    # ---------------------------------------------------------------- what XSD cannot check

    def problems(self) -> list[Violation]:
        """What makes the notification unusable, though the schema passed it."""
        out = []
        if self.action not in ("A", "U", "C"):
            out.append(
                Violation(
                    f"{ORDER}/dsp917cajudreq:AddUpdateCancelText",
                    f"AddUpdateCancelText is {self.action!r}: send A (add), U (update) or C (cancel)",
                )
            )
        for local, value in (
            ("CorrelationId", self.correlation_id),
            ("ISBTransactionId", self.isb_transaction_id),
            ("CourtCd", self.court_cd),
        ):
            if not value:
                out.append(Violation(f"{HEADER}/{local}", f"{local} is required: the hub's receipt is keyed on it"))
            elif len(value) > MAX_KEY:
                out.append(Violation(f"{HEADER}/{local}", f"{local} is longer than {MAX_KEY} characters"))
        if self.court_cd and not (len(self.court_cd) == 2 and self.court_cd.isdigit()):
            out.append(Violation(f"{HEADER}/CourtCd", f"CourtCd {self.court_cd!r} is not a court number: send 01-58"))
        if not self.order_identification:
            out.append(
                Violation(
                    f"{ORDER}/nc:IdentificationID",
                    "the order's IdentificationID is required: later updates and cancels find the order by it",
                )
            )
        for sid in self._duplicate_ids:
            out.append(Violation(f"{OBJECTS}//*[@s:id='{sid}']", f"s:id {sid!r} is given to more than one object"))
        for el in self.root.iter(etree.Element):
            ref = el.get(_REF)
            if ref is None:
                continue
            target = self._by_id.get(ref)
            wanted = _REFERENT.get(etree.QName(el).localname)
            if target is None or (wanted and etree.QName(target).localname not in wanted):
                what = f"a {' or '.join(wanted)}" if wanted else "an object"
                out.append(
                    Violation(
                        _path_of(el),
                        f"s:ref {ref!r} names no {what.split(' ', 1)[1]} with that s:id in ProductRelatedObjects",
                    )
                )
        return out


#: What each kind of reference must point at.
_REFERENT = {
    "RoleOfPersonReference": ("Person",),
    "PersonReference": ("Person",),
    "RoleOfOrganizationReference": ("Organization", "Court"),
    "ContactInformationReference": ("ContactInformation",),
    "VehicleReference": ("Vehicle",),
}

_PREFIX = {
    ns.DSP917_REQ_INPUT: "dsp917cajudreqip",
    ns.DSP917_REQ: "dsp917cajudreq",
    ns.DSP917_NC: "ncreq",
    ns.DSP917_J: "jreq",
    ns.ISB_HEADER: "tnshdr",
}


def _path_of(el: etree._Element) -> str:
    steps = []
    while el is not None:
        q = etree.QName(el)
        steps.append(f"{_PREFIX.get(q.namespace or '', '')}:{q.localname}" if q.namespace else q.localname)
        el = el.getparent()
    return "/" + "/".join(reversed(steps))


def _one(el: etree._Element, path: str) -> etree._Element:
    found = el.xpath(path, namespaces=NS)
    assert found, path  # required by the official schema, which passed the request
    return found[0]
