"""The DSP917 use case: a court's notification adds, updates or cancels its order in the registry.

``A`` maps the notification (:mod:`hub.dsp917.mapping`) and enters the order through the ordinary
order service -- ACTIVE when it passes the ACTIVE profile and every rule (and, for a court whose
orders go to CARPOS, CARPOS's field rules), else **held**: stored as a DRAFT exactly as mapped,
kept out of CARPOS, the findings kept for the business response. The first attachment becomes the
order's image. ``U`` finds the order the court's earlier notification made -- by the court (the
account's organization), the case number and the court's own order id -- and changes it: a held
draft is completed (or held again), an ACTIVE order modified (a change the rules refuse leaves it
as it was). ``C`` cancels it.

Every notification is stored as sent (its image as the stored image) with the order version it
made and its outcome, in the transaction of the change; its ISB header's CourtCd, CorrelationId and
ISBTransactionId are unique per court, so a resend is answered with the first receipt and changes
nothing. What cannot be accepted at all -- another court's CourtCd, a caller that is not a court,
an unusable notification -- is a fault and stores nothing.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ids, ns
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.codes import COUNTIES, CancelReason, OrderStatus, OrganizationKind
from hub.contract import validate_order_profile
from hub.db.models import Dsp917Court, Dsp917Notification, Dsp917Order, Order, OrderVersion
from hub.dsp917 import codes
from hub.dsp917.codes import ErrorCode, Outcome
from hub.dsp917.mapping import Mapped, Unmappable, to_order
from hub.dsp917.notification import NS, ORDER, Notification
from hub.dsp917.responses import Dsp917Responses
from hub.errors import Conflict, Forbidden, ImageRejected, InvalidState, ValidationError, Violation
from hub.images.service import ImageService
from hub.orders.records import Source
from hub.orders.service import OrderService

#: The order below the notification's root (XPath with notification.NS).
ORDER_XPATH = (
    "r:ProductExchangePackage/r:ProductRelatedObjects/r:ProductRelatedActivities/r:CourtCase/r:CaseRestrainingOrder"
)

#: Where the order's rule findings point (the canonical order the notification was mapped to).
MAPPED = "/ord:Order"


@dataclass(frozen=True)
class Result:
    """What became of one notification: its receipt (the same on every resend)."""

    notification_id: int
    outcome: Outcome
    order_id: str | None
    version: int | None
    status: str | None
    error: ErrorCode | None
    findings: tuple[Violation, ...]
    received_at: datetime
    duplicate: bool = False


class Dsp917Intake:
    """``responses``: where the business responses are queued (none: the courts are told only by the
    receipt)."""

    def __init__(self, orders: OrderService, images: ImageService, responses: Dsp917Responses | None = None) -> None:
        self.orders = orders
        self.images = images
        self.responses = responses

    def notify(self, s: Session, who: Principal, n: Notification) -> Result:
        county = _require_court(who, n)
        problems = n.problems()
        if problems:
            raise ValidationError(
                f"the notification cannot be processed ({len(problems)} problem(s)); see detail",
                problems,
            )
        if (replay := self._replay(s, who, n)) is not None:
            return replay
        known = s.scalar(
            select(Dsp917Order).where(
                Dsp917Order.organization_id == who.organization_id,
                Dsp917Order.case_docket_id == n.docket_key,
                Dsp917Order.order_identification == n.order_key,
            )
        )
        step = _Step(self, s, who, n, county, known)
        if n.action == "A":
            step.add()
        elif n.action == "U":
            step.update()
        else:
            step.cancel()
        return step.record()

    @staticmethod
    def _replay(s: Session, who: Principal, n: Notification) -> Result | None:
        row = s.scalar(
            select(Dsp917Notification).where(
                Dsp917Notification.organization_id == who.organization_id,
                Dsp917Notification.court_cd == n.court_cd,
                Dsp917Notification.correlation_id == n.correlation_id,
                Dsp917Notification.isb_transaction_id == n.isb_transaction_id,
            )
        )
        if row is None:
            return None
        if row.payload_sha256 != fingerprint(n.root):
            raise Conflict(
                f"CorrelationId {n.correlation_id} with ISBTransactionId {n.isb_transaction_id} was used for another "
                "notification of this court: every notification needs its own ids (a resend must be the same)"
            )
        return _result(s, row, duplicate=True)

    def court(self, s: Session, who: Principal) -> Dsp917Court | None:
        return s.get(Dsp917Court, who.organization_id)


def _require_court(who: Principal, n: Notification) -> str:
    """The calling account's county; only a court's account sends DSP917, and only with its own CourtCd."""
    if who.org_kind is not OrganizationKind.COURT:
        raise Forbidden("DSP917 notifications come from a court's account; this account belongs to no court")
    permissions.require_update(who)  # a court's read-only or administrator account sends none
    if n.court_cd != who.county_code:
        raise Forbidden(
            f"CourtCd {n.court_cd} is not this account's court: it is {who.ori}'s, court number {who.county_code} "
            f"({COUNTIES[int(who.county_code) - 1]})"
        )
    return COUNTIES[int(who.county_code) - 1]


class _Step:
    """One notification's work inside its transaction."""

    def __init__(
        self, intake: Dsp917Intake, s: Session, who: Principal, n: Notification, county: str, known: Dsp917Order | None
    ) -> None:
        self.intake, self.s, self.who, self.n, self.county, self.known = intake, s, who, n, county, known
        self.outcome = Outcome.ACCEPTED
        self.error: ErrorCode | None = None
        self.findings: list[Violation] = []
        self.order: Order | None = s.get(Order, known.order_id) if known is not None else None
        #: The order's version before this notification (0: none yet).
        self.base_version = self.order.version if self.order is not None else 0
        self.image_id: int | None = None
        #: The attachments (by position) now held as the order's images: their bytes are not kept twice.
        self.stored: set[int] = set()

    def refuse(self, error: ErrorCode, *findings: Violation) -> None:
        self.outcome, self.error = Outcome.REFUSED, error
        self.findings[:0] = findings  # why first; the mapping's notes after

    def _mapped(self) -> Mapped | None:
        try:
            mapped = to_order(self.n, self.who.ori, self.county)
        except Unmappable as exc:
            self.refuse(ErrorCode.MAPPING, *exc.violations)
            return None
        self.findings.extend(mapped.notes)
        return mapped

    def add(self) -> None:
        if self.known is not None:
            self.refuse(
                ErrorCode.STATE,
                Violation(
                    f"{ORDER}/dsp917cajudreq:AddUpdateCancelText",
                    f"order {self.n.order_identification} of case {self.n.docket} was added already: "
                    "send U to change it",
                ),
            )
            return
        mapped = self._mapped()
        if mapped is None:
            return
        self._enter(mapped, None)
        if mapped.images:
            self._attach(mapped)

    def update(self) -> None:
        if self.order is None:
            self.refuse(ErrorCode.LOOKUP, self._not_found())
            return
        mapped = self._mapped()
        if mapped is None:
            return
        status = OrderStatus(self.order.status)
        if status in (OrderStatus.DRAFT, OrderStatus.ACTIVE):
            try:
                with self.s.begin_nested():
                    if status is OrderStatus.DRAFT:
                        self._enter(mapped, self.order)
                    else:
                        self.orders.modify(
                            self.s, self.who, self._public_id, self.order.version, mapped.order, path=MAPPED
                        )
            except ValidationError as err:
                self.refuse(ErrorCode.CHANGE_REFUSED, *err.violations)
                return
            except InvalidState as err:  # a sheriff completing it holds an edit lock: the court is told
                self.refuse(ErrorCode.STATE, Violation(f"{ORDER}/dsp917cajudreq:AddUpdateCancelText", err.message))
                return
        else:
            self.refuse(
                ErrorCode.STATE,
                Violation(
                    f"{ORDER}/dsp917cajudreq:AddUpdateCancelText", f"the order is {status.value}: it cannot be updated"
                ),
            )
            return
        if mapped.images:
            self._attach(mapped)

    def cancel(self) -> None:
        if self.order is None:
            self.refuse(ErrorCode.LOOKUP, self._not_found())
            return
        status = OrderStatus(self.order.status)
        if status is not OrderStatus.ACTIVE:
            held = " (held as a draft: it was never in force)" if status is OrderStatus.DRAFT else ""
            self.refuse(
                ErrorCode.STATE,
                Violation(
                    f"{ORDER}/dsp917cajudreq:AddUpdateCancelText",
                    f"the order is {status.value}{held}: only an order in force is cancelled",
                ),
            )
            return
        letter = (self.n.order.findtext(ns.q(ns.DSP917_REQ, "CancellationReasonText")) or "").strip().upper()
        reason = CancelReason(codes.CANCEL_REASONS.get(letter, CancelReason.TERMINATED_BY_COURT.value))
        text = f"cancelled by the court's notification {self.n.correlation_id}"
        self.orders.cancel(self.s, self.who, self._public_id, self.order.version, reason, text, Source(None, None))

    # ------------------------------------------------------------------ helpers

    @property
    def orders(self) -> OrderService:
        return self.intake.orders

    @property
    def _public_id(self) -> str:
        assert self.order is not None
        return ids.public(ids.ORDER, self.order.id)

    def _not_found(self) -> Violation:
        return Violation(
            f"{ORDER}/ncreq:IdentificationID",
            f"no order {self.n.order_identification} of case {self.n.docket} from this court is in CCPOR "
            "(an update or cancel needs the court's earlier add)",
        )

    def _enter(self, mapped: Mapped, draft: Order | None) -> None:
        """Enter ``mapped`` ACTIVE if it passes every rule, else hold it as a DRAFT (new, or ``draft``)."""
        court = self.intake.court(self.s, self.who)
        carpos = bool(court and court.carpos)
        order_id = ids.public(ids.ORDER, draft.id) if draft is not None else None
        version = draft.version if draft is not None else None
        findings = validate_order_profile(mapped.order, active=True, path=MAPPED)
        if not findings:
            try:
                with self.s.begin_nested():
                    receipt = self.orders.submit(
                        self.s,
                        self.who,
                        mapped.order,
                        order_id=order_id,
                        version=version,
                        carpos_requested=carpos,
                        path=MAPPED,
                    )
                self._made(receipt.order_id, held="")
                return
            except ValidationError as err:
                findings = list(err.violations)
        receipt = self.orders.hold(self.s, self.who, mapped.order, order_id=order_id, version=version, path=MAPPED)
        self.outcome, self.error = Outcome.HELD, ErrorCode.RULES
        self.findings[:0] = findings
        self._made(receipt.order_id, held=_lines(findings))

    def _made(self, public_id: str, *, held: str) -> None:
        now = self.orders.clock()
        self.order = self.s.get(Order, ids.parse(ids.ORDER, public_id))
        if self.known is None:
            self.known = Dsp917Order(
                organization_id=self.who.organization_id,
                case_docket_id=self.n.docket_key,
                order_identification=self.n.order_key,
                order_id=ids.parse(ids.ORDER, public_id),
                held=held,
                created_at=now,
                updated_at=now,
            )
            self.s.add(self.known)
        else:
            self.known.held, self.known.updated_at = held, now

    def _attach(self, mapped: Mapped) -> None:
        """Each attachment as an image of the order, unless the order has one with the same content
        already (an update resending the scan); one the image rules refuse stays in the stored
        notification as sent, and the court is told."""
        have = {i.sha256 for i in self.orders.images(self.s, self.order)} if self.order is not None else set()
        for position, title, content in mapped.images:
            if hashlib.sha256(content).hexdigest() in have:
                self.stored.add(position)
                continue
            try:
                with self.s.begin_nested():
                    image = self.intake.images.attach(self.s, self.who, self._public_id, content, title)
            except ImageRejected as err:
                self.findings.append(
                    Violation(
                        f"{ORDER}/dsp917cajudreq:RestrainingOrderAttachment[{position}]/ncreq:DocumentBinary",
                        f"the attachment is kept in the stored notification, not as an image of the order: "
                        f"{err.message}",
                    )
                )
                continue
            have.add(image.sha256)
            self.stored.add(position)
            self.image_id = self.image_id or image.id

    def record(self) -> Result:
        order = self.order
        if order is not None:
            self.s.refresh(order)
        row = Dsp917Notification(
            organization_id=self.who.organization_id,
            court_cd=self.n.court_cd,
            correlation_id=self.n.correlation_id,
            isb_transaction_id=self.n.isb_transaction_id,
            action=self.n.action,
            dsp917_order_id=self.known.id if self.known is not None and self.outcome is not Outcome.REFUSED else None,
            order_id=order.id if order is not None else None,
            order_version=order.version if order is not None else None,
            base_version=self.base_version if order is not None else None,
            outcome=self.outcome.value,
            error_code=self.error.code if self.error else "",
            findings=_lines(self.findings),
            payload=stored_payload(self.n.root, self.stored),
            payload_sha256=fingerprint(self.n.root),
            image_id=self.image_id,
            received_at=self.orders.clock(),
        )
        self.s.add(row)
        self.s.flush()
        if self.intake.responses is not None:
            self.intake.responses.notified(
                self.s,
                row,
                self.n,
                self.known,
                row.received_at,
                outcome=self.outcome,
                error=self.error,
                findings=self.findings,
            )
        return _result(self.s, row)


