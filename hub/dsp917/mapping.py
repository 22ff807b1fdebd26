"""A DSP917 notification -> the canonical order (xsd/ccpor-order.xsd), field by field.

Each row of :data:`FIELDS` is one line of the mapping: the DSP917 element (as
``xsd/dsp917/mapping/request-mapping.csv`` writes its path), the canonical element it fills, and
how. docs/CONTRACT.md's "DSP917 mapping" table is :func:`table` of these rows (print it with
``python -m hub.dsp917.mapping``) and a test checks the two agree, so they cannot drift.

What has no place in the canonical order (vehicles, addresses, other ID types, caution codes,
custody, the court's notes...) is kept: the intake stores the notification itself with the order
version it made. A value the canonical order's types cannot hold (a 31-character street would be
one, a stay-away of 123456 yards is one) is left out of the order and noted -- :func:`fit` finds
them with the order's own DRAFT profile, not with a second copy of its types.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass, field

from lxml import etree

from hub import ns
from hub.codes import FORM_TO_CLETS
from hub.contract import profile_schema
from hub.dsp917 import codes
from hub.dsp917.notification import CASE, ORDER, Notification, Participant, text, texts
from hub.errors import Violation

_O = ns.ORDER
SOURCE_SYSTEM = "DSP917"


@dataclass(frozen=True)
class Field:
    """One line of the mapping."""

    dsp917: str
    canonical: str
    rule: str


P = "ProductRelatedPeople/Person"  # as the mapping sheet abbreviates the person branch
FIELDS: tuple[Field, ...] = (
    Field("ISBCommonServiceHeader/CourtCd", "CourtOrderIssuingCourt/OrganizationORIIdentification",
          "the calling court's ORI; CourtCd must be its county number (01-58)"),
    Field("CaseRestrainingOrder/j:CourtName", "CourtOrderIssuingCourt/OrganizationName",
          "as given; a name that is not CourtCd's county is noted, not fatal"),
    Field("CourtCase/nc:CaseDocketID", "CaseDocketID", "as given"),
    Field("CaseRestrainingOrder/nc:ActivityCategoryText", "ProtectionOrderTypeCode, CourtOrderFormCode",
          "a CLETS order type (TRO) gives its form (DV-110; CPO: CR-160); a form number gives its type"),
    Field("CaseRestrainingOrder/cajud:IssuedDate/nc:Date", "CourtOrderIssuingDate", "as given"),
    Field("CaseRestrainingOrder/nc:ExpirationDate/nc:Date", "CourtOrderExpirationDate", "as given"),
    Field("CaseRestrainingOrder/cajud:NeverExpiresCode", "CourtOrderNonExpiringIndicator", "Y -> true"),
    Field("CaseRestrainingOrder/cajud:SealedCode", "SealedIndicator", "Y -> true"),
    Field(f"{P}/PersonName/nc:PersonGivenName|PersonMiddleName|PersonSurName|PersonNameSuffixText",
          "Protection Order Restricted/Protected Person/PersonName",
          "the name on the case; ALIAS, AKA, MONIKER, FKA, ESA names -> PersonAlternateName (restrained)"),
    Field(f"{P}/PersonBirth/nc:PersonBirthDate/nc:Date", "PersonBirthDate", "as given"),
    Field(f"{P}/PersonDemographics/cajud:PersonSexCode", "PersonSexCode", "F, M; X -> U"),
    Field(f"{P}/PersonDemographics/cajud:PersonRaceCode", "PersonRaceCode",
          "DSP917's list -> NCIC: Asian nationalities -> A; G, P, S, U (Hawaiian) -> P; O, X -> U"),
    Field(f"{P}/PersonDemographics/nc:PersonHeightMeasure/nc:MeasureText", "PersonHeightText", "as given (FII)"),
    Field(f"{P}/PersonDemographics/nc:PersonWeightMeasure/nc:MeasureText", "PersonWeightMeasure", "pounds"),
    Field(f"{P}/PersonDemographics/cajud:PersonEyeColorCode", "PersonEyeColorCode", "as given (NCIC EYE)"),
    Field(f"{P}/PersonDemographics/cajud:PersonHairColorCode", "PersonHairColorCode", "as given (NCIC HAI)"),
    Field(f"{P}/PersonDemographics/cajud:PersonSkinToneCode", "PersonSkinToneCode", "as given (NCIC SKN)"),
    Field(f"{P}/nc:PersonOtherIdentification (IdentificationCategoryCode DLN)", "DriverLicense",
          "the driver's license number and its issuing state; other ID types are kept"),
    Field("CourtCase/cajud:RestrainedParticipant (RESPER)", "ProtectionOrderRestrictedPerson", "its Person"),
    Field("CourtCase/cajud:ProtectedParticipant (PPSC, APPSC)", "ProtectionOrderProtectedPerson",
          "each Person, the protected person (PPSC) first; protected organizations are kept"),
    Field("CaseRestrainingOrder/cajud:StayAwayText, YardsToStayAwayQuantity",
          "ProtectionOrderConditionCode 04, StayAwayDistanceMeasure",
          "any of C, P, R, V, W -> 04 with the places in words; yards as given (1-10000)"),
    Field("CaseRestrainingOrder/cajud:ContactAllowedCode", "ProtectionOrderConditionCode 05", "N -> 05"),
    Field("CaseRestrainingOrder/cajud:CourtOrderChildCustodyCode, VisitationCode",
          "ProtectionOrderConditionCode 06, 09",
          "custody PP -> 09; visitation Y or S -> 06"),
    Field("CaseRestrainingOrder/cajud:FirearmProvisionsCode",
          "ProtectionOrderConditionCode 07, FirearmRelinquishmentIndicator",
          "P, S, B -> 07; S, B -> relinquishment true"),
    Field("CaseRestrainingOrder/cajud:MiscellaneousInformationText, OtherOrdersText",
          "ProtectionOrderConditionCode 08, ProtectionOrderConditionText", "joined; any text -> 08"),
    Field("(none in DSP917)", "ProtectionOrderBradyIndicator", "U (unknown)"),
    Field("CaseRestrainingOrder/cajud:PresentInCourtCode", "ProofOfService",
          "Y: served in court on the issue date by the issuing court (IN-COURT); other service is kept"),
    Field("CaseRestrainingOrder/cajud:RestrainingOrderAttachment/nc:DocumentBinary/nc:BinaryBase64Object",
          "the order's images (AttachImage)", "each attachment, content-checked like any image"),
    Field("ISBCommonServiceHeader/CorrelationId, ISBTransactionId", "SourceSystemName",
          "DSP917; the notification's receipt is keyed on CourtCd + CorrelationId + ISBTransactionId"),
)  # fmt: skip


@dataclass
class Mapped:
    """The canonical order a notification maps to, and what the mapping has to say about it."""

    order: etree._Element
    #: Values kept in the stored notification but not in the order, in a clerk's words.
    notes: list[Violation] = field(default_factory=list)
    #: The images to attach: (its position among the attachments, 1..n; its title; its bytes).
    images: list[tuple[int, str | None, bytes]] = field(default_factory=list)

    @property
    def image(self) -> bytes | None:
        """The first image's bytes (the order's scan), if any."""
        return self.images[0][2] if self.images else None


class Unmappable(Exception):
    """The notification cannot become an order at all (what is left fails the DRAFT profile)."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(v.message for v in violations))
        self.violations = violations


