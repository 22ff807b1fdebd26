"""The order lifecycle: DRAFT -> ACTIVE -> CANCELLED / EXPIRED, with service as a fact.

Each public method is one use case. It receives the session (the unit of work opened by the
caller), the authenticated principal and validated input; it checks permissions, state and rules,
has the new state, the history row and the idempotency receipt written together
(:mod:`hub.orders.records`, where the guarded UPDATE lives), and returns a
:class:`~hub.orders.records.Receipt`. Nothing here knows about SOAP.
"""

from __future__ import annotations

import copy

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import ids, ns
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.clock import COURTS, Clock, CourtCalendar, utcnow
from hub.codes import (
    CancelReason,
    OrderStatus,
    OrganizationKind,
    default_kind_of_ori,
)
from hub.contract import order_child_names, validate_order_profile
from hub.db.models import Dsp917Order, Image, Order, OrderVersion, Organization
from hub.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationError, Violation
from hub.orders import locks, records, rules
from hub.orders.document import OrderDocument
from hub.orders.forwarding import NO_FORWARDING, Change, Forwarding
from hub.orders.records import Receipt, Source
from hub.orders.references import link_documents

_DRAFT_ONLY = frozenset({OrderStatus.DRAFT})
_ACTIVE_ONLY = frozenset({OrderStatus.ACTIVE})
_EDITABLE = frozenset({OrderStatus.DRAFT, OrderStatus.ACTIVE})
#: What completing (SubmitOrder) or re-saving (SaveDraft) an existing order needs, in words.
_COMPLETING = {
    OrderStatus.ACTIVE: "only a DRAFT is completed (SubmitOrder with OrderId); change others with ModifyOrder",
    OrderStatus.DRAFT: "only a DRAFT is saved again (SaveDraft with OrderId); change others with ModifyOrder",
}


