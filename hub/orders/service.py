"""The order lifecycle: DRAFT -> ACTIVE -> CANCELLED / EXPIRED, with service as a fact.

Each public function is one use case. It receives the session (the unit of work opened by the
caller), the authenticated principal and validated input; it checks permissions, state and rules,
writes the new state, the history row and the idempotency receipt together, and returns a
:class:`Receipt`. Nothing here knows about SOAP.

State changes are guarded in SQL (``UPDATE ... WHERE id = :id AND version = :expected AND status IN
(...)``) so two writers can never both move the same version; the loser gets ``Client.Conflict``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import bindparam, delete, func, insert, select, true, update
from sqlalchemy.orm import Session

from hub import ids, ns
from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.clock import COURTS, Clock, CourtCalendar, utcnow
from hub.codes import (
    CancelReason,
    OrderStatus,
    OrganizationKind,
    PartyRole,
    QuickAttachStatus,
    county_code_of_ori,
    default_kind_of_ori,
)
from hub.contract import order_child_names, validate_order_profile
from hub.db.models import Image, IntakeReceipt, Order, OrderParty, OrderVersion, Organization, QuickAttach
from hub.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationError, Violation
from hub.orders import locks, rules
from hub.orders.document import OrderDocument
from hub.orders.forwarding import NO_FORWARDING, Change, Forwarding

# Statements built once: the intake hot path runs them through the connection (Core), which costs
# a fraction of the ORM unit of work for rows nothing reads back in the same transaction.
_INSERT_ORDER = insert(Order.__table__).returning(Order.__table__.c.id)
_INSERT_VERSION = insert(OrderVersion.__table__)
_INSERT_RECEIPT = insert(IntakeReceipt.__table__)
_INSERT_PARTY = insert(OrderParty.__table__)
_PARTY_STATUS = (
    update(OrderParty.__table__)
    .where(OrderParty.__table__.c.order_id == bindparam("b_order_id"))
    .values(order_status=bindparam("b_order_status"))
)
_DELETE_PARTIES = delete(OrderParty.__table__).where(OrderParty.__table__.c.order_id == bindparam("order_id"))

#: The columns of a new order's row that its use case sets (``_create``); the others keep their defaults.
_NEW_ORDER_COLUMNS = (
    "status", "version", "carpos_requested", "owner_org_id", "created_by_id", "created_at", "updated_at",
    "cloned_from_id", "document", "sealed", "served", "court_ori", "county_code", "case_number",
    "case_number_key", "form_code", "order_type_code", "issue_date", "expiration_date", "non_expiring",
)  # fmt: skip


#: The columns of a name's ``order_parties`` row that ``_party_keys`` derives from the document.
_PARTY_KEYS = ("role", "alias", "surname_key", "surname_rkey", "given_key", "given_rkey", "birth_date")


@functools.cache
def _insert_new_order() -> Any:
    """PostgreSQL: a new order's row, its names' rows and its first history row in one statement
    (data-modifying CTEs: the names and the history row take the order's id, and the history row
    its version, status, document, actor and time, from the row just inserted), so the document
    crosses the wire once and the call makes two round trips fewer; its order id. The names come
    as one array a key (``p_role``, ``p_alias`` ...), unnested into rows. Built on first use: SQLite
    workers never import the PostgreSQL dialect (~2.5 MiB each)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    orders, versions, parties = Order.__table__, OrderVersion.__table__, OrderParty.__table__
    new = (
        insert(orders)
        .values({name: bindparam(f"o_{name}") for name in _NEW_ORDER_COLUMNS})
        .returning(
            *(
                orders.c[name]
                for name in ("id", "version", "status", "sealed", "owner_org_id", "document", "created_by_id")
            ),
            orders.c.created_at,
        )
        .cte("new_order")
    )
    names = (
        func.unnest(*(bindparam(f"p_{key}", type_=ARRAY(parties.c[key].type)) for key in _PARTY_KEYS))
        .table_valued(*_PARTY_KEYS)
        .render_derived()
    )
    party_rows = select(
        new.c.id, *(names.c[key] for key in _PARTY_KEYS), new.c.status, new.c.sealed, new.c.owner_org_id
    )
    new_parties = (
        insert(parties)
        .from_select(
            ["order_id", *_PARTY_KEYS, "order_status", "sealed", "owner_org_id"],
            party_rows.select_from(new.join(names, true())),
        )
        .cte("new_parties")
    )
    history = select(
        new.c.id,
        new.c.version,
        bindparam("h_action", type_=versions.c.action.type),
        new.c.status,
        new.c.document,
        bindparam("h_changed", type_=versions.c.changed.type),
        new.c.created_by_id,
        bindparam("h_actor_name", type_=versions.c.actor_name.type),
        bindparam("h_actor_ori", type_=versions.c.actor_ori.type),
        new.c.created_at,
    )
    columns = ("order_id", "version", "action", "status", "document", "changed", "actor_id", "actor_name", "actor_ori")
    return insert(versions).from_select([*columns, "at"], history).add_cte(new_parties).returning(versions.c.order_id)