def _e(parent: etree._Element, local: str, value: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, ns.q(_O, local))
    if value is not None:
        el.text = value
    return el


def _opt(parent: etree._Element, local: str, value: str | None) -> None:
    if value:
        _e(parent, local, value)


class _Builder:
    def __init__(self, n: Notification, court_ori: str, county: str) -> None:
        self.n = n
        self.court_ori = court_ori
        self.county = county
        self.notes: list[Violation] = []

    def note(self, path: str, message: str) -> None:
        self.notes.append(Violation(path, message))

    def build(self) -> etree._Element:
        n, order = self.n, self.n.order
        root = etree.Element(ns.q(_O, "Order"), nsmap={"ord": _O})
        self._type(root)
        court = _e(root, "CourtOrderIssuingCourt")
        _e(court, "OrganizationORIIdentification", self.court_ori)
        _opt(court, "OrganizationName", n.court_name[:100] or None)
        if n.court_name and self.county.upper() not in n.court_name.upper():
            self.note(
                f"{ORDER}/jreq:CourtName",
                f"CourtName {n.court_name!r} is not the court of CourtCd {n.court_cd} ({self.county}); "
                "the order is the calling court's",
            )
        _e(root, "CaseDocketID", n.docket)
        _opt(root, "CourtOrderIssuingDate", text(order, "r:IssuedDate/nc:Date"))
        _opt(root, "CourtOrderExpirationDate", text(order, "nc:ExpirationDate/nc:Date"))
        if text(order, "r:NeverExpiresCode") == "Y":
            _e(root, "CourtOrderNonExpiringIndicator", "true")
        _e(root, "SealedIndicator", "true" if text(order, "r:SealedCode") == "Y" else "false")
        self._restrained(root)
        self._protected(root)
        self._conditions(root)
        _e(root, "ProtectionOrderBradyIndicator", "U")
        self._service(root)
        _e(root, "SourceSystemName", SOURCE_SYSTEM)
        return root

    def _type(self, root: etree._Element) -> None:
        given = self.n.order_type.upper()
        if given in FORM_TO_CLETS:
            form, otc = given, FORM_TO_CLETS[given]
        elif given in codes.CLETS_TO_FORM:
            form, otc = codes.CLETS_TO_FORM[given], given
        else:
            self.note(
                f"{ORDER}/ncreq:ActivityCategoryText",
                f"order type {self.n.order_type!r} is neither a CLETS order type (TRO, OAH, ...) nor a "
                "Judicial Council form (DV-110, ...): the order has no type until corrected",
            )
            return
        _e(root, "CourtOrderFormCode", form)
        _e(root, "ProtectionOrderTypeCode", otc)

    def _person(self, parent: etree._Element, local: str, person: etree._Element, *, restrained: bool) -> None:
        el = _e(parent, local)
        names = person.xpath("r:PersonName", namespaces={"r": ns.DSP917_REQ})
        main = next(
            (nm for nm in names if text(nm, "r:PersonCaseNameCategoryCode") not in codes.ALTERNATE_NAME_TYPES), None
        )
        _name(el, "PersonName", main if main is not None else names[0])
        if restrained:
            for nm in names:
                if nm is not main and text(nm, "r:PersonCaseNameCategoryCode") in codes.ALTERNATE_NAME_TYPES:
                    _name(el, "PersonAlternateName", nm)
        _opt(el, "PersonBirthDate", text(person, "r:PersonBirth/nc:PersonBirthDate/nc:Date"))
        demo = "r:PersonDemographics/"
        sex = text(person, f"{demo}r:PersonSexCode")
        _opt(el, "PersonSexCode", codes.SEX.get(sex or ""))
        race = text(person, f"{demo}r:PersonRaceCode")
        _opt(el, "PersonRaceCode", codes.RACE.get(race or ""))
        if not restrained:
            return
        _opt(el, "PersonHeightText", text(person, f"{demo}nc:PersonHeightMeasure/nc:MeasureText"))
        _opt(el, "PersonWeightMeasure", text(person, f"{demo}nc:PersonWeightMeasure/nc:MeasureText"))
        _opt(el, "PersonEyeColorCode", text(person, f"{demo}r:PersonEyeColorCode"))
        _opt(el, "PersonHairColorCode", text(person, f"{demo}r:PersonHairColorCode"))
        _opt(el, "PersonSkinToneCode", text(person, f"{demo}r:PersonSkinToneCode"))
        for other in person.xpath("nc:PersonOtherIdentification", namespaces={"nc": ns.DSP917_NC}):
            if text(other, "r:IdentificationCategoryCode") == "DLN" and text(other, "nc:IdentificationID"):
                dl = _e(el, "DriverLicense")
                _e(dl, "DriverLicenseIdentification", (text(other, "nc:IdentificationID") or "").upper())
                _e(dl, "DriverLicenseIssuingStateCode", text(other, "r:IdentificationJurisdictionStateCode") or "CA")
                break

    def _restrained(self, root: etree._Element) -> None:
        for p in self.n.participants("r:RestrainedParticipant"):
            if p.person is not None and p.role == codes.RESTRAINED_ROLE:
                self._person(root, "ProtectionOrderRestrictedPerson", p.person, restrained=True)
                return
            self._unplaced(p, "restrained")

    def _protected(self, root: etree._Element) -> None:
        found = self.n.participants("r:ProtectedParticipant")
        ordered = sorted(found, key=lambda p: p.role != "PPSC")  # stable: the protected person first
        for p in ordered:
            if p.person is not None and p.role in codes.PROTECTED_ROLES:
                self._person(root, "ProtectionOrderProtectedPerson", p.person, restrained=False)
            else:
                self._unplaced(p, "protected")

    def _unplaced(self, p: Participant, side: str) -> None:
        what = "an organization" if p.organization is not None else f"role {p.role}"
        self.note(
            f"{CASE}/dsp917cajudreq:{side.title()}Participant",
            f"a {side} participant ({what}) is kept, not in the order",
        )

    def _conditions(self, root: etree._Element) -> None:
        order = self.n.order
        conditions: set[str] = set()
        words: list[str] = []
        stay = (text(order, "r:StayAwayText") or "").upper()
        places = [codes.STAY_AWAY_PLACES[c] for c in stay if c in codes.STAY_AWAY_PLACES]
        unknown = sorted({c for c in stay if c not in codes.STAY_AWAY_PLACES})
        if unknown:
            self.note(
                f"{ORDER}/dsp917cajudreq:StayAwayText",
                f"stay-away letters {''.join(unknown)} are kept, not in the order",
            )
        yards = text(order, "r:YardsToStayAwayQuantity")
        if places:
            conditions.add("04")
            words.append("Stay away from " + ", ".join(places) + (f": {yards} yards" if yards else ""))
        if text(order, "r:ContactAllowedCode") == "N":
            conditions.add("05")
        if text(order, "r:CourtOrderChildCustodyCode") == "PP":
            conditions.add("09")
        if text(order, "r:VisitationCode") in ("Y", "S"):
            conditions.add("06")
        firearm = text(order, "r:FirearmProvisionsCode") or ""
        if firearm in codes.FIREARM_RESTRICTED:
            conditions.add("07")
        misc = texts(order, "r:MiscellaneousInformationText")
        other = text(order, "r:OtherOrdersText")
        if other and other.strip().upper() not in ("NONE", "N/A"):
            misc.append(other)
        if misc:
            conditions.add("08")
        words.extend(misc)
        el = _e(root, "ProtectionOrderCondition")
        for code in sorted(conditions):
            _e(el, "ProtectionOrderConditionCode", code)
        if yards:
            _e(el, "StayAwayDistanceMeasure", yards)
        if firearm in codes.FIREARM_SURRENDER:
            _e(el, "FirearmRelinquishmentIndicator", "true")
        if words:
            _e(el, "ProtectionOrderConditionText", "; ".join(words)[:2000])

    def _service(self, root: etree._Element) -> None:
        order = self.n.order
        issued = text(order, "r:IssuedDate/nc:Date")
        if text(order, "r:PresentInCourtCode") == "Y" and issued:
            proof = _e(root, "ProofOfService")
            _e(proof, "CourtOrderServiceDate", issued)
            _e(proof, "ServingAgencyORIIdentification", self.court_ori)
            _e(proof, "ServiceTypeCode", "IN-COURT")
        elif text(order, "r:ServedDate/nc:Date"):
            self.note(
                f"{ORDER}/dsp917cajudreq:ServedDate",
                "the proof of service names no serving agency ORI: it is kept, not in the order "
                "(the serving agency records it with ServeOrder)",
            )