class OrderService:
    """Use cases on orders. ``clock`` is injected so tests can move time; ``calendar`` turns it into
    the courts' calendar dates (:mod:`hub.clock`: California's, not UTC's); ``forwarding`` is where
    an order's changes go beyond the registry (:mod:`hub.orders.forwarding`; CARPOS in the hub)."""

    def __init__(
        self, clock: Clock = utcnow, calendar: CourtCalendar = COURTS, *, forwarding: Forwarding = NO_FORWARDING
    ) -> None:
        self.clock = clock
        self.calendar = calendar
        self.forwarding = forwarding

    # ------------------------------------------------------------------ intake

    def submit(
        self,
        s: Session,
        who: Principal,
        order_el: etree._Element,
        *,
        order_id: str | None = None,
        version: int | None = None,
        carpos_requested: bool = False,
        path: str = "/svc:SubmitOrder/svc:Order",
    ) -> Receipt:
        """Add Order (new ACTIVE order) or complete a draft (``order_id`` + ``version``) to ACTIVE;
        with ``carpos_requested`` also enter it in CARPOS (checked first, queued in the same transaction)."""
        return self._intake(
            s, who, order_el, order_id, version, OrderStatus.ACTIVE, "SUBMIT", path, carpos_requested=carpos_requested
        )

    def save_draft(
        self,
        s: Session,
        who: Principal,
        order_el: etree._Element,
        *,
        order_id: str | None = None,
        version: int | None = None,
        path: str = "/svc:SaveDraft/svc:Order",
    ) -> Receipt:
        """Draft Order: save a partial order as DRAFT (new, or a newer version of a draft)."""
        return self._intake(s, who, order_el, order_id, version, OrderStatus.DRAFT, "SAVE_DRAFT", path)

    def load_historical(
        self,
        s: Session,
        who: Principal,
        order_el: etree._Element,
        *,
        carpos_requested: bool,
        path: str,
        probe: bool = True,
        pending: records.PendingRows | None = None,
    ) -> Receipt:
        """A court's historical order (hub.etl): the rules of an ACTIVE order, entered ACTIVE -- or
        EXPIRED, in the same one version, when its last day in force (a California date) is over;
        an expired one is never forwarded to CARPOS. Idempotent like a submission; with ``probe``
        off the receipt is not looked for first, and an order already loaded fails on the receipt's
        unique key (IntegrityError: the caller, in a savepoint, then asks again with the probe).
        With ``pending`` (an order that references no image and is not for CARPOS), the order's rows
        are held there to be written with the batch's (:class:`~hub.orders.records.PendingRows`)."""
        doc = OrderDocument(order_el)
        expires = doc.expiration_date
        over = expires is not None and expires < self.calendar.date_of(self.clock())
        status = OrderStatus.EXPIRED if over else OrderStatus.ACTIVE
        return self._intake(
            s,
            who,
            order_el,
            None,
            None,
            status,
            "LOAD",
            path,
            carpos_requested=carpos_requested,
            probe=probe,
            doc=doc,
            pending=pending,
        )

    def _intake(
        self,
        s: Session,
        who: Principal,
        order_el: etree._Element,
        order_id: str | None,
        version: int | None,
        status: OrderStatus,
        action: str,
        path: str,
        *,
        carpos_requested: bool = False,
        probe: bool = True,
        doc: OrderDocument | None = None,
        pending: records.PendingRows | None = None,
    ) -> Receipt:
        """A new order in ``status``, or an existing DRAFT moved to ``status`` (the schema already
        checked the profile of ``order_el``; the cross-field rules are checked here). ``doc``: the
        caller's reading of ``order_el``, if it made one. ``pending``: see :meth:`load_historical`."""
        doc = doc or OrderDocument(order_el)
        self._check(doc, active=status is not OrderStatus.DRAFT, path=path)
        source = Source(doc.source_system, doc.source_message_id)
        operation = records.operation_of(action)
        if pending is not None:
            if order_id is not None or carpos_requested or doc.document_references:
                raise ValueError("only a new order that references no image and is not for CARPOS is held")
            replay = pending.replay(who, source, operation)
        else:
            replay = records.replay(s, who, source, operation, order_id) if probe else None
        if replay is not None:
            return replay
        forwarded = carpos_requested and status is OrderStatus.ACTIVE
        order = None
        if forwarded:
            self.forwarding.check(None, doc, who, Change.ENTER, path)
        if order_id is None:
            receipt = self._create(s, who, doc, status, action, source, path=path, pending=pending)
        else:
            order = self._load_for_change(
                s, who, order_id, version, _DRAFT_ONLY, _COMPLETING[status], sealed_after=doc.sealed
            )
            receipt = self._replace(s, who, order, doc, action, source, {OrderStatus.DRAFT}, status, path=path)
        if forwarded:
            new_id = ids.parse(ids.ORDER, receipt.order_id)
            self.forwarding.record(s, order, new_id, receipt.version, who, Change.ENTER, self.clock())
        return receipt

    def hold(
        self,
        s: Session,
        who: Principal,
        order_el: etree._Element,
        *,
        order_id: str | None = None,
        version: int | None = None,
        path: str,
    ) -> Receipt:
        """Keep an order its court issued although the cross-field rules refuse it, as a DRAFT exactly
        as given: a court's notification (DSP917, :mod:`hub.dsp917.intake`) is its legal record, so it
        is stored, not lost. No cross-field rule is checked (only permissions and state; the caller
        fitted the order to the DRAFT profile), and no source replay (the caller keeps its own
        receipts); being a draft it goes nowhere -- not to CARPOS -- until a correction passes the
        rules and completes it."""
        doc = OrderDocument(order_el)
        source = Source(doc.source_system, doc.source_message_id)
        if order_id is None:
            return self._create(s, who, doc, OrderStatus.DRAFT, "HOLD", source, path=path)
        order = self._load_for_change(
            s, who, order_id, version, _DRAFT_ONLY, "only a DRAFT is held again", sealed_after=doc.sealed
        )
        return self._replace(s, who, order, doc, "HOLD", source, {OrderStatus.DRAFT}, OrderStatus.DRAFT, path=path)

    def modify(
        self,
        s: Session,
        who: Principal,
        order_id: str,
        version: int,
        order_el: etree._Element,
        *,
        path: str = "/svc:ModifyOrder/svc:Order",
    ) -> Receipt:
        """Modify Order: a new version of a DRAFT or ACTIVE order; an ACTIVE one must stay complete."""
        doc = OrderDocument(order_el)
        source = Source(doc.source_system, doc.source_message_id)
        if (replay := records.replay(s, who, source, "ModifyOrder", order_id)) is not None:
            return replay
        order = self._load_for_change(
            s,
            who,
            order_id,
            version,
            _EDITABLE,
            "only DRAFT and ACTIVE orders can be modified",
            sealed_after=doc.sealed,
        )
        status = OrderStatus(order.status)
        if order.served and not doc.served:
            # Service is a fact: a modification that leaves out the proof of service keeps it.
            previous = OrderDocument.from_xml(order.document)
            proof = previous.element.find(ns.q(ns.ORDER, "ProofOfService"))
            if proof is not None:
                doc = OrderDocument(_with_child(doc.element, copy.deepcopy(proof)))
        self._check(doc, active=status is OrderStatus.ACTIVE, path=path, profile=True)
        forwarded = status is OrderStatus.ACTIVE  # a draft goes nowhere
        if forwarded:
            self.forwarding.check(order, doc, who, Change.MODIFY, path)
        receipt = self._replace(s, who, order, doc, "MODIFY", source, {status}, status, path=path)
        if forwarded:
            self.forwarding.record(s, order, order.id, order.version, who, Change.MODIFY, self.clock())
        return receipt

    def clone(self, s: Session, who: Principal, order_id: str, source: Source) -> Receipt:
        """Clone Order: a new DRAFT copying the parties, conditions and court of an existing order.

        Proof of service, images and the source message ids are not copied; the copy is completed
        and submitted like any draft.
        """
        if (replay := records.replay(s, who, source, "CloneOrder")) is not None:
            return replay
        permissions.require_update(who)
        original = self._visible(s, who, order_id)
        if not permissions.may_see_details(who, original.sealed):
            raise permissions.Forbidden("cloning a sealed order needs a SEALED role")
        if original.status == OrderStatus.DRAFT.value and original.owner_org_id != who.organization_id:
            raise permissions.Forbidden("a draft can be cloned only by the organization that saved it")
        element = OrderDocument.from_xml(original.document).element
        for local in ("ProofOfService", "DocumentReference", "SourceSystemName", "SourceMessageID"):
            for child in element.findall(ns.q(ns.ORDER, local)):
                element.remove(child)
        receipt = self._create(
            s,
            who,
            OrderDocument(element),
            OrderStatus.DRAFT,
            "CLONE",
            source,
            path="/svc:CloneOrder",
            cloned_from=original.id,
        )
        return receipt

    def serve(
        self,
        s: Session,
        who: Principal,
        order_id: str,
        version: int,
        proof_el: etree._Element,
        source: Source,
    ) -> Receipt:
        """Service Order: record proof of service on an ACTIVE order (replacing an earlier one)."""
        if (replay := records.replay(s, who, source, "ServeOrder", order_id)) is not None:
            return replay
        order = self._load_for_change(
            s, who, order_id, version, _ACTIVE_ONLY, "proof of service is recorded on ACTIVE orders"
        )
        doc = OrderDocument.from_xml(order.document)
        proof = copy.deepcopy(proof_el)
        proof.tag = ns.q(ns.ORDER, "ProofOfService")
        doc = OrderDocument(_with_child(doc.element, proof))
        self._check(doc, active=True, path="/svc:ServeOrder", profile=True)
        self.forwarding.check(order, doc, who, Change.SERVE, "/svc:ServeOrder/svc:ProofOfService")
        receipt = self._replace(
            s, who, order, doc, "SERVE", source, {OrderStatus.ACTIVE}, OrderStatus.ACTIVE, path="/svc:ServeOrder"
        )
        self.forwarding.record(s, order, order.id, order.version, who, Change.SERVE, self.clock())
        return receipt

    def cancel(
        self,
        s: Session,
        who: Principal,
        order_id: str,
        version: int,
        reason: CancelReason,
        text: str | None,
        source: Source,
    ) -> Receipt:
        """Cancel Order: ACTIVE -> CANCELLED with a reason (OTHER needs its text)."""
        if reason is CancelReason.OTHER and not (text and text.strip()):
            raise ValidationError(
                "cancel reason OTHER needs CancelReasonText",
                [Violation("/svc:CancelOrder/svc:CancelReasonText", "required when the reason is OTHER")],
            )
        if (replay := records.replay(s, who, source, "CancelOrder", order_id)) is not None:
            return replay
        order = self._load_for_change(
            s, who, order_id, version, _ACTIVE_ONLY, "only ACTIVE orders can be cancelled", cancel=True
        )
        now = self.clock()
        records.guarded_update(
            s,
            order,
            {OrderStatus.ACTIVE},
            now,
            status=OrderStatus.CANCELLED.value,
            locked_by_id=None,
            locked_at=None,
            lock_expires_at=None,
            cancel_reason=reason.value,
            cancel_text=text,
            updated_at=now,
        )
        records.history(s, who, order, "CANCEL", ["CancelReason"], now)
        self.forwarding.record(s, order, order.id, order.version, who, Change.CANCEL, now, reason)
        return records.receipt_for(s, who, order, source, "CancelOrder", now)

    def expire_due(self, s: Session, who: Principal) -> list[str]:
        """ACTIVE orders whose last day in force (expiration date, a California date) is over become
        EXPIRED (a version each, forwarded like any change): an order expiring today is in force until
        midnight Pacific."""
        now = self.clock()
        today = self.calendar.date_of(now)
        due = s.scalars(
            select(Order).where(Order.status == OrderStatus.ACTIVE.value, Order.expiration_date < today)
        ).all()
        expired = []
        for order in due:
            try:
                expired_now = {"status": OrderStatus.EXPIRED.value, "updated_at": now}
                records.guarded_update(s, order, {OrderStatus.ACTIVE}, now, **expired_now)
            except Conflict:
                continue  # changed meanwhile (and so not updated): the next run looks at it again
            records.history(s, who, order, "EXPIRE", ["OrderStatus"], now)
            self.forwarding.record(s, order, order.id, order.version, who, Change.EXPIRE, now)
            expired.append(ids.public(ids.ORDER, order.id))
        return expired

    def record_change(self, s: Session, who: Principal, order: Order, action: str, changed: list[str]) -> None:
        """A new version of ``order`` in its current state, for a change outside the document
        (an attached image): the version moves on and the history says who did what."""
        now = self.clock()
        records.guarded_update(s, order, {OrderStatus(order.status)}, now, editor=who, updated_at=now)
        records.history(s, who, order, action, changed, now)

    # ------------------------------------------------------------------ reads

    def get(self, s: Session, who: Principal, order_id: str) -> Order:
        permissions.require_query(who)
        return self._visible(s, who, order_id)

    def history(self, s: Session, order: Order) -> list[OrderVersion]:
        return list(
            s.scalars(select(OrderVersion).where(OrderVersion.order_id == order.id).order_by(OrderVersion.version))
        )

    def images(self, s: Session, order: Order) -> list[Image]:
        return list(s.scalars(select(Image).where(Image.order_id == order.id).order_by(Image.id)))

    # ------------------------------------------------------------------ internals

    def _check(self, doc: OrderDocument, *, active: bool, path: str, profile: bool = False) -> None:
        found = validate_order_profile(doc.element, active=active, path=path) if profile else []
        found += rules.check(doc, active=active, today=self.calendar.date_of(self.clock()), path=path)
        if found:
            raise ValidationError(
                f"the order does not satisfy the {'ACTIVE' if active else 'DRAFT'} profile "
                f"({len(found)} problem{'s' if len(found) > 1 else ''})",
                found,
            )

    def require_changeable(
        self, s: Session, who: Principal, order: Order, *, sealed_after: bool = False, cancel: bool = False
    ) -> None:
        """The caller may change ``order`` now: permissions, then nobody else's edit lock -- except
        that the court that entered an order may always cancel it (a judicial act a sheriff's edit
        lock must not hold up; the cancel removes the lock)."""
        permissions.require_change(who, order, sealed_after=sealed_after, cancel=cancel)
        if not (cancel and order.owner_org_id == who.organization_id):
            locks.require_unlocked(s, who, order, self.clock())

    def changeable(self, s: Session, who: Principal, order_id: str) -> Order:
        """The order ``order_id``, which the caller may see and change now (else the fault why)."""
        order = self._visible(s, who, order_id)
        self.require_changeable(s, who, order)
        return order

    def lock(self, s: Session, who: Principal, order_id: str) -> locks.LockInfo:
        return locks.lock(s, who, self._visible(s, who, order_id), self.clock())

    def release(self, s: Session, who: Principal, order_id: str) -> None:
        locks.release(s, who, self._visible(s, who, order_id))

    def _visible(self, s: Session, who: Principal, order_id: str) -> Order:
        order = s.get(Order, ids.parse(ids.ORDER, order_id))
        if order is None:
            raise NotFound(f"no order {order_id}")
        permissions.require_visible(who, order, order_id)
        return order

    def _load_for_change(
        self,
        s: Session,
        who: Principal,
        order_id: str,
        version: int | None,
        allowed: frozenset[OrderStatus],
        rule: str,
        *,
        sealed_after: bool = False,
        cancel: bool = False,
    ) -> Order:
        """The order to change: visible to the caller, changeable by them (permissions, edit locks),
        in one of the ``allowed`` states -- else ``Client.InvalidState`` saying ``rule``, once: an
        illegal transition is not a lost race, so it must not reach the guarded UPDATE and come back
        as a Conflict the caller is told to retry -- and at the ``version`` the caller read."""
        if version is None:
            raise ValidationError(
                "changing an existing order needs the Version you last read",
                [Violation("Version", "required together with OrderId")],
            )
        order = self._visible(s, who, order_id)
        self.require_changeable(s, who, order, sealed_after=sealed_after, cancel=cancel)
        if OrderStatus(order.status) not in allowed:
            raise InvalidState(f"order {order_id} is {order.status}; {rule}")
        if order.version != version:
            raise Conflict(
                f"order {order_id} is at version {order.version}, not {version}: "
                "read it again (GetOrder) and re-apply your change"
            )
        return order

    def _create(
        self,
        s: Session,
        who: Principal,
        doc: OrderDocument,
        status: OrderStatus,
        action: str,
        source: Source,
        *,
        path: str,
        cloned_from: int | None = None,
        pending: records.PendingRows | None = None,
    ) -> Receipt:
        permissions.require_create(who, sealed=doc.sealed)
        if status is not OrderStatus.DRAFT:
            self._require_issuing_court(s, who.org_kind, who.ori, who.county_code, doc)
        now = self.clock()
        order = records.insert_new(s, who, doc, status, action, now, cloned_from, pending)
        link_documents(s, who, order, doc, path)
        return records.receipt_for(s, who, order, source, records.operation_of(action), now, pending)

    def _replace(
        self,
        s: Session,
        who: Principal,
        order: Order,
        doc: OrderDocument,
        action: str,
        source: Source,
        allowed: set[OrderStatus],
        new_status: OrderStatus,
        *,
        path: str,
    ) -> Receipt:
        now = self.clock()
        previous = OrderDocument.from_xml(order.document)
        if order.owner_org_id != who.organization_id:
            self._require_court_record_kept(s, order, previous, doc)
        if new_status is OrderStatus.ACTIVE:  # entering the registry, or staying in it
            owner = order.owner
            self._require_issuing_court(s, OrganizationKind(owner.kind), owner.ori, owner.county_code, doc)
        records.rewrite(s, who, order, doc, previous, action, allowed, new_status, now)
        link_documents(s, who, order, doc, path)
        return records.receipt_for(s, who, order, source, records.operation_of(action), now)

    @staticmethod
    def _require_court_record_kept(s: Session, order: Order, previous: OrderDocument, doc: OrderDocument) -> None:
        """Shared entry: the county sheriff completes the CARPOS fields of a court's order; the
        court's judicial record -- issuing court, case number, sealing -- stays the court's, and a
        draft held for the court's own correction (a DSP917 notification the rules refused) waits
        for the court."""
        kept = (
            ("issuing court", previous.court_ori, doc.court_ori, f" ({previous.court_ori})"),
            ("case number", previous.case_number, doc.case_number, f" ({previous.case_number})"),
            ("sealing", previous.sealed, doc.sealed, ""),
        )
        for what, before, after, shown in kept:
            if before != after:
                raise Forbidden(f"a sheriff completing a court's order (shared entry) cannot change its {what}{shown}")
        held = s.scalar(select(Dsp917Order.held).where(Dsp917Order.order_id == order.id))
        if order.status == OrderStatus.DRAFT.value and held:
            raise InvalidState(
                f"order {ids.public(ids.ORDER, order.id)} is held for its court's correction: the court sends the fix"
            )

    @staticmethod
    def _require_issuing_court(
        s: Session, owner_kind: OrganizationKind, owner_ori: str, owner_county: str, doc: OrderDocument
    ) -> None:
        """permissions.require_issuing_court for ``doc``. What the issuing ORI is comes from the registry,
        or, for an ORI not registered yet, from its shape (``...J`` court, ``...0000`` sheriff, else
        agency: the registry's own default); asked only when the owner is not a court (for a court,
        only its own ORI will do)."""
        court = doc.court_ori
        kind = None
        if owner_kind is not OrganizationKind.COURT:
            registered = s.scalar(select(Organization.kind).where(Organization.ori == court))
            kind = OrganizationKind(registered) if registered else default_kind_of_ori(court)
        permissions.require_issuing_court(owner_kind, owner_ori, owner_county, court, kind)


def _with_child(order: etree._Element, child: etree._Element) -> etree._Element:
    """A copy of ``order`` with ``child`` replacing any element of its name, in schema position."""
    out = copy.deepcopy(order)
    local = etree.QName(child).localname
    for old in out.findall(child.tag):
        out.remove(old)
    sequence = order_child_names()
    rank = sequence.index(local)
    for existing in out.iterchildren(etree.Element):
        if sequence.index(etree.QName(existing).localname) > rank:
            existing.addprevious(child)
            break
    else:
        out.append(child)
    return out
