"""The attack corpus: hostile, malformed and wrong requests for every SOAP endpoint of the hub.

Used by ``tests/functional/test_bad_input.py`` (each case gets its SOAP fault, stores nothing,
fetches nothing, and the server keeps serving) and by ``bench/attack_bench.py`` (time per case and
the server's memory across the run).

Each case is built from a valid, authenticated request of the target endpoint with a marker text
(``Target.mark``) where a string value goes, so one corpus serves every service. Every case also
has a multipart/related (MTOM) variant carrying it as the root part: the hub refuses multipart
before any parsing, so the variant must get ``Client.UnsupportedMediaType`` whatever it carries.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from hub import ns
from tests.conftest import PASSWORD
from tests.support import dsp917
from tests.support.orders import SOAP, envelope


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    namespace: str
    operation: str
    param: str
    #: A valid value of ``param`` that the corpus replaces to inject payloads.
    mark: str
    user: str
    #: The envelope of a service whose message is a bare document rather than an operation with
    #: parameters (DSP917): ``(value at the mark, authenticated)`` -> the request.
    build: Callable[[str, bool], bytes] | None = None

    def valid(self, value: str | None = None) -> bytes:
        if self.build is not None:
            return self.build(value or self.mark, True)
        return envelope(
            self.operation,
            [(self.param, value or self.mark)],
            username=self.user,
            password=PASSWORD,
            service=self.namespace,
        )

    def unauthenticated(self) -> bytes:
        if self.build is not None:
            return self.build(self.mark, False)
        return envelope(self.operation, [(self.param, self.mark)], service=self.namespace)


def _dsp917(value: str, authenticated: bool) -> bytes:
    """Imperial's FACCTS notification (no attachment) with ``value`` as its stay-away yards."""
    message = dsp917.without_attachment(dsp917.current("ATTACK-1", "990000000001"))
    dsp917.put(message, f"{dsp917.ORDER_PATH}/r:YardsToStayAwayQuantity", value)
    user, password = ("imperial-faccts", PASSWORD) if authenticated else (None, None)
    request = dsp917.envelope_text(message, username=user, password=password)
    assert request.count(value.encode()) == 1, "the mark must be the only place its text appears"
    return request


TARGETS = (
    Target("orders", "/ws/orders", ns.ORDERS_SERVICE, "GetOrder", "OrderId", "CCP9999999999", "clerk"),
    Target("admin", "/ws/admin", ns.ADMIN_SERVICE, "UnlockUser", "Username", "nobody-by-this-name", "admin"),
    Target(
        "carpos",
        "/ws/carpos",
        ns.CARPOS_SERVICE,
        "AcknowledgeCarposMessage",
        "MessageId",
        "CMS9999999999",
        "clets-clerk",
    ),
    Target(
        "dsp917",
        "/ws/dsp917",
        ns.DSP917_REQ_INPUT,
        "DSP917CAJUDReqInput",
        "YardsToStayAwayQuantity",
        "4321",
        "imperial-faccts",
        _dsp917,
    ),
)

Case = tuple[bytes, dict[str, str] | None, str]

MTOM = {"Content-Type": 'multipart/related; type="application/xop+xml"; boundary="b"; start="<root>"'}


def _laughs() -> bytes:
    entities = b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    return b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + entities + b"]>"


def _xslt_signature() -> bytes:
    """A wsse:Security header whose signature asks for an XSLT transform (must never run)."""
    return (
        b'<wsse:Security xmlns:wsse="' + ns.WSSE.encode() + b'" xmlns:wsu="' + ns.WSU.encode() + b'">'
        b'<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2030-01-01T00:00:00Z</wsu:Created>'
        b"<wsu:Expires>2030-01-01T00:05:00Z</wsu:Expires></wsu:Timestamp>"
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        b'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        b'<ds:Reference URI="#TS-1"><ds:Transforms>'
        b'<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/></ds:Transforms>'
        b'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AA==</ds:DigestValue>'
        b"</ds:Reference></ds:SignedInfo><ds:SignatureValue>AA==</ds:SignatureValue></ds:Signature>"
        b"</wsse:Security>"
    )