def _name(parent: etree._Element, local: str, name: etree._Element) -> None:
    el = _e(parent, local)
    _opt(el, "PersonGivenName", text(name, "nc:PersonGivenName"))
    _opt(el, "PersonMiddleName", text(name, "nc:PersonMiddleName"))
    _e(el, "PersonSurName", text(name, "nc:PersonSurName") or "")
    suffix = (text(name, "nc:PersonNameSuffixText") or "").upper().replace(".", "")
    _opt(el, "PersonNameSuffixText", suffix or None)


def to_order(n: Notification, court_ori: str, county: str) -> Mapped:
    """The canonical order of ``n`` for the court ``court_ori`` (of ``county``), fitted to the DRAFT
    profile; :class:`Unmappable` if nothing that profile accepts is left."""
    builder = _Builder(n, court_ori, county)
    order = fit(builder.build(), builder.notes)
    mapped = Mapped(order, builder.notes)
    for position, attachment in enumerate(n.attachments(), start=1):
        data = text(attachment, "nc:DocumentBinary/nc:BinaryBase64Object")
        if not data:
            continue
        try:
            content = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):  # the schema's base64Binary admits what Python's decoder refuses
            builder.note(
                f"{ORDER}/dsp917cajudreq:RestrainingOrderAttachment[{position}]/ncreq:DocumentBinary",
                "the attachment is not readable base64: it is kept in the stored notification as sent, "
                "not as an image of the order",
            )
            continue
        mapped.images.append((position, text(attachment, "nc:DocumentTitleText"), content))
    return mapped


