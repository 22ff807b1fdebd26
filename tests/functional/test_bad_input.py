"""Malformed, hostile, oversize, wrong-type and wrong-version requests over real HTTP.

Each gets a SOAP 1.1 fault with a specific code (never a bare HTTP error page), stores nothing,
fetches nothing, and the server keeps serving.
"""

from __future__ import annotations

import http.server
import threading

import pytest
import requests
import sqlalchemy as sa
from lxml import etree

from tests.conftest import PASSWORD
from tests.support.orders import SOAP, SVC, envelope, order

pytestmark = pytest.mark.functional

XML = {"Content-Type": "text/xml; charset=utf-8"}


def post(hub, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, str, etree._Element | None]:
    with requests.post(hub.endpoint, data=data, headers=headers or XML, timeout=10) as resp:
        status, content = resp.status_code, resp.content
    try:
        doc = etree.fromstring(content)
    except etree.XMLSyntaxError:
        return status, "", None
    fault = doc.find(f".//{{{SOAP}}}Fault")
    code = fault.findtext("faultcode").split(":")[-1] if fault is not None else ""
    return status, code, fault


def http_status(method: str, url: str) -> int:
    with requests.request(method, url, data=b"x" if method == "PUT" else None, timeout=5) as resp:
        return resp.status_code


def orders_count(hub) -> int:
    engine = sa.create_engine(hub.db_url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("select count(*) from orders")).scalar_one()
    engine.dispose()
    return int(n)


def authed(operation: str, params: list) -> bytes:
    return envelope(operation, params, username="clerk", password=PASSWORD)


def with_order_text(marker: bytes) -> bytes:
    """A valid SubmitOrder envelope whose case number is replaced by ``marker``."""
    body = authed("SubmitOrder", [("Order", order(CaseDocketID="CASEMARKER"))])
    return body.replace(b"CASEMARKER", marker)


class Listener(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<!ENTITY x 'fetched'>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def listener():
    server = http.server.HTTPServer(("127.0.0.1", 0), Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def hostile_cases(listener_url: str) -> dict[str, tuple[bytes, dict[str, str] | None, str]]:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
        )
        + b"]>"
    )
    valid = authed("GetOrder", [("OrderId", "CCP0000000001")])
    return {
        "billion laughs": (
            laughs + valid.split(b"?>", 1)[1].replace(b"CCP0000000001", b"&lol9;"),
            None,
            "Client.HostileXml",
        ),
        "quadratic blowup": (
            b'<!DOCTYPE x [<!ENTITY a "'
            + b"A" * 50000
            + b'">]>'
            + valid.split(b"?>", 1)[1].replace(b"CCP0000000001", b"&a;" * 200),
            None,
            "Client.HostileXml",
        ),
        "external entity (file)": (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + valid.split(b"?>", 1)[1].replace(b"CCP0000000001", b"&e;"),
            None,
            "Client.HostileXml",
        ),
        "external entity (http)": (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "'
            + listener_url.encode()
            + b'/xxe">]>'
            + valid.split(b"?>", 1)[1].replace(b"CCP0000000001", b"&e;"),
            None,
            "Client.HostileXml",
        ),
        "external DTD": (
            b'<!DOCTYPE x SYSTEM "' + listener_url.encode() + b'/dtd">' + valid.split(b"?>", 1)[1],
            None,
            "Client.HostileXml",
        ),
        "parameter entity": (
            b'<!DOCTYPE x [<!ENTITY % p SYSTEM "' + listener_url.encode() + b'/pe"> %p;]>' + valid.split(b"?>", 1)[1],
            None,
            "Client.HostileXml",
        ),
        "processing instruction": (valid.replace(b"<soap:Body>", b"<soap:Body><?evil x?>"), None, "Client.HostileXml"),
        "deep nesting": (
            valid.replace(b"CCP0000000001", b"<a>" * 5000 + b"</a>" * 5000),
            None,
            "Client.RequestTooLarge",
        ),
        "many attributes": (
            valid.replace(b"<svc:GetOrder>", b"<svc:GetOrder " + b" ".join(b'a%d="1"' % i for i in range(500)) + b">"),
            None,
            "Client.RequestTooLarge",
        ),
        "malformed": (valid[:-40], None, "Client.MalformedRequest"),
        "empty body": (b"", None, "Client.MalformedRequest"),
        "not xml": (b"hello, world", None, "Client.MalformedRequest"),
        "mis-encoded": (valid.replace(b"encoding='UTF-8'", b"encoding='UTF-16'"), None, "Client.MalformedRequest"),
        "wrong root": (b"<order/>", None, "Client.MalformedRequest"),
        "SOAP 1.2 envelope": (
            valid.replace(SOAP.encode(), b"http://www.w3.org/2003/05/soap-envelope"),
            None,
            "VersionMismatch",
        ),
        "SOAP 1.2 content type": (valid, {"Content-Type": "application/soap+xml"}, "VersionMismatch"),
        "multipart (MTOM)": (
            valid,
            {"Content-Type": 'multipart/related; type="application/xop+xml"'},
            "Client.UnsupportedMediaType",
        ),
        "wrong namespace": (valid.replace(SVC.encode(), b"urn:someone-else"), None, "Client.UnknownOperation"),
        "unknown operation": (valid.replace(b"GetOrder", b"DropOrders"), None, "Client.UnknownOperation"),
        "two operations": (
            valid.replace(b"</soap:Body>", b"<svc:GetOrder/></soap:Body>"),
            None,
            "Client.MalformedRequest",
        ),
        "mustUnderstand header": (
            valid.replace(b"<soap:Header>", b'<soap:Header><x:Tx xmlns:x="urn:x" soap:mustUnderstand="1"/>'),
            None,
            "MustUnderstand",
        ),
        "no security header": (envelope("GetOrder", [("OrderId", "CCP0000000001")]), None, "Client.Authentication"),
        "wrong type": (
            valid.replace(b"<svc:GetOrder>", b"<svc:GetOrder>").replace(
                b"</svc:OrderId>", b"</svc:OrderId><svc:IncludeHistory>maybe</svc:IncludeHistory>"
            ),
            None,
            "Client.ValidationError",
        ),
    }


