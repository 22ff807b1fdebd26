"""Calling the hub's WSGI application in-process (no sockets): the same code path as the server
minus gunicorn's socket handling (docs/DECISIONS.md 24)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from tests.support import xsdfuzz


def call(app: Any, body: bytes, path: str = "/ws/orders", **environ: str) -> tuple[str, etree._Element | None]:
    """POST ``body`` to ``path``; (HTTP status, the parsed answer or None if it is not XML).
    ``environ`` overrides the WSGI environment (``REMOTE_ADDR``, ``HTTP_X_FORWARDED_PROTO`` ...).
    The one in-process caller is :func:`tests.support.xsdfuzz.call`; this is its short form."""
    answer = xsdfuzz.call(app, path, body, **environ)
    return answer.status, answer.root


def post(app: Any, body: bytes, path: str = "/ws/orders") -> tuple[str, bytes]:
    """POST ``body`` to ``path`` as a SOAP request from 127.0.0.1; (HTTP status, the answer's bytes)."""
    answer = xsdfuzz.call(app, path, body)
    return answer.status, answer.body


def fault_of(answer: etree._Element | None) -> tuple[str, str] | None:
    """(faultcode, faultstring) of a SOAP 1.1 fault answer; None if the answer is not a fault."""
    if answer is None:
        return None
    fault = answer.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    if fault is None:
        return None
    return (fault.findtext("faultcode") or "").split(":")[-1], fault.findtext("faultstring") or ""