_PRF = {"prf": ns.ORDER_PROFILES, "ord": _O}


def fit(order: etree._Element, notes: list[Violation]) -> etree._Element:
    """``order`` without the elements the DRAFT profile refuses (each one noted), or Unmappable
    when the order itself would have to go (its court or case number)."""
    probe = etree.Element(ns.q(ns.ORDER_PROFILES, "DraftOrder"), nsmap=_PRF)
    probe.extend(copy.deepcopy(child) for child in order)
    schema = profile_schema()
    for _ in range(50):  # each round removes one element
        if schema.validate(probe):
            fitted = etree.Element(order.tag, nsmap=order.nsmap)
            fitted.extend(probe)
            return fitted
        removed = False
        errors = list(schema.error_log)
        for entry in errors:
            path = (entry.path or "").replace("/prf:DraftOrder", "", 1)
            targets = probe.xpath("." + path, namespaces=_PRF) if path.startswith("/ord:") else []
            if not targets or targets[0].getparent() is probe and etree.QName(targets[0]).localname in _ESSENTIAL:
                raise Unmappable([Violation(path or "/ord:Order", entry.message) for entry in errors])
            target = targets[0]
            if target.getparent() is None:
                continue
            value = (target.text or "").strip() if len(target) == 0 else "..."
            reason = entry.message.split("': ", 1)[-1]
            notes.append(
                Violation(
                    "/ord:Order" + path,
                    f"{etree.QName(target).localname} {value!r} is kept in the stored notification, "
                    f"not in the order: {reason}",
                )
            )
            target.getparent().remove(target)
            removed = True
            break  # the paths of the other errors may have moved
        if not removed:
            break
    raise Unmappable([Violation(e.path or "", e.message) for e in schema.error_log])


_ESSENTIAL = frozenset({"CourtOrderIssuingCourt", "CaseDocketID"})


def table() -> str:
    """:data:`FIELDS` as the Markdown table docs/CONTRACT.md carries."""
    lines = ["| DSP917 element | canonical order (ord:) | rule |", "|---|---|---|"]
    lines += [f"| `{f.dsp917}` | `{f.canonical}` | {f.rule} |" for f in FIELDS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
