"""``/ws/dsp917``: the DSP917 request service as the Judicial Council's WSDL defines it -- operation
``Notify``, SOAP 1.1 document/literal, the Body's child ``DSP917CAJUDReqInput`` itself (no operation
wrapper), answered with the ISB receipt ``DSP917CAJUDReqOutput``.

It stands on the same SOAP edge as the hub's own services -- the hardened entry point validating
against the **official** schemas (xsd/dsp917/), X.509 signatures checked there -- and on the same
pieces of the call wrapper: who calls (:mod:`hub.api.callers`: UsernameToken PasswordText over TLS
or PasswordDigest, the signature, the mutual-TLS certificate), in which transactions
(:mod:`hub.api.transactions`), audited (:class:`hub.api.call.PendingCall`). A fault carries the ISB
common error message as its detail, before the hub's own FaultDetail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lxml import etree

from hub import ns
from hub.api.call import Call, PendingCall, observed
from hub.api.callers import Credentials, Gate, claimed_in
from hub.api.transactions import Transactions
from hub.audit import AuditTrail
from hub.contract import Dsp917, dsp917_binding, dsp917_wsdl_path
from hub.dsp917 import isb
from hub.dsp917.intake import Dsp917Intake
from hub.dsp917.notification import Notification
from hub.errors import HubError
from hub.soap import faults
from hub.soap.operations import Operation

log = logging.getLogger("ccpor.api")

PATH = "/ws/dsp917"
PLACEHOLDER = f"http://localhost:8080{PATH}"
#: The audit's name of the operation (``Notify`` alone would not say whose).
OPERATION = "Dsp917Notify"


def wsdl() -> bytes:
    """The official concrete WSDL, unchanged but for its soap:address (the ISB's, replaced by the
    hub's placeholder, which the entry point replaces by CCPOR_PUBLIC_URL when one is set)."""
    official = dsp917_wsdl_path(Dsp917.REQ_INPUT.service).read_bytes()
    address = dsp917_binding(Dsp917.REQ_INPUT.service).address
    assert official.count(address.encode()) == 1, "the official WSDL names one address"
    return official.replace(address.encode(), PLACEHOLDER.encode())


def fault_details(err: HubError) -> list[etree._Element]:
    return [isb.error_detail(err), faults.detail(err)]


class Dsp917Api:
    """The handler of ``Notify`` (a :data:`hub.soap.document.Handler`)."""

    def __init__(
        self,
        intake: Dsp917Intake,
        gate: Gate,
        transactions: Transactions,
        trail: AuditTrail,
        refused: Callable[[Any, str, str, HubError | None, str, str], None],
    ) -> None:
        self.intake = intake
        self.gate = gate
        self.transactions = transactions
        self.trail = trail
        self.refused = refused
        self.declared = Operation(OPERATION, self._notify, read_only=False, retry_on_conflict=True)

    def _notify(self, c: Call) -> Any:
        result = self.intake.notify(c.session, c.who, c.args["notification"])
        c.detail = f"{result.outcome.value} {result.error.code if result.error else ''}".strip()
        return result

    def __call__(self, environ: dict[str, Any], root: etree._Element) -> etree._Element:
        header = root.find(ns.q(ns.SOAP11_ENV, "Header"))
        header_children = list(header.iterchildren(etree.Element)) if header is not None else None
        body = root.find(ns.q(ns.SOAP11_ENV, "Body"))
        assert body is not None  # the entry point admitted the envelope
        message = next(body.iterchildren(etree.Element))
        notification = Notification(message)
        client = environ.get("REMOTE_ADDR", "")
        call = PendingCall(self._notify, message, {"notification": notification}, OPERATION, client, self.trail)
        try:
            with observed("dsp917", call):
                credentials = Credentials.of_request(environ, header_children)
                self.gate.require_confidential(credentials)
                result = self.transactions.run(self.declared, credentials, call)
        except HubError as err:
            self.refused(call.who, claimed_in(header_children), OPERATION, err, client, call.target())
            raise
        except Exception:  # logged by the DocumentService, which answers the fault
            self.refused(call.who, claimed_in(header_children), OPERATION, None, client, call.target())
            raise
        return isb.receipt(notification, result)
