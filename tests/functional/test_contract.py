"""The published contract: wsdl/ is what the code serves, and the WSDL's types are the XSD's."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import xmlschema
import zeep

from hub.api.app import WSDL_PLACEHOLDER, orders_wsdl
from hub.contract import contract_dir

ROOT = Path(__file__).resolve().parents[2]
WSDL_FILE = ROOT / "wsdl" / "ccpor-orders.wsdl"
OPERATIONS = [
    "SubmitOrder",
    "SaveDraft",
    "ModifyOrder",
    "CloneOrder",
    "ServeOrder",
    "CancelOrder",
    "GetOrder",
    "SearchOrders",
    "AddQuickAttach",
    "SearchQuickAttach",
    "AttachImage",
    "GetImage",
]


def test_generated_wsdl_is_the_checked_in_file():
    assert orders_wsdl() == WSDL_FILE.read_bytes(), "run `make wsdl` and review the diff"


@pytest.mark.functional
def test_served_wsdl_is_the_checked_in_file(hub):
    with requests.get(hub.server.wsdl, timeout=10) as resp:
        served = resp.content
    assert served == WSDL_FILE.read_bytes().replace(WSDL_PLACEHOLDER.encode(), hub.endpoint.encode())


def test_operations_are_exactly_the_contract():
    client = zeep.Client(str(WSDL_FILE))
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert sorted(port.binding._operations) == sorted(OPERATIONS)
    for name in OPERATIONS:
        op = port.binding._operations[name]
        assert op.style == "document" and op.input.body.qname.localname == name  # document/literal wrapped


def _xsd_shape(t) -> object:
    if t.is_simple():
        return ("simple", tuple(t.enumeration or ()), tuple(t.patterns.regexps) if t.patterns else ())
    return (
        "complex",
        tuple(
            (e.local_name, e.type.local_name if e.type.name else None, e.min_occurs, e.max_occurs)
            for e in t.content.iter_elements()
        ),
    )


def _zeep_shape(t) -> object:
    if not hasattr(t, "elements"):
        return ("simple", tuple(getattr(t, "enumeration", ()) or ()), ())
    return (
        "complex",
        tuple(
            (
                name,
                e.type.qname.localname if e.type.qname else None,
                e.min_occurs,
                None if e.max_occurs == "unbounded" else e.max_occurs,
            )
            for name, e in t.elements
        ),
    )


#: Types used only in fault details: described in the XSD (svc:FaultDetail), not by a WSDL message.
FAULT_ONLY = {"{urn:ca:courts:ccpor:orders:1}ViolationType"}


def test_wsdl_types_have_the_xsd_structure():
    """Every named complex type and each operation wrapper: same children, order, types and cardinality."""
    schema = xmlschema.XMLSchema(str(contract_dir("xsd") / "ccpor-orders-service.xsd"))
    client = zeep.Client(str(WSDL_FILE))
    compared = 0
    for qname, xsd_type in schema.maps.types.items():
        if not qname.startswith("{urn:ca:courts:ccpor") or xsd_type.is_simple():
            continue
        if qname in FAULT_ONLY:
            continue
        assert _zeep_shape(client.wsdl.types.get_type(qname)) == _xsd_shape(xsd_type), qname
        compared += 1
    for name in OPERATIONS + [f"{o}Response" for o in OPERATIONS]:
        element = schema.elements[name]
        zeep_el = client.wsdl.types.get_element(f"{{urn:ca:courts:ccpor:orders:1}}{name}")
        assert _zeep_shape(zeep_el.type) == _xsd_shape(element.type), name
        compared += 1
    assert compared > 30
