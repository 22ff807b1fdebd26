"""The published contract: wsdl/ is what the code serves, and the WSDL's types are the XSD's."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import xmlschema
import zeep

from hub.api.app import ADMIN, CARPOS, ORDERS
from hub.contract import contract_dir
from hub.soap.wsdl import ServiceSpec, service_wsdl
from mocks.doj.service import SWITCH

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
    "ListAwaitingCompletion",
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
    "EnableUser",
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


@pytest.mark.functional
def test_the_served_wsdl_takes_no_text_from_the_request(hub):
    """The Host header (or any other request text) never reaches the WSDL: a cache in front would keep
    whatever markup it injected. The address is the configured public URL (here: the bound one)."""
    import socket

    evil = 'evil.example"/><wsdl:import location="http://evil.example/x.wsdl'
    with socket.create_connection(("127.0.0.1", hub.server.port), timeout=10) as raw:
        raw.sendall(f"GET /ws/orders?wsdl HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, served = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"evil" not in served
    assert served == wsdl_file(ORDERS).read_bytes().replace(
        ORDERS.placeholder.encode(), f"{hub.server.url}/ws/orders".encode()
    )


@pytest.mark.parametrize(
    ("public_url", "location"),
    [
        ("https://ccpor.courts.ca.gov", "https://ccpor.courts.ca.gov/ws/orders"),
        ("https://ccpor.courts.ca.gov:8443/registry/", "https://ccpor.courts.ca.gov:8443/registry/ws/orders"),
    ],
)
def test_the_public_url_setting_gives_the_wsdl_s_address(public_url: str, location: str):
    from hub.soap.wsdl import served_wsdl

    served = served_wsdl(wsdl_file(ORDERS).read_bytes(), ORDERS.placeholder, public_url)
    assert f'location="{location}"'.encode() in served and ORDERS.placeholder.encode() not in served


@pytest.mark.parametrize(
    "public_url",
    [
        "ftp://ccpor",
        "https://",
        'https://x"/><a b="',
        "https://a b",
        "https://user:pw@ccpor",
        "https://c?x=1",
        "https://c:port",
        "ftp://ops:pw@ccpor",
    ],
)
def test_a_public_url_that_is_not_an_address_is_refused(public_url: str):
    from hub.soap.wsdl import served_wsdl

    with pytest.raises(ValueError, match="CCPOR_PUBLIC_URL") as refused:
        served_wsdl(wsdl_file(ORDERS).read_bytes(), ORDERS.placeholder, public_url)
    assert "pw@" not in str(refused.value)  # the refusal goes to logs: a password in the address is masked


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
