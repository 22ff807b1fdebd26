"""Calling the hub's WSGI application in-process (no sockets): the same code path as the server
minus gunicorn's socket handling (docs/DECISIONS.md 24)."""

from __future__ import annotations

import io
from typing import Any

from lxml import etree


def call(app: Any, body: bytes, path: str = "/ws/orders", **environ: str) -> tuple[str, etree._Element | None]:
    """POST ``body`` to ``path``; (HTTP status, the parsed answer or None if it is not XML).
    ``environ`` overrides the WSGI environment (``REMOTE_ADDR``, ``HTTP_X_FORWARDED_PROTO`` ...)."""
    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
    }
    status: list[str] = []
    chunks = app({**base, **environ}, lambda s, headers, exc_info=None: status.append(s))
    content = b"".join(chunks)
    try:
        return status[0], etree.fromstring(content)
    except etree.XMLSyntaxError:
        return status[0], None


def fault_of(answer: etree._Element | None) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a SOAP 1.1 fault answer; None if the answer is not a fault."""
    if answer is None:
        return None
    fault = answer.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    if fault is None:
        return None
    return (fault.findtext("faultcode") or "").split(":")[-1], fault.findtext("faultstring") or ""
