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
from tests.support.attacks import TARGETS, Target, corpus
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
    return rows(hub)[0]


def rows(hub) -> tuple[int, ...]:
    """Row counts of the tables a request could add to (audit events aside)."""
    engine = sa.create_engine(hub.db_url)
    with engine.connect() as conn:
        counts = tuple(
            int(conn.execute(sa.text(f"select count(*) from {table}")).scalar_one())  # noqa: S608 - fixed names
            for table in (
                "orders",
                "order_versions",
                "images",
                "quick_attaches",
                "accounts",
                "wsse_nonces",
                "dsp917_notifications",
                "dsp917_orders",
            )
        )
    engine.dispose()
    return counts


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


CASES = [
    pytest.param(target, name, id=f"{target.name}-{name}")
    for target in TARGETS
    for name in corpus(target, "http://127.0.0.1:1")
]


@pytest.mark.parametrize(("target", "case"), CASES)
def test_every_hostile_or_malformed_request_gets_its_soap_fault(hub, listener, target: Target, case: str):
    data, headers, expected = corpus(target, listener)[case]
    before = rows(hub)
    with requests.post(f"{hub.server.url}{target.path}", data=data, headers=headers or XML, timeout=30) as resp:
        status, content = resp.status_code, resp.content
    fault = etree.fromstring(content).find(f".//{{{SOAP}}}Fault")
    assert fault is not None, f"no SOAP fault (HTTP {status})"
    assert fault.findtext("faultcode").split(":")[-1] == expected, fault.findtext("faultstring")
    assert status in (413, 415, 500)
    assert fault.findtext(".//{*}FaultDetail/{*}Code") == expected
    assert Listener.hits == [], "the hub fetched something from outside"
    assert rows(hub) == before  # nothing stored (audit events aside)
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
