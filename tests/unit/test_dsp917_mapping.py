"""The DSP917 -> canonical order mapping on its own: code lists, edges, absences, references."""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from hub import ns
from hub.contract import Dsp917, validate_dsp917, validate_order_profile
from hub.dsp917 import codes
from hub.dsp917.mapping import FIELDS, Unmappable, to_order
from hub.dsp917.notification import Notification
from tests.support.dsp917 import ORDER_PATH, RESTRAINED, N, current, put, without_attachment

ORD = {"ord": ns.ORDER}
IMPERIAL = ("CA013013J", "Imperial")


def notification(root: etree._Element) -> Notification:
    assert validate_dsp917(root, Dsp917.REQ_INPUT) == [], "the test's notification must pass the official schema"
    return Notification(root)


def mapped(root: etree._Element):  # type: ignore[no-untyped-def]
    return to_order(notification(root), *IMPERIAL)


def values(order: etree._Element, path: str) -> list[str]:
    return [e.text for e in order.xpath(path, namespaces=ORD)]


def base() -> etree._Element:
    return without_attachment(current("UNIT-1", "550000000001"))


@pytest.mark.parametrize(("dsp917", "ncic"), sorted(codes.RACE.items()))
def test_every_race_code_of_dsp917_becomes_an_ncic_race(dsp917, ncic):
    root = base()
    put(root, f"{RESTRAINED}/r:PersonDemographics/r:PersonRaceCode", dsp917)
    assert values(mapped(root).order, "ord:ProtectionOrderRestrictedPerson/ord:PersonRaceCode") == [ncic]


def test_dsp917_u_is_hawaiian_not_unknown():
    assert codes.RACE["U"] == "P" and codes.RACE["X"] == "U"


@pytest.mark.parametrize(("firearm", "conditions", "surrender"), [
    ("N", [], []), ("P", ["07"], []), ("S", ["07"], ["true"]), ("B", ["07"], ["true"]),
])  # fmt: skip
def test_firearm_provisions(firearm, conditions, surrender):
    root = base()
    put(root, f"{ORDER_PATH}/r:FirearmProvisionsCode", firearm)
    put(root, f"{ORDER_PATH}/r:VisitationCode", "N")
    put(root, f"{ORDER_PATH}/r:StayAwayText", "")
    order = mapped(root).order
    found = values(order, "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionCode")
    assert [c for c in found if c == "07"] == conditions
    assert values(order, "ord:ProtectionOrderCondition/ord:FirearmRelinquishmentIndicator") == surrender


@pytest.mark.parametrize(("custody", "visitation", "expected"), [
    ("PP", "N", ["09"]), ("RP", "Y", ["06"]), ("JT", "S", ["06"]), ("OP", "N", []),
])  # fmt: skip
def test_custody_and_visitation(custody, visitation, expected):
    root = base()
    put(root, f"{ORDER_PATH}/r:CourtOrderChildCustodyCode", custody)
    put(root, f"{ORDER_PATH}/r:VisitationCode", visitation)
    found = values(mapped(root).order, "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionCode")
    assert [c for c in found if c in ("06", "09")] == expected


def test_stay_away_letters_in_words_and_an_unknown_letter_noted():
    root = base()
    put(root, f"{ORDER_PATH}/r:StayAwayText", "RWZ")
    result = mapped(root)
    text = values(result.order, "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionText")[0]
    assert text.startswith("Stay away from the residence, the workplace: 100 yards")
    assert any("stay-away letters Z are kept" in n.message for n in result.notes)


def test_no_contact_is_condition_05():
    root = base()
    put(root, f"{ORDER_PATH}/r:ContactAllowedCode", "N")
    assert "05" in values(mapped(root).order, "ord:ProtectionOrderCondition/ord:ProtectionOrderConditionCode")


@pytest.mark.parametrize(("given", "form", "otc"), [
    ("TRO", "DV-110", "TRO"), ("OAH", "DV-130", "OAH"), ("CPO", "CR-160", "CPO"), ("cr-161", "CR-161", "CPO"),
    ("EA-130", "EA-130", "EAR"),
])  # fmt: skip
def test_the_order_type_is_a_clets_code_or_a_form(given, form, otc):
    root = base()
    put(root, f"{ORDER_PATH}/nc:ActivityCategoryText", given)
    order = mapped(root).order
    assert values(order, "ord:CourtOrderFormCode") == [form] and values(order, "ord:ProtectionOrderTypeCode") == [otc]


def test_an_unknown_order_type_leaves_the_order_without_one_and_says_so():
    root = base()
    put(root, f"{ORDER_PATH}/nc:ActivityCategoryText", "RESTRAINING ORDER")
    result = mapped(root)
    assert values(result.order, "ord:CourtOrderFormCode") == []
    assert any("'RESTRAINING ORDER' is neither" in n.message for n in result.notes)
    # A DRAFT without a type is fine; the ACTIVE profile will hold it.
    assert validate_order_profile(result.order, active=False, path="/x") == []
    assert validate_order_profile(result.order, active=True, path="/x") != []


