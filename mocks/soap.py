"""What the mock partner systems share on top of the hub's SOAP edge (hub.soap): a SOAP answer with
its HTTP status, and fault injection in front of a service.

Fault injection decides first, for every POST, what happens to the call (:class:`Injected`): held
for a while (a slow partner), then answered with a SOAP fault and an HTTP status instead of the
service (a partner that is down, or fails) -- before a byte of the request is read::

    POST -> decide() -> Injected(delay_seconds=0.3, status="503 Service Unavailable",
                                 error=Unavailable("..."), retry_after=5)
         -> sleep 0.3 s -> HTTP 503, Retry-After: 5, <soap11env:Fault>Server.Unavailable ...

Each mock decides in its own way (the DOJ switch from its settings and seeded dice, the court from
the fault plan in its database); how the decision is carried out is this module's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lxml import etree

from hub import ns
from hub.errors import HubError
from hub.soap import faults as soap_faults

if TYPE_CHECKING:  # names of types only: the command line reads a mock's store without the entry point
    from hub.soap.endpoint import StartResponse, WsgiApp

OK = "200 OK"
SERVER_ERROR = "500 Internal Server Error"
UNAVAILABLE = "503 Service Unavailable"


class Unavailable(HubError):
    """The partner cannot take calls now (down, in maintenance, an injected failure): try again later."""

    code = "Server.Unavailable"


def answer(
    start_response: StartResponse, status: str, body: bytes, headers: tuple[tuple[str, str], ...] = ()
) -> list[bytes]:
    """Answer ``body`` (a SOAP envelope) with the HTTP ``status``."""
    start_response(status, [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body))), *headers])
    return [body]


def fault(start_response: StartResponse, status: str, err: HubError, retry_after: int | None = None) -> list[bytes]:
    """Answer ``err`` as a SOAP fault (hub.soap.faults, the one format) with the HTTP ``status``."""
    headers = (("Retry-After", str(retry_after)),) if retry_after else ()
    return answer(start_response, status, soap_faults.envelope(err), headers)


def envelope(child: etree._Element) -> bytes:
    """A SOAP 1.1 envelope whose Body holds ``child`` (a document/literal answer)."""
    env = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soap11env": ns.SOAP11_ENV})
    etree.SubElement(env, ns.q(ns.SOAP11_ENV, "Body")).append(child)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class Injected:
    """What fault injection does to one call: hold it ``delay_seconds``, then, with an ``error``,
    answer that fault with the HTTP ``status`` (and ``Retry-After``) instead of calling the service."""

    delay_seconds: float = 0.0
    status: str = OK
    error: HubError | None = None
    retry_after: int | None = None


#: A call that goes through untouched.
NOTHING = Injected()


class FaultInjection:
    """Every POST is put to ``decide`` before the service (and its entry point) sees it."""

    def __init__(self, app: WsgiApp, decide: Callable[[], Injected]) -> None:
        self.app = app
        self.decide = decide

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            injected = self.decide()
            if injected.delay_seconds > 0:
                time.sleep(injected.delay_seconds)  # the injected slowness itself
            if injected.error is not None:
                return fault(start_response, injected.status, injected.error, injected.retry_after)
        return self.app(environ, start_response)
