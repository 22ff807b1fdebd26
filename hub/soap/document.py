"""A bare document/literal SOAP 1.1 service: the Body's one child is the message itself, with no
operation wrapper and no Spyne -- the shape of the Judicial Council's ISB interfaces (DSP917's
``Notify`` takes ``DSP917CAJUDReqInput`` as the Body's child and answers ``DSP917CAJUDReqOutput``).

It stands behind the same hardened entry point (:class:`hub.soap.endpoint.SoapEndpoint`: size,
hostile XML, the official schema, signatures), so the handler receives only a validated tree. The
handler returns the answer's element, or raises a HubError, answered as a SOAP fault whose detail
the service chooses (``details``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from lxml import etree

from hub import ns
from hub.errors import HubError
from hub.soap import faults
from hub.soap.endpoint import StartResponse, respond

log = logging.getLogger("ccpor.api")

#: (the WSGI environment with the entry point's findings, the Envelope) -> the answer's element.
Handler = Callable[[dict[str, Any], etree._Element], etree._Element]


class DocumentService:
    """The WSGI application behind a SoapEndpoint for a bare document/literal operation."""

    def __init__(self, handle: Handler, details: faults.Detail = faults.hub_detail) -> None:
        self.handle = handle
        self.details = details

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        root = environ.get("ccpor.tree")
        if root is None or root.find(ns.q(ns.SOAP11_ENV, "Body")) is None:  # pragma: no cover - the entry point sets it
            return respond(start_response, "500 Internal Server Error", faults.envelope(HubError(), self.details))
        try:
            answer = self.handle(environ, root)
        except HubError as err:
            return respond(start_response, "500 Internal Server Error", faults.envelope(err, self.details))
        except Exception:
            log.exception("unexpected failure in a document service")
            err = HubError("the hub could not process the request; it was not stored -- try again later")
            return respond(start_response, "500 Internal Server Error", faults.envelope(err, self.details))
        return respond(start_response, "200 OK", faults.answer(answer))
