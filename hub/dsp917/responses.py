"""The business response: what became of a court's notification, pushed to the court's own
``DSP917CAJUDResp`` ``Notify`` service -- the outbox's second kind of message (``DSP917``).

Each one is written as the official ``DSP917CAJUDRespInput`` in the transaction of what it reports,
sealed under the master key (it can carry DOJ's FCN), and queued in the one outbox: its claim,
lease, retries with backoff, dead letters and per-order order are the outbox's, the same as a
CARPOS message's (:mod:`hub.outbox.manager`); the gateway's court sender (``gateway/court.py``)
delivers it and the court's ISB receipt settles it. The court matches it by the CorrelationId and
ISBTransactionId of its notification, echoed in the header; ``DocumentId`` is the message's MCN,
the same on every resend.

What is reported when:

- every notification, at once: the success response (the CCPOR order id and its order type; the
  FCN when the order is on file with DOJ already) or the error response (the outcome's code from
  :class:`hub.dsp917.codes.ErrorCode` and each finding in a clerk's words);
- for a court whose orders go to CARPOS, DOJ's answer to the order's CARPOS messages: its entry's
  acceptance is a second success response carrying the FCN, a reject an error response (450400).

A court with no response service configured (``ccpor-hub dsp917 court``) gets none; its clerks see
the outcome in CCPOR.
"""

from __future__ import annotations

import socket
from datetime import datetime

from lxml import etree
from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from hub import ids, logs, ns
from hub.carpos.clets import CletsVault
from hub.carpos.outbox import Answered, ring
from hub.codes import OutboxState
from hub.db.models import Dsp917Court, Dsp917Notification, Dsp917Order, Order, Organization, OutboxMessage
from hub.dsp917.codes import RESPONSES_PURPOSE, ErrorCode, Outcome
from hub.dsp917.isb import sub
from hub.dsp917.notification import Notification
from hub.errors import Violation
from hub.masterkey import MasterKey, Sealer
from hub.orders.document import OrderDocument
from hub.xmlsafe import parser_for_stored

KIND = "DSP917"
SUCCESS, ERROR = "RSP", "ERR"  # the message keys (outbox.mke) of the two responses
#: ErrorInformationMessageText holds at most 250 characters.
MAX_TEXT = 250


def document(
    n: Notification,
    mcn: str,
    now: datetime,
    *,
    order_id: str | None = None,
    order_type: str | None = None,
    fcn: str | None = None,
    errors: list[tuple[str, str]] | None = None,
    hostname: str = "",
) -> etree._Element:
    """The official ``DSP917CAJUDRespInput`` answering ``n``: success (``order_id``, its type, the FCN
    if known) or, with ``errors`` (code, text), the error response."""
    root = etree.Element(
        ns.q(ns.DSP917_RESP_INPUT, "DSP917CAJUDRespInput"),
        nsmap={
            "dsp917cajudrespip": ns.DSP917_RESP_INPUT,
            "tnshdr": ns.ISB_HEADER,
            "dsp917cajudresp": ns.DSP917_RESP,
            "ncresp": ns.DSP917_RESP_NC,
        },
    )
    header = sub(root, ns.ISB_HEADER, "ISBCommonServiceHeader")
    request = n.header
    asked = (lambda local: (request.findtext(local) or "").strip()) if request is not None else (lambda local: "")
    sub(header, None, "Source", asked("Target") or "CCPOR")
    if asked("Source"):
        sub(header, None, "Target", asked("Source"))
    sub(header, None, "InterfaceName", "DSP917")
    sub(header, None, "DocumentType", "DSP917_RESP")
    sub(header, None, "DocumentId", mcn)
    sub(header, None, "CorrelationId", n.correlation_id)
    sub(header, None, "ISBTransactionId", n.isb_transaction_id)
    sub(header, None, "Environment", asked("Environment") or "PROD")
    sub(header, None, "Hostname", hostname or socket.gethostname())
    sub(header, None, "TimeStamp", now.isoformat(timespec="milliseconds"))
    sub(header, None, "CourtCd", n.court_cd)
    package = sub(root, ns.DSP917_RESP, "ProductExchangePackage")
    if errors:
        activity = sub(package, ns.DSP917_RESP, "ProductExchangeErrorActivity")
        for code, text in errors:
            info = sub(activity, ns.DSP917_RESP, "ErrorInformation")
            sub(info, ns.DSP917_RESP, "ErrorInformationMessageCode", code)
            sub(info, ns.DSP917_RESP, "ErrorInformationMessageText", _clip(text))
        return root
    assert order_id, "a success response names the CCPOR order"
    activity = sub(package, ns.DSP917_RESP, "ProductExchangeResponseActivity")
    if fcn:
        sub(activity, ns.DSP917_RESP, "ControlNumber", fcn)
    sub(sub(activity, ns.DSP917_RESP, "OrderIdentification"), ns.DSP917_RESP_NC, "IdentificationID", order_id)
    if order_type:
        order = sub(activity, ns.DSP917_RESP, "CaseRestrainingOrder")
        sub(order, ns.DSP917_RESP_NC, "ActivityCategoryText", order_type)
    return root


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def errors_of(
    error: ErrorCode, findings: tuple[Violation, ...] | list[Violation], order_id: str | None
) -> list[tuple[str, str]]:
    """The error response's ErrorInformation: the outcome first (naming the CCPOR order when there is
    one), then each finding in words, under the same code."""
    about = f" (CCPOR order {order_id})" if order_id else ""
    return [(error.code, error.text + about)] + [(error.code, f.message) for f in findings]


