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
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from zeep.wsse.username import UsernameToken

from gateway import keys
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


class _TlsAdapter(HTTPAdapter):
    """requests' adapter with one :class:`ssl.SSLContext` of ours: the courts' CA and the hub's
    client certificate, its key opened once under the master key (requests' ``cert`` takes only
    a key file in the clear)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__()

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        for what in ("ca_certs", "ca_cert_dir", "cert_file", "key_file"):
            pool.pop(what, None)  # all in the context already
        pool["ssl_context"] = self.context
        return host, pool


def tls_context(ca_file: str | None, client: keys.ClientIdentity | None) -> ssl.SSLContext:
    """What the gateway trusts of courts (``ca_file``, else the system's store) and, for courts that
    require mutual TLS, the certificate it presents."""
    context = ssl.create_default_context(cafile=ca_file)
    if client is not None:
        client.load_into(context)
    return context


class CourtTransport:
    """The courts' response services through zeep: the official response WSDL (our copy, no network)
    for the operation, its soapAction and the reading of the receipt; each court's own address.

    A receipt is a message taken. A SOAP ``Client.*`` fault is the court refusing it (permanent:
    DEAD, for an administrator to look at); anything else -- refused connections, timeouts, HTTP
    errors, ``Server.*`` faults, an unreadable answer, no whole answer within ``deadline`` seconds
    -- is transient (retried with backoff). ``timeout`` bounds each network wait; ``deadline`` the
    whole call (a court trickling its answer a byte at a time is cut off there)."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        deadline: float | None = None,
        ca_file: str | None = None,
        client: keys.ClientIdentity | None = None,
    ) -> None:
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.ca_file = ca_file
        self.context = tls_context(ca_file, client)
        self._local = threading.local()  # one HTTP session per thread: courts are called side by side
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
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
            session.mount("https://", _TlsAdapter(self.context))  # https is verified always
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()

    def post(self, address: str, envelope: bytes) -> SubmitReceipt:
        """One response to one court: its receipt (QUEUED), a refusal (REFUSED), or why it did not
        get there (FAILED) -- never an exception, whatever the court (or something in front of it)
        answers. Redirects are not followed: the response goes to the configured address or nowhere."""
        headers = {"SOAPAction": f'"{self.soap_action}"', "Content-Type": "text/xml; charset=utf-8"}
        cutoff = time.monotonic() + self.deadline
        try:
            with self.session.post(
                address, data=envelope, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
            ) as reply:
                content = _read_until(reply, cutoff)
                if content is None:
                    return SubmitReceipt(1, None, "FAILED", f"no whole answer within {self.deadline:g} s")
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
            return SubmitReceipt(1, None, "FAILED", _why(exc)[:200])
        except Exception as exc:  # noqa: BLE001 - an answer zeep cannot take is the court's problem, retried
            return SubmitReceipt(1, None, "FAILED", f"unreadable answer: {type(exc).__name__}: {exc}"[:200])
        message = getattr(answer, "ISBCommonResponseMessage", None)
        if message is None:
            error = getattr(answer, "ISBCommonErrorMessage", None)
            why = getattr(error, "ExceptionMessage", None) or getattr(error, "ExceptionCode", None) or "no receipt"
            return SubmitReceipt(1, None, "REFUSED", f"the court's error: {why}"[:200])
        return SubmitReceipt(1, getattr(message, "DocumentId", None), "QUEUED")


def _why(exc: requests.RequestException) -> str:
    """What went wrong, in an operator's words: the innermost cause of requests' wrapping (the TLS
    handshake's own reason, say), not the pool's preamble."""
    cause: BaseException = exc
    for _ in range(8):
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException) and cause.args and isinstance(cause.args[0], BaseException):
            inner = cause.args[0]
        if not isinstance(inner, BaseException):
            break
        cause = inner
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"{type(exc).__name__}: TLS: the court's certificate is not trusted ({cause.verify_message})"
    if isinstance(cause, ssl.SSLError):
        return f"{type(exc).__name__}: TLS: {cause.reason or cause}"
    return f"{type(exc).__name__}: {cause}"