def _lines(findings: list[Violation] | tuple[Violation, ...]) -> str:
    """Findings as stored: one ``path: message`` a line (a message's own line breaks folded)."""
    return "\n".join(f"{v.path}: {' '.join(v.message.split())}" for v in findings)


def fingerprint(root: etree._Element) -> str:
    """What a resend must repeat: the SHA-256 of the notification's canonical form (C14N)."""
    return hashlib.sha256(etree.tostring(root, method="c14n")).hexdigest()


def stored_payload(root: etree._Element, stored: set[int] | frozenset[int] = frozenset()) -> str:
    """The notification as kept: everything as sent but the bytes of the attachments (by position,
    1..n) that are held as the order's images. A copy of the tree, not a parse of its text: an image
    of 20 MB is a text node no default parser takes."""
    kept = copy.deepcopy(root)
    attachments = kept.xpath(f"{ORDER_XPATH}/r:RestrainingOrderAttachment", namespaces=NS)
    for position, attachment in enumerate(attachments, start=1):
        if position in stored:
            for binary in attachment.iter(ns.q(ns.DSP917_NC, "BinaryBase64Object")):
                binary.text = ""
    return etree.tostring(kept, encoding="unicode")


def _result(s: Session, row: Dsp917Notification, *, duplicate: bool = False) -> Result:
    status = None
    if row.order_id is not None:
        status = s.scalar(
            select(OrderVersion.status).where(
                OrderVersion.order_id == row.order_id, OrderVersion.version == row.order_version
            )
        )
    findings = tuple(
        Violation(*line.split(": ", 1)) if ": " in line else Violation("", line)
        for line in row.findings.splitlines()
        if line
    )
    error = next((e for e in ErrorCode if e.code == row.error_code), None)
    return Result(
        notification_id=row.id,
        outcome=Outcome(row.outcome),
        order_id=ids.public(ids.ORDER, row.order_id) if row.order_id is not None else None,
        version=row.order_version,
        status=status,
        error=error,
        findings=findings,
        received_at=row.received_at,
        duplicate=duplicate,
    )