@dataclass(frozen=True)
class Receipt:
    order_id: str
    version: int
    status: OrderStatus
    served: bool
    received_at: datetime
    duplicate: bool = False
    #: The order's seal and owner at this version (None on a replayed receipt, which reads no order),
    #: so that what the call's audit event notes about them needs no second look at the order.
    sealed: bool | None = None
    owner_org_id: int | None = None


@dataclass(frozen=True)
class _NewOrder:
    """What the writes after a new order's INSERT read of its row (``_create`` makes no ORM object:
    nothing reads the new order back in its call, and the audit's note takes the receipt's facts)."""

    id: int
    version: int
    status: str
    sealed: bool
    served: bool
    owner_org_id: int
    document: str


@dataclass(frozen=True)
class Source:
    """Where a change came from, for idempotency: the partner system and its message id."""

    system: str | None
    message_id: str | None

    @property
    def keyed(self) -> bool:
        return bool(self.system and self.message_id)


_DRAFT_ONLY = frozenset({OrderStatus.DRAFT})
_ACTIVE_ONLY = frozenset({OrderStatus.ACTIVE})
_EDITABLE = frozenset({OrderStatus.DRAFT, OrderStatus.ACTIVE})
#: What completing (SubmitOrder) or re-saving (SaveDraft) an existing order needs, in words.
_COMPLETING = {
    OrderStatus.ACTIVE: "only a DRAFT is completed (SubmitOrder with OrderId); change others with ModifyOrder",
    OrderStatus.DRAFT: "only a DRAFT is saved again (SaveDraft with OrderId); change others with ModifyOrder",
}


