"""Sample orders as plain dicts (schema order), usable by zeep directly and rendered to XML here.

One source for both clients: ``order()`` gives a complete ACTIVE-profile order; tests override
fields with keyword arguments (``None`` removes one).
"""

from __future__ import annotations

import copy
import itertools
from datetime import date, timedelta
from typing import Any

from lxml import etree

from adapters.dms import sample
from hub import ns
from hub.clock import COURTS
from hub.contract import order_child_names

ORD = "urn:ca:courts:ccpor:order:1"
SVC = "urn:ca:courts:ccpor:orders:1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

COURT = "CA019015J"  # a Los Angeles court ORI (county 19)
_ids = itertools.count(1)


def name(surname: str, given: str | None = "ALEX", middle: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if given:
        out["PersonGivenName"] = given
    if middle:
        out["PersonMiddleName"] = middle
    out["PersonSurName"] = surname
    return out


def order(**overrides: Any) -> dict[str, Any]:
    """A complete DV-130 order (ACTIVE profile); ``key=None`` drops a top-level element."""
    issued = COURTS.today() - timedelta(days=10)
    base: dict[str, Any] = {
        "CourtOrderFormCode": "DV-130",
        "ProtectionOrderTypeCode": "OAH",
        "CourtOrderIssuingCourt": {"OrganizationORIIdentification": COURT, "OrganizationName": "LA Superior Court"},
        "CaseDocketID": f"24FL{next(_ids):06d}",
        "CourtOrderIssuingDate": issued,
        "CourtOrderExpirationDate": issued + timedelta(days=3 * 365),
        "ProtectionOrderRestrictedPerson": {
            "PersonName": name("MOUSE", "MICKEY"),
            "PersonBirthDate": date(1980, 5, 17),
            "PersonSexCode": "M",
            "PersonRaceCode": "W",
            "PersonHeightText": "510",
            "PersonWeightMeasure": 180,
            "PersonEyeColorCode": "BRO",
            "PersonHairColorCode": "BLK",
        },
        "ProtectionOrderProtectedPerson": [{"PersonName": name("DUCK", "DAISY"), "PersonBirthDate": date(1982, 1, 2)}],
        "ProtectionOrderCondition": {
            "ProtectionOrderConditionCode": ["01", "04", "05"],
            "StayAwayDistanceMeasure": 100,
        },
        "ProtectionOrderBradyIndicator": "Y",
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return _schema_order(base)


def _schema_order(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with its keys in the schema's element order (the hub reads that order from the XSD)."""
    keys = order_child_names()
    return {k: d[k] for k in keys if k in d} | {k: v for k, v in d.items() if k not in keys}


def proof(service_type: str = "PERSONAL", served: date | None = None) -> dict[str, Any]:
    """A proof of service by the Los Angeles sheriff."""
    return {
        "CourtOrderServiceDate": served or COURTS.today(),
        "ServingAgencyORIIdentification": "CA0190000",
        "ServiceTypeCode": service_type,
    }


def restrained(surname: str, given: str = "ALEX", **more: Any) -> dict[str, Any]:
    person = copy.deepcopy(order()["ProtectionOrderRestrictedPerson"])
    person["PersonName"] = name(surname, given)
    person.update(more)
    return person


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def render(parent: etree._Element, namespace: str, data: dict[str, Any]) -> None:
    """Append ``data`` under ``parent``, every element in ``namespace`` (types don't mix namespaces)."""
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(parent, f"{{{namespace}}}{key}")
            if isinstance(item, dict):
                render(child, namespace, item)
            else:
                child.text = _value(item)


def envelope(
    operation: str,
    params: list[tuple[Any, ...]],
    *,
    username: str | None = None,
    password: str | None = None,
    service: str = SVC,
    digest: bool = False,
) -> bytes:
    """A SOAP 1.1 request for ``operation`` of the ``service`` namespace (bound to prefix ``svc``).

    ``params`` are ``(name, value)`` or ``(name, value, namespace)``: a dict value's elements are in
    ``namespace`` (default ORD, the order types; SVC for criteria and uploads). With ``username``, a
    UsernameToken: PasswordText, or PasswordDigest (a fresh nonce, created now) with ``digest``.
    """
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "svc": service, "ord": ORD})
    if username is not None:
        header = etree.SubElement(env, f"{{{SOAP}}}Header")
        sec = etree.SubElement(header, f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
        token = etree.SubElement(sec, f"{{{WSSE}}}UsernameToken")
        etree.SubElement(token, f"{{{WSSE}}}Username").text = username
        secret = etree.SubElement(token, f"{{{WSSE}}}Password")
        secret.text = password
        if digest:
            _digest(token, secret, password or "")
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    op = etree.SubElement(body, f"{{{service}}}{operation}")
    for key, value, *namespace in params:
        child = etree.SubElement(op, f"{{{service}}}{key}")
        if isinstance(value, dict):
            render(child, namespace[0] if namespace else ORD, value)
        else:
            child.text = _value(value)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _digest(token: etree._Element, secret: etree._Element, password: str) -> None:
    """Make ``token`` a PasswordDigest token (UsernameToken Profile 1.0, section 3.1)."""
    import base64
    import hashlib
    import os
    from datetime import UTC, datetime

    from hub.api.wsse import PASSWORD_DIGEST

    nonce, created = os.urandom(16), datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    secret.set("Type", PASSWORD_DIGEST)
    secret.text = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()  # noqa: S324 - the profile's digest
    etree.SubElement(token, f"{{{WSSE}}}Nonce").text = base64.b64encode(nonce).decode()
    etree.SubElement(token, f"{{{ns.WSU}}}Created", nsmap={"wsu": ns.WSU}).text = created


def order_element(data: dict[str, Any], tag: str = f"{{{SVC}}}Order") -> etree._Element:
    el = etree.Element(tag, nsmap={"ord": ORD})
    render(el, ORD, data)
    return el


def tiny_pdf(marker: str = "") -> bytes:
    """A minimal, well-formed PDF (distinct per marker, so content hashes differ)."""
    return sample.pdf(marker)


def tiny_tiff() -> bytes:
    """A 1x1 bilevel little-endian TIFF."""
    return sample.tiff(pages=1)