class Dsp917Responses:
    """Queues business responses in the change's transaction (the hub's side of the second kind)."""

    def __init__(self, key: MasterKey, *, hostname: str = "") -> None:
        self.sealer: Sealer = key.sealer(RESPONSES_PURPOSE)
        self.vault = CletsVault.of(key)
        self.hostname = hostname

    def seal(self, mcn: str, xml: bytes) -> bytes:
        return self.sealer.seal(xml, b"dsp917-response\0" + mcn.encode())

    def open(self, mcn: str, sealed: bytes) -> bytes:
        return self.sealer.open(sealed, b"dsp917-response\0" + mcn.encode())

    # ------------------------------------------------------------------ when a notification came

    def notified(
        self,
        s: Session,
        row: Dsp917Notification,
        n: Notification,
        known: Dsp917Order | None,
        now: datetime,
        *,
        outcome: Outcome,
        error: ErrorCode | None,
        findings: tuple[Violation, ...] | list[Violation],
    ) -> str | None:
        """The response to one notification just recorded (``row``); its MCN, or None when the court
        has no response service."""
        court = s.get(Dsp917Court, row.organization_id)
        if court is None or not court.response_url:
            return None
        order = s.get(Order, row.order_id) if row.order_id is not None else None
        public = ids.public(ids.ORDER, order.id) if order is not None else None
        if outcome is Outcome.ACCEPTED and order is not None:
            fcn = self.vault.open_fcn(order.id, order.carpos_fcn_sealed) if order.carpos_fcn_sealed else None
            return self._queue(s, row, n, known, now, SUCCESS, order_id=public, order_type=_type(order), fcn=fcn)
        assert error is not None
        named = public if outcome is not Outcome.REFUSED else None  # a refusal names no CCPOR order (isb.message)
        return self._queue(s, row, n, known, now, ERROR, errors=errors_of(error, findings, named))

    # ------------------------------------------------------------------ when DOJ answered

    def carpos_answered(self, s: Session, answers: list[Answered], now: datetime) -> None:
        """DOJ's answers to CARPOS messages of orders courts sent by DSP917: the entry's FCN, or the
        reject in words, to the court whose notification made the order."""
        if not answers:
            return
        known = {
            k.order_id: k
            for k in s.scalars(select(Dsp917Order).where(Dsp917Order.order_id.in_({a.order_id for a in answers})))
        }
        for a in sorted(answers, key=lambda a: a.order_id):
            k = known.get(a.order_id)
            if k is None or not (a.mke == "EPO" and a.accepted and a.fcn or not a.accepted):
                continue
            # The notification whose change the answered message carried: the accepted one whose
            # versions (base_version, order_version] hold the message's (written in one transaction).
            made = select(Dsp917Notification).where(
                Dsp917Notification.order_id == a.order_id, Dsp917Notification.outcome == Outcome.ACCEPTED.value
            )
            if a.order_version is not None:
                made = made.where(
                    Dsp917Notification.order_version >= a.order_version,
                    or_(Dsp917Notification.base_version.is_(None), Dsp917Notification.base_version < a.order_version),
                )
            row = s.scalar(made.order_by(Dsp917Notification.id).limit(1))
            if row is None:
                continue
            court = s.get(Dsp917Court, row.organization_id)
            if court is None or not court.response_url:
                continue
            court_ori = s.scalar(select(Organization.ori).where(Organization.id == row.organization_id))
            if a.sender_ori and a.sender_ori != court_ori:
                continue  # the answer to someone else's transaction (a sheriff completing the order): theirs
            n = Notification(etree.fromstring(row.payload.encode(), parser_for_stored()))
            order = s.get(Order, a.order_id)
            public = ids.public(ids.ORDER, a.order_id)
            if a.accepted:
                self._queue(s, row, n, k, now, SUCCESS, order_id=public, order_type=_type(order), fcn=a.fcn)
            else:
                words = f"DOJ did not accept the order's CARPOS {a.mke}: {a.reason or 'no reason given'}"
                self._queue(
                    s, row, n, k, now, ERROR, errors=errors_of(ErrorCode.CARPOS, [Violation("", words)], public)
                )

    # ------------------------------------------------------------------ the outbox row

    def _queue(
        self,
        s: Session,
        row: Dsp917Notification,
        n: Notification,
        known: Dsp917Order | None,
        now: datetime,
        mke: str,
        **content: object,
    ) -> str:
        if known is not None and row.order_id is not None:
            # The order's own counter, advanced under its row lock: its responses go in this order.
            seq = s.execute(
                update(Dsp917Order)
                .where(Dsp917Order.id == known.id)
                .values(response_seq=Dsp917Order.response_seq + 1)
                .returning(Dsp917Order.response_seq)
                .execution_options(synchronize_session=False)
            ).scalar_one()
            mcn, keyed = (
                f"{ids.public(ids.ORDER, row.order_id)}-R{seq:03d}",
                {"order_id": row.order_id, "order_seq": seq},
            )
        else:
            mcn, keyed = f"DSP917N{row.id:010d}", {}
        xml = etree.tostring(document(n, mcn, now, hostname=self.hostname, **content), encoding="UTF-8")  # type: ignore[arg-type]
        ori = s.scalar(select(Organization.ori).where(Organization.id == row.organization_id))
        s.execute(
            insert(OutboxMessage.__table__),
            dict(
                kind=KIND,
                mcn=mcn,
                mke=mke,
                sender_ori=ori,
                requested_by_id=None,
                state=OutboxState.QUEUED.value,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
                request_id=logs.current_request_id() or None,
                payload_sealed=self.seal(mcn, xml),
                order_version=row.order_version,
                **keyed,
            ),
        )
        ring(s)
        return mcn


def _type(order: Order | None) -> str | None:
    return OrderDocument.from_xml(order.document).order_type_code if order is not None else None


class Dsp917QueueRules:
    """What the outbox's queue must know of business responses (:class:`hub.outbox.queue.KindRules`)."""

    rejected_hint = "is answered by the court's service with an error: check the court's endpoint and requeue"

    def needed(self, s: Session, dead: list[object]) -> set[int]:
        return set()  # nothing but its own line waits behind a response

    def release(self, s: Session, message_ids: list[int]) -> None:
        return None

    def purged(self, s: Session, order_ids: list[int]) -> None:
        return None


QUEUE_RULES = Dsp917QueueRules()