def _read_until(reply: requests.Response, cutoff: float) -> bytes | None:
    """The body, up to one byte past :data:`MAX_REPLY_BYTES`; None when it is not all there by
    ``cutoff`` (each read waits at most the transport's timeout; the deadline is checked between)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_REPLY_BYTES:
        if time.monotonic() > cutoff:
            return None
        chunk = reply.raw.read1(min(65536, MAX_REPLY_BYTES + 1 - size), decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Courts:
    """Calls courts side by side on a pool of :data:`PARALLEL_COURTS` threads kept for the process
    (each with its HTTP session): each court's messages one after another, in the batch's order.

    No call starts later than the transport's ``deadline`` after the batch began, and each call ends
    by its own deadline, so a batch waits for a court about twice that at most. A court not
    answered by then has the message in flight FAILED (an attempt, retried later) and is left to
    finish on its thread; until it does it is not called again -- a court that holds on ties up one
    thread, never the batch or the other courts. Messages never sent (the batch's time ran out
    before their turn, or their court was still busy) are UNTRIED: queued again, no attempt spent,
    so a slow court's responses wait rather than die."""

    def __init__(self, *, workers: int = PARALLEL_COURTS) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="court")
        self._running: dict[str, Future[None]] = {}  # each court's latest call (done: free)
        self._lock = threading.Lock()

    def running(self, address: str) -> Future[None] | None:
        """The court's call still on its thread, if any."""
        with self._lock:
            call = self._running.get(address)
        return call if call is not None and not call.done() else None

    def post(self, transport: Any, groups: dict[str, list[tuple[int, bytes]]]) -> dict[int, SubmitReceipt]:
        """``groups``: each court's address and its (position, envelope) list, posted through
        ``transport`` (a :class:`CourtTransport`, or anything with its ``post``). Every position's receipt."""
        receipts: dict[int, SubmitReceipt] = {}
        started: set[int] = set()  # the positions whose call began (a thread may still be on one)
        waiting: list[Future[None]] = []
        deadline = float(getattr(transport, "deadline", 60.0))
        budget = time.monotonic() + deadline  # no call to a court starts after this

        def deliver(address: str, messages: list[tuple[int, bytes]]) -> None:
            for n, (position, envelope) in enumerate(messages):
                if time.monotonic() > budget:  # the rest wait for the next batch, in their order, unspent
                    for later, _ in messages[n:]:
                        receipts[later] = SubmitReceipt(
                            1, None, "UNTRIED", f"not sent: the batch's {deadline:g} s ran out"
                        )
                    break
                started.add(position)
                receipts[position] = transport.post(address, envelope)

        for address, messages in groups.items():
            with self._lock:
                earlier = self._running.get(address)
                if earlier is None or earlier.done():
                    self._running[address] = call = self.pool.submit(deliver, address, messages)
                    waiting.append(call)
                    continue
            for position, _ in messages:
                receipts[position] = SubmitReceipt(
                    1, None, "UNTRIED", "not sent: the court has not answered an earlier call"
                )
        # The last call started within the budget ends by its own deadline (and one read's timeout).
        wait(waiting, timeout=2 * deadline + float(getattr(transport, "timeout", 0.0)) + 1)
        done, begun = dict(receipts), set(started)  # this batch's answer: a thread's later writes are not in it
        late = SubmitReceipt(1, None, "FAILED", f"not answered within the batch's {deadline:g} s")
        unsent = SubmitReceipt(1, None, "UNTRIED", f"not sent: the batch's {deadline:g} s ran out")
        return {
            position: done.get(position, late if position in begun else unsent)
            for messages in groups.values()
            for position, _ in messages
        }

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


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
        self.courts = Courts()
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
        """Each ready response to its court (:class:`Courts`: side by side, a slow or silent court
        holds up only its own), each court's responses one after another in the batch's order."""
        ready = [b for b in built if b.sealed is not None]
        groups: dict[str, list[tuple[int, bytes]]] = {}
        for index, b in enumerate(ready):
            assert b.address is not None and b.sealed is not None
            groups.setdefault(b.address, []).append((index, b.sealed))
        answered = self.courts.post(self.transport, groups)
        receipts = []
        for index, b in enumerate(ready):
            r = answered[index]
            if r.failed:
                log.warning("business response %s to %s: %s", b.claimed.mcn, b.claimed.sender_ori, r.reason)
            receipts.append(SubmitReceipt(index + 1, r.mcn, r.status, r.reason))
        return Submitted(built, receipts, destination="the court")

    def close(self) -> None:
        self.courts.close()
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()