def test_every_hostile_or_malformed_request_gets_its_soap_fault(hub, listener):
    before = orders_count(hub)
    for name, (data, headers, expected) in hostile_cases(listener).items():
        status, code, fault = post(hub, data, headers)
        assert fault is not None, f"{name}: no SOAP fault (HTTP {status})"
        assert code == expected, f"{name}: got {code}"
        assert status in (413, 415, 500), name
        assert fault.findtext(".//{*}FaultDetail/{*}Code") == expected, name
    assert Listener.hits == [], "the hub fetched something from outside"
    assert orders_count(hub) == before
    assert http_status("GET", f"{hub.server.url}/health") == 200


def test_oversize_request_is_refused_before_reading(hub):
    big = b"<x>" + b"A" * (30 * 1000 * 1000) + b"</x>"
    status, code, _ = post(hub, big)
    assert (status, code) == (413, "Client.RequestTooLarge")


def test_oversize_image_is_refused_with_its_limit(hub):
    receipt = hub.client().service.SubmitOrder(Order=order())
    too_big = b"%PDF-1.4\n" + b"0" * (20 * 1000 * 1000 + 1) + b"\n%%EOF\n"
    body = authed(
        "AttachImage",
        [
            ("OrderId", receipt.OrderId),
            ("Document", {"Base64BinaryObject": __import__("base64").b64encode(too_big).decode()}, SVC),
        ],
    )
    status, code, fault = post(hub, body)
    assert code == "Client.ImageRejected" and "limit is 20000000 bytes" in fault.findtext("faultstring")


def test_schema_violations_list_every_problem_with_its_path_and_store_nothing(hub):
    before = orders_count(hub)
    bad = order(CaseDocketID="24FL000123")
    bad["ProtectionOrderRestrictedPerson"]["PersonSexCode"] = "X"
    bad["ProtectionOrderRestrictedPerson"]["PersonHeightText"] = "5ft10"
    bad["CourtOrderIssuingCourt"]["OrganizationORIIdentification"] = "XX123"
    status, code, fault = post(hub, authed("SubmitOrder", [("Order", bad)]))
    assert code == "Client.ValidationError"
    paths = [v.findtext("{*}Path") for v in fault.iter("{*}Violation")]
    assert any(p.endswith("ord:ProtectionOrderRestrictedPerson/ord:PersonSexCode") for p in paths), paths
    assert any(p.endswith("ord:PersonHeightText") for p in paths), paths
    assert any(p.endswith("ord:OrganizationORIIdentification") for p in paths), paths
    assert orders_count(hub) == before


def test_get_without_wsdl_query_and_unknown_paths_answer_plainly(hub):
    assert http_status("GET", hub.endpoint) == 405
    assert http_status("GET", f"{hub.server.url}/nope") == 404
    assert http_status("PUT", hub.endpoint) == 405
