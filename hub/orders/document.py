"""Typed, read-only access to a canonical order document (an ``ord:`` element already validated).

The hub keeps the order as the XML the partner sent (after validation), so nothing is lost in a
mapping; the columns that search and the lifecycle need are read from it here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lxml import etree

from hub import ns
from hub.xmlsafe import parser_for_stored

_O = ns.ORDER


def _q(local: str) -> str:
    return f"{{{_O}}}{local}"


#: ``ord:A/ord:B`` paths as their steps' Clark names, translated once per path.
_STEPS: dict[str, tuple[str, ...]] = {}


def _first(el: etree._Element, steps: tuple[str, ...]) -> etree._Element | None:
    """What ``el.find`` gives for a path of child steps -- the first match in document order --
    walking the children directly instead of through ElementPath (a SubmitOrder reads ~30 of them)."""
    for child in el.iterchildren(steps[0]):
        if len(steps) == 1:
            return child
        found = _first(child, steps[1:])
        if found is not None:
            return found
    return None


def _text(el: etree._Element | None, path: str) -> str | None:
    if el is None:
        return None
    steps = _STEPS.get(path)
    if steps is None:
        steps = _STEPS[path] = tuple(step.replace("ord:", f"{{{_O}}}") for step in path.split("/"))
    found = _first(el, steps)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _date(el: etree._Element | None, path: str) -> date | None:
    raw = _text(el, path)
    # xs:date allows an optional time zone suffix; the calendar date is what courts mean.
    return date.fromisoformat(raw[:10]) if raw else None


def _bool(el: etree._Element | None, path: str) -> bool:
    return _text(el, path) in ("true", "1")


@dataclass(frozen=True)
class PersonName:
    surname: str
    given: str | None
    middle: str | None


def _name(el: etree._Element) -> PersonName:
    return PersonName(
        surname=_text(el, "ord:PersonSurName") or "",
        given=_text(el, "ord:PersonGivenName"),
        middle=_text(el, "ord:PersonMiddleName"),
    )


@dataclass(frozen=True)
class Party:
    role: str  # hub.codes.PartyRole value
    name: PersonName
    alias: bool
    birth_date: date | None


class OrderDocument:
    """An order element plus typed accessors. The element is never modified through this class."""

    def __init__(self, element: etree._Element) -> None:
        self.element = element

    @classmethod
    def from_xml(cls, text: str) -> OrderDocument:
        # Only hub-written XML (already validated on intake) is read back with this parser.
        return cls(etree.fromstring(text.encode(), parser_for_stored()))

    def to_xml(self) -> str:
        return etree.tostring(self.element, encoding="unicode")

    def text(self, path: str) -> str | None:
        return _text(self.element, path)

    @property
    def form_code(self) -> str | None:
        return self.text("ord:CourtOrderFormCode")

    @property
    def order_type_code(self) -> str | None:
        return self.text("ord:ProtectionOrderTypeCode")

    @property
    def court_ori(self) -> str:
        return self.text("ord:CourtOrderIssuingCourt/ord:OrganizationORIIdentification") or ""

    @property
    def case_number(self) -> str:
        return self.text("ord:CaseDocketID") or ""

    @property
    def issue_date(self) -> date | None:
        return _date(self.element, "ord:CourtOrderIssuingDate")

    @property
    def expiration_date(self) -> date | None:
        return _date(self.element, "ord:CourtOrderExpirationDate")

    @property
    def non_expiring(self) -> bool:
        return _bool(self.element, "ord:CourtOrderNonExpiringIndicator")

    @property
    def sealed(self) -> bool:
        return _bool(self.element, "ord:SealedIndicator")

    @property
    def served(self) -> bool:
        return self.element.find(_q("ProofOfService")) is not None

    @property
    def source_system(self) -> str | None:
        return self.text("ord:SourceSystemName")

    @property
    def source_message_id(self) -> str | None:
        return self.text("ord:SourceMessageID")

    @property
    def restrained(self) -> etree._Element | None:
        return self.element.find(_q("ProtectionOrderRestrictedPerson"))

    @property
    def protected(self) -> list[etree._Element]:
        return self.element.findall(_q("ProtectionOrderProtectedPerson"))

    @property
    def condition_codes(self) -> list[str]:
        return [
            (c.text or "").strip()
            for c in self.element.iterfind(f"{_q('ProtectionOrderCondition')}/{_q('ProtectionOrderConditionCode')}")
        ]

    @property
    def condition_text(self) -> str | None:
        return self.text("ord:ProtectionOrderCondition/ord:ProtectionOrderConditionText")

    @property
    def document_references(self) -> list[tuple[str | None, str | None]]:
        """(ImageId, QuickAttachId) per DocumentReference, in document order."""
        return [
            (_text(ref, "ord:ImageId"), _text(ref, "ord:QuickAttachId"))
            for ref in self.element.iterfind(_q("DocumentReference"))
        ]

    def parties(self) -> list[Party]:
        """Every searchable name: the restrained person, their aliases, each protected person."""
        found: list[Party] = []
        r = self.restrained
        if r is not None:
            dob = _date(r, "ord:PersonBirthDate")
            main = r.find(_q("PersonName"))
            if main is not None:
                found.append(Party("RESTRAINED", _name(main), False, dob))
            found.extend(Party("RESTRAINED", _name(a), True, dob) for a in r.iterfind(_q("PersonAlternateName")))
        for p in self.protected:
            name = p.find(_q("PersonName"))
            if name is not None:
                found.append(Party("PROTECTED", _name(name), False, _date(p, "ord:PersonBirthDate")))
        return found

    def changed_elements(self, previous: OrderDocument | None) -> list[str]:
        """Names of the top-level elements that differ from ``previous`` (all, if none)."""
        if previous is None:  # nothing to compare: no need to canonicalize every element
            return sorted({etree.QName(child).localname for child in self.element.iterchildren(etree.Element)})

        def by_name(doc: OrderDocument | None) -> dict[str, list[bytes]]:
            out: dict[str, list[bytes]] = {}
            if doc is not None:
                for child in doc.element.iterchildren(etree.Element):
                    out.setdefault(etree.QName(child).localname, []).append(etree.tostring(child, method="c14n"))
            return out

        now, before = by_name(self), by_name(previous)
        return sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
