"""The published contract: wsdl/ is what the code serves, and the WSDL's types are the XSD's."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import xmlschema
import zeep

from gateway.mockdoj.service import SWITCH
from hub.api.app import ADMIN, CARPOS, ORDERS, ServiceSpec, service_wsdl
from hub.contract import contract_dir

ROOT = Path(__file__).resolve().parents[2]
ORDER_OPERATIONS = [
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
    "LockOrder",
    "ReleaseOrder",
]
ADMIN_OPERATIONS = [
    "ListUsers",
    "SaveUser",
    "SetUserRoles",
    "DisableUser",
    "UnlockUser",
    "SearchLockedOrders",
    "UnlockOrder",
    "SearchAudit",
    "ListQueue",
    "RequeueMessage",
]
CARPOS_OPERATIONS = [
    "ListCarposMessages",
    "AcknowledgeCarposMessage",
    "QueryCarpos",
    "GetCarposQueryResult",
    "ResubmitToCarpos",
]
SWITCH_OPERATIONS = ["SubmitTransmissions", "FetchAnswers", "AcknowledgeAnswers"]
CONTRACTS = pytest.mark.parametrize(
    ("spec", "operations"),
    [(ORDERS, ORDER_OPERATIONS), (ADMIN, ADMIN_OPERATIONS), (CARPOS, CARPOS_OPERATIONS)],
    ids=["orders", "admin", "carpos"],
)
#: The hub's services and the DOJ switch's (served by the mock switch, not by the hub).
ALL_CONTRACTS = pytest.mark.parametrize(
    ("spec", "operations"),
    [(ORDERS, ORDER_OPERATIONS), (ADMIN, ADMIN_OPERATIONS), (CARPOS, CARPOS_OPERATIONS), (SWITCH, SWITCH_OPERATIONS)],
    ids=["orders", "admin", "carpos", "switch"],
)


def wsdl_file(spec: ServiceSpec) -> Path:
    return ROOT / "wsdl" / spec.wsdl_file


@ALL_CONTRACTS
def test_generated_wsdl_is_the_checked_in_file(spec: ServiceSpec, operations):
    assert service_wsdl(spec) == wsdl_file(spec).read_bytes(), "run `make wsdl` and review the diff"


@pytest.mark.functional
@CONTRACTS
def test_served_wsdl_is_the_checked_in_file(hub, spec: ServiceSpec, operations):
    endpoint = f"{hub.server.url}{spec.path}"
    with requests.get(f"{endpoint}?wsdl", timeout=10) as resp:
        served = resp.content
    assert served == wsdl_file(spec).read_bytes().replace(spec.placeholder.encode(), endpoint.encode())


@ALL_CONTRACTS
def test_operations_are_exactly_the_contract(spec: ServiceSpec, operations):
    client = zeep.Client(str(wsdl_file(spec)))
    (service,) = client.wsdl.services.values()
    (port,) = service.ports.values()
    assert sorted(port.binding._operations) == sorted(operations)
    for name in operations:
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


@ALL_CONTRACTS
def test_wsdl_types_have_the_xsd_structure(spec: ServiceSpec, operations):
    """Every named complex type and each operation wrapper: same children, order, types and cardinality."""
    schema = xmlschema.XMLSchema(str(contract_dir("xsd") / spec.xsd))
    client = zeep.Client(str(wsdl_file(spec)))
    # The orders WSDL carries every type of the orders and order schemas; another service's WSDL
    # carries its own types and those of the imported schemas its messages use.
    own = ("{urn:ca:courts:ccpor",) if spec is ORDERS else (f"{{{spec.namespace}}}",)
    compared = 0
    for qname, xsd_type in schema.maps.types.items():
        if not qname.startswith(own) or xsd_type.is_simple():
            continue
        if qname in FAULT_ONLY:
            continue
        assert _zeep_shape(client.wsdl.types.get_type(qname)) == _xsd_shape(xsd_type), qname
        compared += 1
    for name in operations + [f"{o}Response" for o in operations]:
        element = schema.elements[name]
        zeep_el = client.wsdl.types.get_element(f"{{{spec.namespace}}}{name}")
        assert _zeep_shape(zeep_el.type) == _xsd_shape(element.type), name
        compared += 1
    assert compared > 2 * len(operations)
