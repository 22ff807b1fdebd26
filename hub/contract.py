"""The published contract (xsd/, wsdl/) and the validators built from it.

The schemas are loaded once per process with lxml (libxml2 validates a typical order in well under
a millisecond). Violations carry the element path with the hub's canonical prefixes (``svc:``,
``ord:``) whatever prefixes the caller used, so a partner's developer can find the element.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

from lxml import etree

from hub import ns
from hub.errors import Violation

_HERE = Path(__file__).resolve().parent
PREFIXES = {
    ns.ORDER: "ord",
    ns.ORDERS_SERVICE: "svc",
    ns.ORDER_PROFILES: "prf",
    ns.ADMIN_SERVICE: "adm",
    ns.CARPOS_SERVICE: "crp",
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
    prefix_uris = {p: u for p, u in element.nsmap.items() if p}
    for descendant in element.iter(etree.Element):
        prefix_uris.update({p: u for p, u in descendant.nsmap.items() if p})
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


def validate_order_profile(order: etree._Element, *, active: bool, path: str) -> list[Violation]:
    """Check an order element against the ACTIVE or DRAFT profile, whatever its own tag is."""
    probe = copy.deepcopy(order)
    probe.tag = ns.q(ns.ORDER_PROFILES, "ActiveOrder" if active else "DraftOrder")
    found = _violations(profile_schema(), probe)
    element = "prf:ActiveOrder" if active else "prf:DraftOrder"
    return [Violation(v.path.replace(f"/{element}", path, 1), v.message) for v in found]
