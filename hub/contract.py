"""The published contract (xsd/, wsdl/) and the validators built from it.

The schemas are loaded once per process with lxml (libxml2 validates a typical order in well under
a millisecond). Violations carry the element path with the hub's canonical prefixes (``svc:``,
``ord:``) whatever prefixes the caller used, so a partner's developer can find the element.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from hub import ns
from hub.errors import Violation

_HERE = Path(__file__).resolve().parent
PREFIXES = {
    ns.ORDER: "ord",
    ns.ORDERS_SERVICE: "svc",
    ns.ORDER_PROFILES: "prf",
    ns.HISTORICAL_BATCH: "hb",
    ns.ADMIN_SERVICE: "adm",
    ns.CARPOS_SERVICE: "crp",
    ns.DSP917_REQ_INPUT: "dsp917cajudreqip",
    ns.DSP917_REQ: "dsp917cajudreq",
    ns.DSP917_NC: "ncreq",
    ns.DSP917_J: "jreq",
    ns.DSP917_S: "s",
    ns.ISB_HEADER: "tnshdr",
}


def contract_dir(kind: str) -> Path:
    """``xsd`` or ``wsdl``: inside an installed wheel (``hub/_xsd``) or the source checkout."""
    for candidate in (_HERE / f"_{kind}", _HERE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the {kind}/ contract files are neither installed nor in the checkout")


def _load(name: str) -> etree.XMLSchema:
    path = contract_dir("xsd") / name
    # Our own files, but parsed with the same refusals as anything else: no network, no entities.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


@cache
def service_schema(xsd_name: str = "ccpor-orders-service.xsd") -> etree.XMLSchema:
    return _load(xsd_name)


@cache
def profile_schema() -> etree.XMLSchema:
    return _load("ccpor-order-profiles.xsd")


@cache
def batch_schema() -> etree.XMLSchema:
    return _load("ccpor-historical-batch.xsd")


_CLARK = re.compile(r"\{([^}]*)\}")


def _canonical(text: str, prefix_uris: dict[str, str]) -> str:
    text = _CLARK.sub(lambda m: PREFIXES.get(m.group(1), m.group(1)) + ":", text)

    def seg(m: re.Match[str]) -> str:
        uri = prefix_uris.get(m.group(1))
        return f"{PREFIXES.get(uri, m.group(1))}:" if uri else m.group(0)

    return re.sub(r"\b([A-Za-z_][\w.-]*):(?=[A-Za-z_*])", seg, text)


def _violations(schema: etree.XMLSchema, element: etree._Element, path_prefix: str = "") -> list[Violation]:
    if schema.validate(element):
        return []
    # The prefixes the paths and messages use: those in scope at the element, and each element's
    # own (read from the element, O(1)); not every element's nsmap, a dict of everything in scope
    # there: 20,000 elements under 64 namespaces made a refused request cost 0.25 s of CPU.
    prefix_uris = {p: u for p, u in element.nsmap.items() if p}
    for descendant in element.iter(etree.Element):
        if descendant.prefix and descendant.prefix not in prefix_uris:
            prefix_uris[descendant.prefix] = etree.QName(descendant).namespace
    found = []
    for entry in schema.error_log:
        path = _canonical(entry.path or "", prefix_uris)
        found.append(Violation(path_prefix + path, _canonical(entry.message, prefix_uris)))
    return found


@cache
def order_child_names() -> tuple[str, ...]:
    """The child elements of an order in schema order (from DraftProtectionOrderType)."""
    doc = etree.parse(str(contract_dir("xsd") / "ccpor-order.xsd"), etree.XMLParser(no_network=True))
    names = doc.xpath(
        "/xs:schema/xs:complexType[@name='DraftProtectionOrderType']/xs:sequence/xs:element/@name",
        namespaces={"xs": ns.XSD},
    )
    return tuple(str(n) for n in names)


def validate_request(body_child: etree._Element, xsd_name: str = "ccpor-orders-service.xsd") -> list[Violation]:
    """Check one operation element (the Body's child) against its service's schema."""
    return _violations(service_schema(xsd_name), body_child)


def validate_batch_record(element: etree._Element) -> list[Violation]:
    """Check one element of a historical batch (an ``hb:Record``, or the batch's own attributes on an
    empty ``hb:HistoricalBatch``) against xsd/ccpor-historical-batch.xsd."""
    return _violations(batch_schema(), element)


def validate_order_profile(order: etree._Element, *, active: bool, path: str) -> list[Violation]:
    """Check an order element against the ACTIVE or DRAFT profile, whatever its own tag is."""
    probe = copy.deepcopy(order)
    probe.tag = ns.q(ns.ORDER_PROFILES, "ActiveOrder" if active else "DraftOrder")
    found = _violations(profile_schema(), probe)
    element = "prf:ActiveOrder" if active else "prf:DraftOrder"
    return [Violation(v.path.replace(f"/{element}", path, 1), v.message) for v in found]


# ---- DSP917: the official files, unmodified (xsd/dsp917/PROVENANCE.md) ------------------------------

_DSP917_EXCHANGE = "SchemaDefinitions/CAJUD/DSP917/V_2_0_0"


class Dsp917(Enum):
    """The four DSP917 messages: the court's notification and CCPOR's receipt for it (the request
    service CCPOR serves), CCPOR's business response and the court's receipt for it (the response
    service the court serves)."""

    REQ_INPUT = ("Request", "DSP917CAJUDReqInput", ns.DSP917_REQ_INPUT)
    REQ_OUTPUT = ("Request", "DSP917CAJUDReqOutput", ns.DSP917_REQ_OUTPUT)
    RESP_INPUT = ("Response", "DSP917CAJUDRespInput", ns.DSP917_RESP_INPUT)
    RESP_OUTPUT = ("Response", "DSP917CAJUDRespOutput", ns.DSP917_RESP_OUTPUT)

    def __init__(self, side: str, element: str, namespace: str) -> None:
        self.side = side
        self.element = element
        self.namespace = namespace

    @property
    def tag(self) -> str:
        return ns.q(self.namespace, self.element)

    @property
    def service(self) -> str:
        """The WSDL the message belongs to: ``DSP917CAJUDReq`` or ``DSP917CAJUDResp``."""
        return "DSP917CAJUDReq" if self.side == "Request" else "DSP917CAJUDResp"

    @property
    def schema_path(self) -> Path:
        return dsp917_dir() / _DSP917_EXCHANGE / self.side / "ExchangeSchema" / f"{self.element}.xsd"


def dsp917_dir() -> Path:
    """The official DSP917 files as shipped (``xsd/dsp917``)."""
    return contract_dir("xsd") / "dsp917"


@cache
def dsp917_schema(message: Dsp917) -> etree.XMLSchema:
    """One message's official schema, loaded from its own folder (its imports are relative paths)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(message.schema_path), parser))


def validate_dsp917(element: etree._Element, message: Dsp917) -> list[Violation]:
    """Check a DSP917 message against its official schema; the element must be the message's root."""
    if element.tag != message.tag:
        return [Violation(f"/{element.tag}", f"expected {message.element} in {message.namespace}")]
    return _violations(dsp917_schema(message), element)


def dsp917_sample(name: str) -> bytes:
    """An official sample instance (``DSP917_Request.xml``, ``DSP917_Business_Response.xml``, ...)."""
    return (dsp917_dir() / _DSP917_EXCHANGE / "Sample_Instances" / name).read_bytes()


def dsp917_wsdl_path(service: str) -> Path:
    """The official concrete WSDL of ``DSP917CAJUDReq`` or ``DSP917CAJUDResp`` (schemas inlined)."""
    if service not in ("DSP917CAJUDReq", "DSP917CAJUDResp"):
        raise ValueError(f"no DSP917 service {service!r}")
    return dsp917_dir() / "SOAP/CAJUD/DSP917/V_2_0_0/ConcreteWSDLs" / f"{service}_Concrete.wsdl"


@dataclass(frozen=True)
class Dsp917Binding:
    """What the official concrete WSDL says about one service's one port."""

    address: str
    operations: tuple[str, ...]
    soap_action: str

    @property
    def path(self) -> str:
        return urlsplit(self.address).path


@cache
def dsp917_binding(service: str) -> Dsp917Binding:
    doc = etree.parse(str(dsp917_wsdl_path(service)), etree.XMLParser(resolve_entities=False, no_network=True))
    w = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    (address,) = doc.xpath("/wsdl:definitions/wsdl:service/wsdl:port/soap:address/@location", namespaces=w)
    operations = doc.xpath("/wsdl:definitions/wsdl:portType/wsdl:operation/@name", namespaces=w)
    (action,) = doc.xpath("/wsdl:definitions/wsdl:binding/wsdl:operation/soap:operation/@soapAction", namespaces=w)
    return Dsp917Binding(str(address), tuple(str(o) for o in operations), str(action))
