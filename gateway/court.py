"""The business responses' sender: the outbox's ``DSP917`` messages to each court's own
``DSP917CAJUDResp`` ``Notify`` service -- the second kind on the one outbox.

:class:`CourtSender` is a :class:`~gateway.sender.Sender`: ``build`` opens the sealed response the
hub queued (``hub.dsp917.responses``), checks it against the official schema and wraps it in a SOAP
envelope with the court's WS-Security UsernameToken (PasswordDigest; the password kept sealed under
the master key, ``ccpor-hub dsp917 court``); ``submit`` posts each one to its court's address
(:class:`CourtTransport`). The court's ISB receipt is its answer: a message it took is ACCEPTED at
once. Claim, lease, retries with backoff, dead letters, per-order order and the audit are the
outbox's, as for CARPOS; a court that is down delays only its own messages.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from sqlalchemy import select
from zeep.wsse.username import UsernameToken

from gateway.sender import Built, Sender, Submitted
from gateway.transport import SubmitReceipt
from hub import ns
from hub.audit import DSP917, AuditTrail
from hub.clock import Clock, utcnow
from hub.contract import Dsp917, dsp917_binding, dsp917_wsdl_path, validate_dsp917
from hub.db.engine import Database
from hub.db.models import Dsp917Court, Organization, OutboxMessage
from hub.dsp917 import courts, responses
from hub.masterkey import MasterKey
from hub.outbox.manager import Claim, OutboxManager
from hub.outbox.retry import RetryPolicy
from hub.xmlsafe import parser_for_stored

log = logging.getLogger("ccpor.gateway")

#: A court's ISB receipt is a few hundred bytes; an answer past this is not one.
MAX_REPLY_BYTES = 1_000_000
#: Courts answered side by side in one batch (each court's own messages one after another).
PARALLEL_COURTS = 8


class CourtTransport:
    """The courts' response services through zeep: the official response WSDL (our copy, no network)
    for the operation, its soapAction and the reading of the receipt; each court's own address.

    A receipt is a message taken. A SOAP ``Client.*`` fault is the court refusing it (permanent:
    DEAD, for an administrator to look at); anything else -- refused connections, timeouts, HTTP
    errors, ``Server.*`` faults, an unreadable answer -- is transient (retried with backoff)."""

    def __init__(self, *, timeout: float = 30.0, ca_file: str | None = None) -> None:
        self.timeout = timeout
        self.ca_file = ca_file
        self._local = threading.local()  # one HTTP session per thread: courts are called side by side
        self._sessions: list[requests.Session] = []
        transport = zeep.Transport(operation_timeout=timeout, timeout=timeout)
        settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self.client = zeep.Client(
            str(dsp917_wsdl_path(Dsp917.RESP_INPUT.service)), transport=transport, settings=settings
        )
        (service,) = self.client.wsdl.services.values()
        (port,) = service.ports.values()
        self.binding = port.binding
        self.operation = self.binding._operations["Notify"]
        self.soap_action = dsp917_binding(Dsp917.RESP_INPUT.service).soap_action

    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            # https is verified always: against the courts' CA when one is configured, else the system's.
            session.verify = self.ca_file or True
            self._local.session = session
            self._sessions.append(session)
        return session

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    def post(self, address: str, envelope: bytes) -> SubmitReceipt:
        """One response to one court: its receipt (QUEUED), a refusal (REFUSED), or why it did not
        get there (FAILED) -- never an exception, whatever the court (or something in front of it)
        answers. Redirects are not followed: the response goes to the configured address or nowhere."""
        headers = {"SOAPAction": f'"{self.soap_action}"', "Content-Type": "text/xml; charset=utf-8"}
        try:
            with self.session.post(
                address, data=envelope, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
            ) as reply:
                content = reply.raw.read(MAX_REPLY_BYTES + 1, decode_content=True)
                if len(content) > MAX_REPLY_BYTES:
                    return SubmitReceipt(1, None, "FAILED", f"the court's answer is over {MAX_REPLY_BYTES} bytes")
                if 300 <= reply.status_code < 400:
                    return SubmitReceipt(1, None, "FAILED", f"HTTP {reply.status_code}: redirects are not followed")
                if reply.status_code in (502, 503, 504) or (reply.status_code >= 500 and b"Fault" not in content):
                    return SubmitReceipt(1, None, "FAILED", f"HTTP {reply.status_code}")
                reply._content, reply._content_consumed = content, True  # what zeep reads: the body, already read
                answer = self.binding.process_reply(self.client, self.operation, reply)
        except zeep.exceptions.Fault as fault:
            code = str(fault.code or "").split(":")[-1]
            status = "REFUSED" if code.startswith("Client") else "FAILED"
            return SubmitReceipt(1, None, status, f"{code or 'fault'}: {fault.message}"[:200])
        except requests.RequestException as exc:
            return SubmitReceipt(1, None, "FAILED", f"{type(exc).__name__}: {exc}"[:200])
        except Exception as exc:  # noqa: BLE001 - an answer zeep cannot take is the court's problem, retried
            return SubmitReceipt(1, None, "FAILED", f"unreadable answer: {type(exc).__name__}: {exc}"[:200])
        message = getattr(answer, "ISBCommonResponseMessage", None)
        if message is None:
            error = getattr(answer, "ISBCommonErrorMessage", None)
            why = getattr(error, "ExceptionMessage", None) or getattr(error, "ExceptionCode", None) or "no receipt"
            return SubmitReceipt(1, None, "REFUSED", f"the court's error: {why}"[:200])
        return SubmitReceipt(1, getattr(message, "DocumentId", None), "QUEUED")


class CourtSender(Sender):
    """Drains the outbox's business responses to the courts (see the module's text)."""

    def __init__(
        self,
        db: Database,
        key: MasterKey,
        transport: CourtTransport,
        audit: AuditTrail,
        policy: RetryPolicy,
        *,
        batch: int = 50,
        lease_seconds: int = 60,
        owner: str | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.key = key
        self.transport = transport
        self.responses = responses.Dsp917Responses(key)
        self.outbox = OutboxManager(
            db,
            audit,
            policy,
            kind=responses.KIND,
            category=DSP917,
            destination="the court",
            batch=batch,
            lease_seconds=lease_seconds,
            owner=owner,
            clock=clock,
            rng=rng,
            answered_by_receipt=True,
        )

    def build(self, claimed: list[Claim]) -> list[Built]:
        """Each response opened, checked, and wrapped for its court (or why it cannot go)."""
        with self.db.read() as s:
            rows = {
                r.id: r
                for r in s.execute(
                    select(OutboxMessage.id, OutboxMessage.mcn, OutboxMessage.payload_sealed, Dsp917Court)
                    .join(Organization, Organization.ori == OutboxMessage.sender_ori)
                    .outerjoin(Dsp917Court, Dsp917Court.organization_id == Organization.id)
                    .where(OutboxMessage.id.in_([c.id for c in claimed]))
                )
            }
            built = [self._one(c, rows.get(c.id)) for c in claimed]
        return built

    def _one(self, c: Claim, row: Any) -> Built:
        court = row.Dsp917Court if row is not None else None
        if row is None or row.payload_sealed is None:
            return Built(c, problem="the response is gone from the outbox")
        if court is None or not court.response_url:
            return Built(c, problem="the court has no business-response service configured (ccpor-hub dsp917 court)")
        xml = self.responses.open(row.mcn, row.payload_sealed)
        document = etree.fromstring(xml, parser_for_stored())
        violations = validate_dsp917(document, Dsp917.RESP_INPUT)
        if violations:  # the hub wrote it: a fault of ours, not a reason to send it wrong
            return Built(c, problem=f"the response does not match the official schema: {violations[0].message}"[:200])
        envelope = etree.Element(ns.q(ns.SOAP11_ENV, "Envelope"), nsmap={"soapenv": ns.SOAP11_ENV})
        etree.SubElement(envelope, ns.q(ns.SOAP11_ENV, "Header"))
        etree.SubElement(envelope, ns.q(ns.SOAP11_ENV, "Body")).append(document)
        password = courts.password_of(self.key, court)
        if court.response_username and password:
            envelope, _ = UsernameToken(court.response_username, password, use_digest=True).apply(envelope, {})
        return Built(
            c, sealed=etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"), address=court.response_url
        )

    def submit(self, built: list[Built]) -> Submitted:
        """Each ready response to its court: the courts side by side (a slow or silent court holds up
        only its own), each court's responses one after another in the batch's order."""
        ready = [b for b in built if b.sealed is not None]
        by_court: dict[str, list[int]] = {}
        for index, b in enumerate(ready):
            assert b.address is not None
            by_court.setdefault(b.address, []).append(index)
        receipts: list[SubmitReceipt | None] = [None] * len(ready)

        def deliver(indexes: list[int]) -> None:
            for i in indexes:
                b = ready[i]
                r = self.transport.post(b.address, b.sealed)  # type: ignore[arg-type]
                if r.failed:
                    log.warning("business response %s to %s: %s", b.claimed.mcn, b.claimed.sender_ori, r.reason)
                receipts[i] = SubmitReceipt(i + 1, r.mcn, r.status, r.reason)

        with ThreadPoolExecutor(max_workers=max(1, min(PARALLEL_COURTS, len(by_court)))) as pool:
            for done in [pool.submit(deliver, indexes) for indexes in by_court.values()]:
                done.result()
        return Submitted(built, [r for r in receipts if r is not None], destination="the court")
