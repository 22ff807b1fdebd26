"""The Python enums and code tables agree with the published XSD enumerations."""

from __future__ import annotations

import xmlschema

from hub.codes import (
    COUNTIES,
    FORM_TO_CLETS,
    MAX_DURATION_DAYS,
    CancelReason,
    OrderStatus,
    county_code_of_ori,
)
from hub.contract import contract_dir

SCHEMA = xmlschema.XMLSchema(str(contract_dir("xsd") / "ccpor-orders-service.xsd"))


def enum(qname: str) -> set[str]:
    return set(SCHEMA.maps.types[qname].enumeration)


def test_enums_match_the_schema():
    assert enum("{urn:ca:courts:ccpor:orders:1}OrderStatusCodeType") == {s.value for s in OrderStatus}
    assert enum("{urn:ca:courts:ccpor:orders:1}CancelReasonCodeType") == {r.value for r in CancelReason}
    assert enum("{urn:ca:courts:ccpor:order:1}CourtOrderFormCodeType") == set(FORM_TO_CLETS) == set(MAX_DURATION_DAYS)
    assert enum("{urn:ca:courts:ccpor:order:1}ProtectionOrderTypeCodeType") == set(FORM_TO_CLETS.values())


def test_counties():
    assert len(COUNTIES) == 58 and COUNTIES[18] == "Los Angeles" and COUNTIES[37] == "San Francisco"
    assert county_code_of_ori("CA0190000") == "19" and county_code_of_ori("CA0380100") == "38"