def test_ten_protected_persons_are_all_in_the_order_the_protected_person_first():
    root = base()
    people = root.xpath("r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedPeople", namespaces=N)[0]
    case = root.xpath(
        "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase", namespaces=N
    )[0]
    (protected,) = case.xpath("r:ProtectedParticipant", namespaces=N)
    (person,) = people.xpath("r:Person[@s:id='PRO_1']", namespaces=N)
    for i in range(2, 11):
        extra = copy.deepcopy(person)
        extra.set(ns.q(ns.DSP917_S, "id"), f"PRO_{i}")
        extra.xpath("r:PersonName/nc:PersonGivenName", namespaces=N)[0].text = f"Child{chr(64 + i)}"
        people.insert(0, extra)  # the additional ones first in the document
        participant = copy.deepcopy(protected)
        participant.xpath("r:RoleOfEntity/r:EntityRoleCode", namespaces=N)[0].text = "APPSC"
        participant.xpath("r:RoleOfEntity/nc:RoleOfPersonReference", namespaces=N)[0].set(
            ns.q(ns.DSP917_S, "ref"), f"PRO_{i}"
        )
        protected.addprevious(participant)
    order = mapped(root).order
    names = values(order, "ord:ProtectionOrderProtectedPerson/ord:PersonName/ord:PersonGivenName")
    assert len(names) == 10 and names[0] == "Mary"
    assert sorted(names[1:]) == [f"Child{chr(64 + i)}" for i in range(2, 11)]


def test_a_name_longer_than_the_registry_holds_is_kept_aside_and_noted():
    root = base()
    put(root, f"{RESTRAINED}/r:PersonName/nc:PersonMiddleName", "M" * 41)
    result = mapped(root)
    assert values(result.order, "ord:ProtectionOrderRestrictedPerson/ord:PersonName/ord:PersonMiddleName") == []
    assert any("PersonMiddleName" in n.path and "kept in the stored notification" in n.message for n in result.notes)


def test_a_surname_the_registry_cannot_hold_takes_its_person_out_not_the_order():
    root = base()
    put(root, f"{RESTRAINED}/r:PersonName/nc:PersonSurName", "S" * 41)
    result = mapped(root)
    assert result.order.find(ns.q(ns.ORDER, "ProtectionOrderRestrictedPerson")) is None
    assert validate_order_profile(result.order, active=False, path="/x") == []


def test_a_case_number_the_registry_cannot_hold_is_unmappable():
    root = base()
    put(
        root,
        "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase/nc:CaseDocketID",
        "C" * 31,
    )
    with pytest.raises(Unmappable) as caught:
        mapped(root)
    assert any("CaseDocketID" in v.message for v in caught.value.violations)


def _minimal() -> etree._Element:
    """The sample with every element the official schema lets it go without removed."""
    root = base()
    changed = True
    while changed:
        changed = False
        for el in list(root.iter(etree.Element)):
            parent = el.getparent()
            if parent is None or el.getparent() is None:
                continue
            index = parent.index(el)
            parent.remove(el)
            if validate_dsp917(root, Dsp917.REQ_INPUT) == [] and not Notification(root).problems():
                changed = True
            else:
                parent.insert(index, el)
    return root


def test_a_notification_with_every_optional_part_absent_maps_to_a_draft():
    root = _minimal()
    assert len(list(root.iter(etree.Element))) < 40  # the optional parts are gone
    result = mapped(root)
    assert values(result.order, "ord:CaseDocketID") == ["00003235"]
    assert values(result.order, "ord:CourtOrderIssuingCourt/ord:OrganizationORIIdentification") == ["CA013013J"]
    assert validate_order_profile(result.order, active=False, path="/x") == []


def test_every_mapping_line_names_both_sides():
    assert len(FIELDS) >= 25
    for line in FIELDS:
        assert line.dsp917 and line.canonical and line.rule


def test_the_contract_documents_the_mapping_as_the_code_does():
    from pathlib import Path

    from hub.dsp917.mapping import table

    text = (Path(__file__).resolve().parents[2] / "docs" / "CONTRACT.md").read_text()
    documented = text.split("<!-- dsp917-mapping:begin -->\n", 1)[1].split("<!-- dsp917-mapping:end -->", 1)[0]
    assert documented == table(), (
        "docs/CONTRACT.md's DSP917 mapping is not the code's: paste python -m hub.dsp917.mapping"
    )
    for error in codes.ErrorCode:
        assert f"| `{error.code}` | {error.text} |" in text


@pytest.mark.parametrize(("length", "accepted"), [(30, True), (31, False)])
def test_a_street_at_and_past_the_mapping_sheets_30_characters(length, accepted):
    """The mapping sheet's Street is VARCHAR2(30), and the official schema says so: 30 characters
    are accepted (the address has no place in the order: it is kept in the stored notification),
    31 are the schema's Client.ValidationError at the entry point, naming the element and the limit."""
    from hub.dsp917.intake import stored_payload

    root = base()
    (street,) = root.xpath("//nc:StreetFullText", namespaces=N)
    street.text = "S" * length
    found = validate_dsp917(root, Dsp917.REQ_INPUT)
    if not accepted:
        assert "StreetFullText" in found[0].path and "maximum length of '30'" in found[0].message
        return
    assert found == []
    assert "S" * 30 in stored_payload(to_order_root(root))


def to_order_root(root: etree._Element) -> etree._Element:
    mapped(root)  # maps without complaint
    return root


def test_an_attachment_the_schema_admits_but_base64_cannot_read_is_a_note_not_a_server_fault():
    root = current("UNIT-B64", "550000000009")
    (binary,) = root.xpath("//nc:BinaryBase64Object", namespaces=N)
    binary.text = "QUJDRA==\u00e9"  # libxml2 lets a non-ASCII character through; Python's decoder does not
    result = mapped(root)
    assert result.image is None
    assert any("not readable base64" in n.message for n in result.notes)
    binary.text = "JVBE\nRi0x"  # folded lines are fine
    assert mapped(root).image == b"%PDF-1"