def name_key(text: str | None) -> str:
    """The search form of a name: upper case, inner runs of spaces folded."""
    return " ".join((text or "").upper().split())


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
    ) -> Receipt:
        """A new order in ``status``, or an existing DRAFT moved to ``status`` (the schema already
        checked the profile of ``order_el``; the cross-field rules are checked here)."""
        doc = OrderDocument(order_el)
        self._check(doc, active=status is OrderStatus.ACTIVE, path=path)
        source = Source(doc.source_system, doc.source_message_id)
        if (replay := self._replay(s, who, source, _operation(action), order_id)) is not None:
            return replay
        forwarded = carpos_requested and status is OrderStatus.ACTIVE
        order = None
        if forwarded:
            self.forwarding.check(None, doc, who, Change.ENTER, path)
        if order_id is None:
            receipt = self._create(s, who, doc, status, action, source, path=path)
        else:
            order = self._load_for_change(
                s, who, order_id, version, _DRAFT_ONLY, _COMPLETING[status], sealed_after=doc.sealed
            )
            receipt = self._replace(s, who, order, doc, action, source, {OrderStatus.DRAFT}, status, path=path)
        if forwarded:
            new_id = ids.parse(ids.ORDER, receipt.order_id)
            self.forwarding.record(s, order, new_id, receipt.version, who, Change.ENTER, self.clock())
        return receipt

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
        if (replay := self._replay(s, who, source, "ModifyOrder", order_id)) is not None:
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
        if (replay := self._replay(s, who, source, "CloneOrder")) is not None:
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
        if (replay := self._replay(s, who, source, "ServeOrder", order_id)) is not None:
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
        if (replay := self._replay(s, who, source, "CancelOrder", order_id)) is not None:
            return replay
        order = self._load_for_change(
            s, who, order_id, version, _ACTIVE_ONLY, "only ACTIVE orders can be cancelled", cancel=True
        )
        now = self.clock()
        self._guarded_update(
            s,
            order,
            {OrderStatus.ACTIVE},
            status=OrderStatus.CANCELLED.value,
            locked_by_id=None,
            locked_at=None,
            lock_expires_at=None,
            cancel_reason=reason.value,
            cancel_text=text,
            updated_at=now,
        )
        self._history(s, who, order, "CANCEL", ["CancelReason"], now)
        self.forwarding.record(s, order, order.id, order.version, who, Change.CANCEL, now, reason)
        return self._receipt_for(s, who, order, source, "CancelOrder", now)

    def expire_due(self, s: Session, who: Principal) -> list[str]:
        """ACTIVE orders whose last day in force (expiration date, a California date) is over become
        EXPIRED (a version each): an order expiring today is in force until midnight Pacific."""
        now = self.clock()
        today = self.calendar.date_of(now)
        due = s.scalars(
            select(Order).where(Order.status == OrderStatus.ACTIVE.value, Order.expiration_date < today)
        ).all()
        expired = []
        for order in due:
            try:
                self._guarded_update(s, order, {OrderStatus.ACTIVE}, status=OrderStatus.EXPIRED.value, updated_at=now)
            except Conflict:
                continue  # changed meanwhile (and so not updated): the next run looks at it again
            self._history(s, who, order, "EXPIRE", ["OrderStatus"], now)
            expired.append(ids.public(ids.ORDER, order.id))
        return expired

    def record_change(self, s: Session, who: Principal, order: Order, action: str, changed: list[str]) -> None:
        """A new version of ``order`` in its current state, for a change outside the document
        (an attached image): the version moves on and the history says who did what."""
        now = self.clock()
        self._guarded_update(s, order, {OrderStatus(order.status)}, editor=who, updated_at=now)
        self._history(s, who, order, action, changed, now)

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

    def _replay(
        self, s: Session, who: Principal, source: Source, operation: str, order_id: str | None = None
    ) -> Receipt | None:
        """The original receipt if this message id was seen (for the same operation and order)."""
        if not source.keyed:
            return None
        row = s.scalar(
            select(IntakeReceipt).where(
                IntakeReceipt.organization_id == who.organization_id,
                IntakeReceipt.source_system == source.system,
                IntakeReceipt.source_message_id == source.message_id,
            )
        )
        if row is None:
            return None
        if order_id is not None and ids.public(ids.ORDER, row.order_id) != order_id:
            raise Conflict(
                f"message id {source.message_id} from {source.system} was already used for order "
                f"{ids.public(ids.ORDER, row.order_id)}; every message needs its own id"
            )
        if row.operation != operation:
            raise Conflict(
                f"message id {source.message_id} from {source.system} was already used for "
                f"{row.operation}; every message needs its own id"
            )
        ver = s.scalar(
            select(OrderVersion).where(OrderVersion.order_id == row.order_id, OrderVersion.version == row.version)
        )
        assert ver is not None  # written in the same transaction as the receipt
        return Receipt(
            ids.public(ids.ORDER, row.order_id),
            row.version,
            OrderStatus(ver.status),
            served=_served(ver.document),
            received_at=row.at,
            duplicate=True,
        )

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
    ) -> Receipt:
        permissions.require_create(who, sealed=doc.sealed)
        if status is OrderStatus.ACTIVE:
            self._require_issuing_court(s, who.org_kind, who.ori, who.county_code, doc)
        # Everything the writes need is derived from the document before the first of them: on
        # SQLite that statement takes the database's one write lock, held to COMMIT.
        parties, changed = _party_keys(doc), doc.changed_elements(None)
        now = self.clock()
        values = dict(
            status=status.value,
            version=1,
            carpos_requested=False,
            owner_org_id=who.organization_id,
            created_by_id=who.account_id,
            created_at=now,
            updated_at=now,
            cloned_from_id=cloned_from,
            **_columns(doc),
        )
        # One Core INSERT ... RETURNING id instead of the ORM unit of work (the intake hot path), and
        # no ORM object for the new row: building one and joining it to the session cost ~5 % of a
        # SubmitOrder. Nothing in the call reads the order back; the audit's note of a privilege used
        # (OrdersApi._permission_note) takes the seal and owner from the receipt.
        connection = s.connection()
        together = connection.dialect.name == "postgresql"  # the names and history in the same statement
        if together:
            params = {f"o_{name}": value for name, value in values.items()}
            params |= {f"p_{key}": [party[key] for party in parties] for key in _PARTY_KEYS}
            params |= {"h_action": action, "h_changed": "\n".join(changed), "h_actor_name": who.username}
            new_id = connection.execute(_insert_new_order(), params | {"h_actor_ori": who.ori}).scalar_one()
        else:
            new_id = connection.execute(_INSERT_ORDER, values).scalar_one()
        order = _NewOrder(new_id, 1, status.value, doc.sealed, doc.served, who.organization_id, values["document"])
        self._link_documents(s, who, order, doc, path)
        if not together:
            _insert_parties(s, order, parties)  # a new order has none to replace
            self._history(s, who, order, action, changed, now)
        return self._receipt_for(s, who, order, source, _operation(action), now)

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
        if order.owner_org_id != who.organization_id and doc.court_ori != previous.court_ori:
            raise Forbidden(
                "a sheriff completing a court's order (shared entry) cannot change its issuing court "
                f"({previous.court_ori})"
            )
        if new_status is OrderStatus.ACTIVE:  # entering the registry, or staying in it
            owner = order.owner
            self._require_issuing_court(s, OrganizationKind(owner.kind), owner.ori, owner.county_code, doc)
        parties, changed, columns = _party_keys(doc), doc.changed_elements(previous), _columns(doc)  # see _create
        self._guarded_update(s, order, allowed, editor=who, status=new_status.value, updated_at=now, **columns)
        self._link_documents(s, who, order, doc, path)
        s.connection().execute(_DELETE_PARTIES, {"order_id": order.id})
        _insert_parties(s, order, parties)
        self._history(s, who, order, action, changed, now)
        return self._receipt_for(s, who, order, source, _operation(action), now)

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

    def _guarded_update(
        self,
        s: Session,
        order: Order,
        allowed: Iterable[OrderStatus],
        editor: Principal | None = None,
        **values: object,
    ) -> None:
        """Move ``order`` to its next version if it is still at the version and in a state we read,
        and (for a user's change, ``editor``) nobody else holds an edit lock on it."""
        expected = order.version
        guards = [Order.id == order.id, Order.version == expected, Order.status.in_([a.value for a in allowed])]
        if editor is not None:
            guards.append(locks.unlocked_for(editor.account_id, self.clock()))
        result = s.execute(
            update(Order)
            .where(*guards)
            .values(version=expected + 1, **values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"order {ids.public(ids.ORDER, order.id)} changed meanwhile: read it again and retry")
        if "status" in values:
            s.connection().execute(_PARTY_STATUS, {"b_order_id": order.id, "b_order_status": values["status"]})
        s.refresh(order)

    def _history(
        self, s: Session, who: Principal, order: Order | _NewOrder, action: str, changed: list[str], now: datetime
    ) -> None:
        s.connection().execute(
            _INSERT_VERSION,
            dict(
                order_id=order.id,
                version=order.version,
                action=action,
                status=order.status,
                document=order.document,
                changed="\n".join(changed),
                actor_id=who.account_id,
                actor_name=who.username,
                actor_ori=who.ori,
                at=now,
            ),
        )

    def _receipt_for(
        self, s: Session, who: Principal, order: Order | _NewOrder, source: Source, operation: str, now: datetime
    ) -> Receipt:
        if source.keyed:
            s.connection().execute(
                _INSERT_RECEIPT,
                dict(
                    organization_id=who.organization_id,
                    source_system=source.system,
                    source_message_id=source.message_id,
                    operation=operation,
                    order_id=order.id,
                    version=order.version,
                    at=now,
                ),
            )
        s.flush()
        return Receipt(
            ids.public(ids.ORDER, order.id),
            order.version,
            OrderStatus(order.status),
            order.served,
            now,
            sealed=order.sealed,
            owner_org_id=order.owner_org_id,
        )

    def _link_documents(
        self, s: Session, who: Principal, order: Order | _NewOrder, doc: OrderDocument, path: str
    ) -> None:
        """Attach referenced images; convert referenced quick attaches into this order."""
        problems: list[Violation] = []
        for i, (image_id, qa_id) in enumerate(doc.document_references, start=1):
            where = f"{path}/ord:DocumentReference[{i}]"
            if image_id:
                image = _find(s, Image, ids.IMAGE, image_id)
                quick = image is not None and s.scalar(select(QuickAttach.id).where(QuickAttach.image_id == image.id))
                if (
                    image is None
                    or quick
                    or image.owner_org_id != who.organization_id
                    or image.order_id not in (None, order.id)
                ):
                    problems.append(
                        Violation(
                            f"{where}/ord:ImageId",
                            f"no unattached image {image_id} of your organization "
                            "(a quick attach's image is named by its QuickAttachId)",
                        )
                    )
                    continue
                image.order_id = order.id
            elif qa_id:
                qa = _find(s, QuickAttach, ids.QUICK_ATTACH, qa_id)
                if qa is None or qa.county_code != who.county_code:
                    problems.append(Violation(f"{where}/ord:QuickAttachId", f"no quick attach {qa_id} in your county"))
                    continue
                if qa.status == QuickAttachStatus.CONVERTED.value and qa.converted_order_id != order.id:
                    problems.append(
                        Violation(
                            f"{where}/ord:QuickAttachId",
                            f"quick attach {qa_id} was already converted into another order",
                        )
                    )
                    continue
                if qa.image.order_id not in (None, order.id):
                    problems.append(
                        Violation(
                            f"{where}/ord:QuickAttachId", f"the image of quick attach {qa_id} belongs to another order"
                        )
                    )
                    continue
                qa.status, qa.converted_order_id = QuickAttachStatus.CONVERTED.value, order.id
                qa.image.order_id = order.id
        if problems:
            raise ValidationError("a DocumentReference names an image the order cannot use", problems)


def _party_keys(doc: OrderDocument) -> list[dict[str, object]]:
    """The search keys of every name in ``doc`` (the rows of ``order_parties`` but the order's)."""
    keys = []
    for party in doc.parties():
        surname, given = name_key(party.name.surname), name_key(party.name.given)
        keys.append(
            dict(
                role=PartyRole(party.role).value,
                alias=party.alias,
                surname_key=surname,
                surname_rkey=surname[::-1],
                given_key=given,
                given_rkey=given[::-1],
                birth_date=party.birth_date,
            )
        )
    return keys


def _insert_parties(s: Session, order: Order | _NewOrder, keys: list[dict[str, object]]) -> None:
    """The order's ``order_parties`` rows: its names' keys, with its status, seal and owner repeated."""
    if keys:
        repeated = dict(
            order_id=order.id, order_status=order.status, sealed=order.sealed, owner_org_id=order.owner_org_id
        )
        s.connection().execute(_INSERT_PARTY, [{**k, **repeated} for k in keys])


def _find(s: Session, model: type, kind: str, public_id: str):  # type: ignore[no-untyped-def]
    try:
        return s.get(model, ids.parse(kind, public_id))
    except NotFound:
        return None


def _columns(doc: OrderDocument) -> dict[str, object]:
    """The searchable columns of ``orders`` derived from the document."""
    ori = doc.court_ori
    return dict(
        document=doc.to_xml(),
        sealed=doc.sealed,
        served=doc.served,
        court_ori=ori,
        county_code=county_code_of_ori(ori),
        case_number=doc.case_number,
        case_number_key=name_key(doc.case_number),
        form_code=doc.form_code,
        order_type_code=doc.order_type_code,
        issue_date=doc.issue_date,
        expiration_date=doc.expiration_date,
        non_expiring=doc.non_expiring,
    )


_OPERATIONS = {
    "SUBMIT": "SubmitOrder",
    "SAVE_DRAFT": "SaveDraft",
    "MODIFY": "ModifyOrder",
    "CLONE": "CloneOrder",
    "SERVE": "ServeOrder",
    "CANCEL": "CancelOrder",
}


def _operation(action: str) -> str:
    return _OPERATIONS[action]


def _served(document: str) -> bool:
    return OrderDocument.from_xml(document).served


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
