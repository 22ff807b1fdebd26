"""The hardened HTTP entry point of every SOAP service (the hub's and the mocks'), and the router.

``SoapEndpoint`` is the only code that reads request bytes. It answers every problem it finds
with a SOAP 1.1 fault (HTTP 500, as SOAP 1.1 prescribes; 413 and 415 keep their HTTP meaning),
so a partner never gets a bare HTTP error page, and only a validated tree reaches Spyne.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from lxml import etree

from hub import logs, metrics, ns, xmlsafe
from hub.errors import (
    HubError,
    MalformedRequest,
    RequestTooLarge,
    UnknownOperation,
    UnsupportedMediaType,
    ValidationError,
)
from hub.settings import Settings
from hub.soap import faults
from hub.soap.protocol import ANSWER_LENGTH
from hub.soap.wsdl import served_wsdl

log = logging.getLogger("ccpor.http")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: How much of a request body is read from the socket at a time (gunicorn reads up to 1 MiB per recv).
_READ = 1 << 20
_MUST_UNDERSTAND_OK = {ns.q(ns.WSSE, "Security")}


class MustUnderstand(HubError):
    """A header block marked mustUnderstand="1" is not one the hub processes."""

    code = "MustUnderstand"


class VersionMismatch(HubError):
    """The envelope is not SOAP 1.1."""

    code = "VersionMismatch"


def _status_for(err: HubError) -> str:
    if isinstance(err, RequestTooLarge):
        return "413 Request Entity Too Large"
    if isinstance(err, UnsupportedMediaType):
        return "415 Unsupported Media Type"
    return "500 Internal Server Error"


#: The operation label of a request the entry point refused before any operation was read.
ENTRY = "(entry)"


class SoapEndpoint:
    """One SOAP 1.1 service mounted at a path: WSDL on GET ?wsdl, checked calls on POST."""

    def __init__(
        self,
        spyne_app: WsgiApp,
        wsdl: bytes,
        operations: set[str],
        namespace: str,
        validate: Callable[[etree._Element], list[Any]],
        settings: Settings,
        placeholder: str,
        verify_signature: Callable[[dict[str, Any], etree._Element, str], None] | None = None,
        public_url: str = "",
        details: faults.Detail = faults.hub_detail,
        refused: Callable[[dict[str, Any], HubError], None] | None = None,
        service: str = "",
    ) -> None:
        """``refused(environ, err)`` is told of every request the entry point answers with a fault
        itself (a mock's ledger records them); it must not raise. ``service`` names it in the metrics
        (``ccpor_soap_calls_total{operation="(entry)"}`` counts the requests refused here)."""
        self.spyne_app = spyne_app
        self.service = service
        self.refused = refused
        self.placeholder = placeholder
        self.verify_signature = verify_signature
        self.wsdl = served_wsdl(wsdl, placeholder, public_url)
        self.operations = operations
        self.namespace = namespace
        self.validate = validate
        self.details = details
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)
        self.limits = xmlsafe.XmlLimits(
            max_bytes=settings.max_request_bytes,
            max_depth=settings.max_xml_depth,
            max_elements=settings.max_xml_elements,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = logs.request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        environ["ccpor.request_id"] = request_id
        token = logs.REQUEST_ID.set(request_id)

        def answer(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            extra = [("X-Request-Id", request_id)]
            length = environ.pop(ANSWER_LENGTH, None)  # an answer with an image spliced in as it is sent
            if length is not None and not any(name.lower() == "content-length" for name, _ in headers):
                extra.append(("Content-Length", str(length)))
            return start_response(status, [*headers, *extra], exc_info)

        try:
            return self._serve(environ, answer)
        finally:
            logs.REQUEST_ID.reset(token)

    def _serve(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if "wsdl" in query or "WSDL" in query:
                return self._wsdl(environ, start_response)
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
            return [b"POST SOAP 1.1 requests here; the WSDL is at ?wsdl\n"]
        if method != "POST":
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "POST")])
            return [b"POST SOAP 1.1 requests here\n"]
        try:
            environ["ccpor.tree"] = self._admit(environ)
            environ["ccpor.client_cert_sha256"] = _client_certificate(environ)
            environ["ccpor.tls"], environ["ccpor.loopback"] = connection_facts(environ, self.trusted_proxies)
        except HubError as err:
            log.info("refused request from %s: %s %s", environ.get("REMOTE_ADDR"), err.code, err.message)
            metrics.SOAP_CALLS.labels(self.service, ENTRY, err.code).inc()
            if self.refused is not None:
                self.refused(environ, err)
            return respond(start_response, _status_for(err), faults.envelope(err, self.details))
        return self.spyne_app(environ, start_response)

    def _wsdl(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body = self.wsdl  # built once at start from the public URL: no request text ever reaches it
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def _body(self, environ: dict[str, Any]) -> Iterator[bytes]:
        """The request body in pieces as it arrives, for :func:`hub.xmlsafe.parse_chunks`: a 27 MB
        image request never sits in memory as one bytes object beside its parsed tree. A declared
        length over the limit is refused before anything is read; without one (chunked transfer)
        the parser's own count stops the read one piece past the limit."""
        limit = self.limits.max_bytes
        raw_length = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        remaining = None
        if raw_length:
            try:
                remaining = int(raw_length)
            except ValueError as exc:
                raise MalformedRequest("Content-Length is not a number") from exc
            if remaining > limit:
                raise RequestTooLarge(f"request of {remaining} bytes exceeds the limit of {limit} bytes")
        while remaining is None or remaining > 0:
            piece = stream.read(_READ if remaining is None else min(_READ, remaining))
            if not piece:
                return
            if remaining is not None:
                remaining -= len(piece)
            yield piece

    def _admit(self, environ: dict[str, Any]) -> etree._Element:
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type == "application/soap+xml":
            raise VersionMismatch("SOAP 1.2 is not supported: send a SOAP 1.1 envelope as text/xml")
        if content_type.startswith("multipart/"):
            raise UnsupportedMediaType(
                "MTOM/multipart requests are not accepted: send images base64-encoded in the SOAP body as text/xml"
            )
        if content_type not in ("text/xml", "application/xml", ""):
            raise UnsupportedMediaType(f"content type {content_type!r} is not accepted: use text/xml")
        root = xmlsafe.parse_chunks(self._body(environ), self.limits)
        if root.tag == ns.q(ns.SOAP12_ENV, "Envelope"):
            raise VersionMismatch("SOAP 1.2 envelopes are not supported: send SOAP 1.1")
        if root.tag != ns.q(ns.SOAP11_ENV, "Envelope"):
            raise MalformedRequest(f"the document element must be a SOAP 1.1 Envelope, not {root.tag}")
        header = root.find(ns.q(ns.SOAP11_ENV, "Header"))
        body = root.find(ns.q(ns.SOAP11_ENV, "Body"))
        if body is None:
            raise MalformedRequest("the envelope has no soap:Body")
        if header is not None:
            for block in header.iterchildren(etree.Element):
                if (
                    block.get(ns.q(ns.SOAP11_ENV, "mustUnderstand")) in ("1", "true")
                    and block.tag not in _MUST_UNDERSTAND_OK
                ):
                    raise MustUnderstand(f"header {block.tag} is marked mustUnderstand but is not processed here")
        children = [c for c in body.iterchildren(etree.Element)]
        if len(children) != 1:
            raise MalformedRequest(f"the soap:Body must hold exactly one operation element, not {len(children)}")
        operation = children[0]
        qname = etree.QName(operation)
        if qname.namespace != self.namespace or qname.localname not in self.operations:
            raise UnknownOperation(
                f"{operation.tag} is not an operation of this service; see the WSDL for "
                f"{{{self.namespace}}}" + ", ".join(sorted(self.operations))
            )
        violations = self.validate(operation)
        if violations:
            raise ValidationError(
                f"{qname.localname} does not match the published schema ({len(violations)} "
                f"problem{'s' if len(violations) > 1 else ''}); see detail",
                violations,
            )
        if self.verify_signature is not None and header is not None:
            # An X.509-signed request: from here on the Body is the verifier's signed copy.
            self.verify_signature(environ, root, qname.localname)
        return root


def respond(start_response: StartResponse, status: str, body: bytes) -> list[bytes]:
    """A SOAP 1.1 envelope as the HTTP answer."""
    start_response(status, [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _client_certificate(environ: dict[str, Any]) -> str | None:
    """SHA-256 of the client's TLS certificate (mutual TLS under gunicorn), if it presented one."""
    sock = environ.get("gunicorn.socket")
    if not isinstance(sock, ssl.SSLSocket):
        return None
    der = sock.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


def trusted_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``CCPOR_TRUSTED_PROXIES`` (addresses or networks) parsed; a wrong entry stops the start."""
    try:
        return tuple(ipaddress.ip_network(entry) for entry in entries)
    except ValueError as exc:
        raise ValueError(f"CCPOR_TRUSTED_PROXIES: {exc}") from None


def connection_facts(
    environ: dict[str, Any], trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> tuple[bool, bool]:
    """Whether the request came over TLS (gunicorn's own, or a trusted proxy's) and from loopback."""
    peer = _peer(environ)
    return _over_tls(environ, peer, trusted), peer is not None and peer.is_loopback


def _peer(environ: dict[str, Any]) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The caller's address; an IPv4 peer seen on a dual-stack bind (``::ffff:a.b.c.d``) as IPv4."""
    try:
        peer = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
    except ValueError:
        return None
    return getattr(peer, "ipv4_mapped", None) or peer


def _over_tls(
    environ: dict[str, Any],
    peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> bool:
    """The request reached the hub over TLS: on a TLS connection to gunicorn itself, or from a trusted
    reverse proxy (``CCPOR_TRUSTED_PROXIES``) that says it terminated TLS (``X-Forwarded-Proto: https``).
    The header from anyone else means nothing (``ccpor-hub serve`` gives gunicorn's own forwarded-header
    trust the same list, not its default of loopback)."""
    if isinstance(environ.get("gunicorn.socket"), ssl.SSLSocket):
        return True
    if (environ.get("HTTP_X_FORWARDED_PROTO") or "").strip().lower() != "https" or peer is None:
        return False
    return any(peer in network for network in trusted)


def health(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``/health`` and ``/healthz``: the process answers (a liveness probe; it reads nothing)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]


class Router:
    """Exact-path dispatch to the mounted services (and ``/health``); any other path is a 404 that
    names the services."""

    def __init__(self, routes: dict[str, WsgiApp]) -> None:
        self.routes = {"/health": health, **routes}
        #: Applications mounted under a path prefix (the web console under /console): every path below it.
        self.mounts: dict[str, WsgiApp] = {}
        services = ", ".join(f"{path}?wsdl" for path in routes if path.startswith("/ws/"))
        self._not_found_text = f"no such service; the services are {services}\n".encode()

    def mount(self, prefix: str, app: WsgiApp) -> None:
        """Serve ``prefix`` and every path below it by ``app``."""
        self.mounts[prefix.rstrip("/")] = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        app = self.routes.get(path.rstrip("/") or "/") or next(
            (mounted for prefix, mounted in self.mounts.items() if path == prefix or path.startswith(prefix + "/")),
            None,
        )
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [self._not_found_text]
        return app(environ, start_response)
