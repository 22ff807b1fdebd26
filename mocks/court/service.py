"""The mock court's ``DSP917CAJUDResp`` service, as the official concrete WSDL defines it, and its
WSGI application.

One operation, ``Notify``, SOAP 1.1 document/literal with no wrapper: the Body's child is the
``DSP917CAJUDRespInput`` itself, the answer's the ``DSP917CAJUDRespOutput``. Spyne would need
bindings for the NIEM types only to hand over a tree the entry point already parsed and checked,
so the service is a small WSGI handler behind the same entry point as every service of ours.

The path of a business response::

    gunicorn worker -> mocks.soap.FaultInjection (CourtStore.admit: latency; down -> HTTP 503
        Server.Unavailable; fail-next, error rate -> HTTP 500 Server.InjectedFailure; nothing read)
      -> hub.soap.endpoint.SoapEndpoint: the hardened parse, one Body child DSP917CAJUDRespInput,
         the official schema (validate_dsp917) -> its faults, each recorded (CourtStore.refuse)
      -> CourtService: the UsernameToken (CourtAuthenticator) -> Client.Authentication, recorded;
         business.read -> CourtStore.receive (a DocumentId seen before: flagged duplicate)
      <- DSP917CAJUDRespOutput / ISBCommonResponseMessage (Status, Message, the header's ids echoed)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from lxml import etree
from sqlalchemy.exc import SQLAlchemyError

from hub import ns
from hub.clock import Clock
from hub.contract import Dsp917, dsp917_binding, dsp917_wsdl_path, validate_dsp917
from hub.errors import HubError
from hub.settings import Settings
from hub.soap.endpoint import Router, SoapEndpoint, StartResponse
from mocks.court import business
from mocks.court.auth import CourtAuthenticator
from mocks.court.store import CourtStore
from mocks.soap import OK, SERVER_ERROR, FaultInjection, answer, envelope, fault

log = logging.getLogger("ccpor.mockcourt")

#: The WSDL the court serves (a court's business-response service, which the hub calls).
SERVICE = "DSP917CAJUDResp"
MESSAGE = Dsp917.RESP_INPUT


class CourtService:
    """``Notify``: take a business response the entry point admitted, from the hub, into the ledger."""

    def __init__(self, store: CourtStore, authenticator: CourtAuthenticator, clock: Clock) -> None:
        self.store = store
        self.authenticator = authenticator
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        root = environ["ccpor.tree"]
        (message,) = root.find(ns.q(ns.SOAP11_ENV, "Body")).iterchildren(etree.Element)
        response = business.read(message)
        try:
            caller = self.authenticator.check(root.find(ns.q(ns.SOAP11_ENV, "Header")), environ["ccpor.tls"])
        except HubError as err:
            log.info("refused a business response (CorrelationId %s): %s", response.correlation_id, err.message)
            self.store.refuse(err.code, err.message, self.clock(), response)
            return fault(start_response, SERVER_ERROR, err)
        xml = etree.tostring(message, encoding="unicode")
        row = self.store.receive(response, caller, xml, self.clock())
        said = f"received as entry {row.id}"
        if row.duplicate:
            said += f"; DocumentId {row.document_id} was received before: recorded as a duplicate"
        return answer(start_response, OK, envelope(business.receipt(response, said)))


def _reason(err: HubError) -> str:
    return "; ".join([err.message, *(f"{v.path}: {v.message}" for v in err.violations)])


def create_app(
    store: CourtStore, authenticator: CourtAuthenticator, settings: Settings, seed: int, clock: Clock, public_url: str
) -> Router:
    """The court's service at the official WSDL's path, the WSDL at ``?wsdl`` with its address
    rewritten to ``public_url`` (``settings``: the hub's limits of the entry point)."""
    binding = dsp917_binding(SERVICE)

    def refused(environ: dict[str, Any], err: HubError) -> None:
        try:
            store.refuse(err.code, _reason(err), clock())
        except SQLAlchemyError:  # the fault still goes out; the ledger misses a refusal
            log.exception("could not record the refusal %s", err.code)

    endpoint = SoapEndpoint(
        CourtService(store, authenticator, clock),
        dsp917_wsdl_path(SERVICE).read_bytes(),
        {MESSAGE.element},
        MESSAGE.namespace,
        lambda element: validate_dsp917(element, MESSAGE),
        settings,
        binding.address,
        public_url=public_url,
        refused=refused,
    )
    return Router({binding.path: FaultInjection(endpoint, lambda: store.admit(seed))})