def corpus(target: Target, listener: str) -> dict[str, Case]:
    """Every case for ``target``; ``listener`` is a loopback URL that must never be fetched."""
    valid = target.valid()
    mark, op = target.mark.encode(), target.operation.encode()
    tail = valid.split(b"?>", 1)[1]  # the document without its XML declaration
    url = listener.encode()
    cases: dict[str, Case] = {
        "billion laughs": (_laughs() + tail.replace(mark, b"&lol9;"), None, "Client.HostileXml"),
        "quadratic blowup": (
            b'<!DOCTYPE x [<!ENTITY a "' + b"A" * 50000 + b'">]>' + tail.replace(mark, b"&a;" * 200),
            None,
            "Client.HostileXml",
        ),
        "external entity (file)": (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + tail.replace(mark, b"&e;"),
            None,
            "Client.HostileXml",
        ),
        "external entity (http)": (
            b'<!DOCTYPE x [<!ENTITY e SYSTEM "' + url + b'/xxe">]>' + tail.replace(mark, b"&e;"),
            None,
            "Client.HostileXml",
        ),
        "external DTD": (b'<!DOCTYPE x SYSTEM "' + url + b'/dtd">' + tail, None, "Client.HostileXml"),
        "parameter entity": (
            b'<!DOCTYPE x [<!ENTITY % p SYSTEM "' + url + b'/pe"> %p;]>' + tail,
            None,
            "Client.HostileXml",
        ),
        "entity declared in a UTF-16 document": (
            (b'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e SYSTEM "' + url + b'/u16">]>')
            .decode()
            .encode("utf-16")
            + tail.replace(mark, b"&e;").decode().encode("utf-16")[2:],
            None,
            "Client.HostileXml",
        ),
        "XInclude": (
            valid.replace(mark, b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="' + url + b'/xi"/>'),
            None,
            "Client.ValidationError",
        ),
        "processing instruction": (valid.replace(b"<soap:Body>", b"<soap:Body><?evil x?>"), None, "Client.HostileXml"),
        "deep nesting": (valid.replace(mark, b"<a>" * 5000 + b"</a>" * 5000), None, "Client.RequestTooLarge"),
        "many attributes": (
            valid.replace(
                b"<svc:" + op + b">", b"<svc:" + op + b" " + b" ".join(b'a%d="1"' % i for i in range(500)) + b">"
            ),
            None,
            "Client.RequestTooLarge",
        ),
        "element flood": (valid.replace(mark, b"<a/>" * 30000), None, "Client.RequestTooLarge"),
        "malformed": (valid[:-40], None, "Client.MalformedRequest"),
        "empty body": (b"", None, "Client.MalformedRequest"),
        "not xml": (b"hello, world", None, "Client.MalformedRequest"),
        "NUL byte": (valid.replace(mark, mark + b"\x00"), None, "Client.MalformedRequest"),
        "mis-encoded": (valid.replace(b"encoding='UTF-8'", b"encoding='UTF-16'"), None, "Client.MalformedRequest"),
        "invalid UTF-8": (valid.replace(mark, b"\xff\xfe\xc3"), None, "Client.MalformedRequest"),
        "wrong root": (b"<order/>", None, "Client.MalformedRequest"),
        "SOAP 1.2 envelope": (valid.replace(SOAP.encode(), ns.SOAP12_ENV.encode()), None, "VersionMismatch"),
        "SOAP 1.2 content type": (valid, {"Content-Type": "application/soap+xml"}, "VersionMismatch"),
        "wrong namespace": (
            valid.replace(target.namespace.encode(), b"urn:someone-else"),
            None,
            "Client.UnknownOperation",
        ),
        "unknown operation": (valid.replace(op, b"DropOrders"), None, "Client.UnknownOperation"),
        "two operations": (
            valid.replace(b"</soap:Body>", b"<svc:" + op + b"/></soap:Body>"),
            None,
            "Client.MalformedRequest",
        ),
        "no body": (valid.split(b"<soap:Body>")[0] + b"</soap:Envelope>", None, "Client.MalformedRequest"),
        "mustUnderstand header": (
            valid.replace(b"<soap:Header>", b'<soap:Header><x:Tx xmlns:x="urn:x" soap:mustUnderstand="1"/>'),
            None,
            "MustUnderstand",
        ),
        "no security header": (
            target.unauthenticated(),
            None,
            "Client.Authentication",
        ),
        "two security headers": (
            valid.replace(b"</soap:Header>", b'<wsse:Security xmlns:wsse="' + ns.WSSE.encode() + b'"/></soap:Header>'),
            None,
            "Client.Authentication",
        ),
        "unsupported security element": (
            valid.replace(b"</wsse:UsernameToken>", b"</wsse:UsernameToken><wsse:SecurityTokenReference/>"),
            None,
            "Client.Authentication",
        ),
        "signature with an XSLT transform": (
            valid[: valid.index(b"<wsse:Security")]
            + _xslt_signature()
            + valid[valid.index(b"</wsse:Security>") + len(b"</wsse:Security>") :],
            None,
            "Client.Authentication",
        ),
        "wrong type": (target.valid("!! not a valid value !!"), None, "Client.ValidationError"),
        "wrong content type": (valid, {"Content-Type": "application/json"}, "Client.UnsupportedMediaType"),
    }
    for name, (data, _headers, _expected) in list(cases.items()):
        cases[f"{name} (MTOM)"] = (_multipart(data), MTOM, "Client.UnsupportedMediaType")
    return cases


def _multipart(root: bytes) -> bytes:
    attachment = base64.b64encode(b"%PDF-1.4 attachment")
    return (
        b'--b\r\nContent-Type: application/xop+xml; type="text/xml"\r\nContent-ID: <root>\r\n\r\n'
        + root
        + b"\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-ID: <img>\r\n"
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + attachment
        + b"\r\n--b--\r\n"
    )
