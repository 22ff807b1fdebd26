"""Search Orders with the user guide's rules, on indexes.

The rules users rely on (DOMAIN.md section 1):

* ``%`` matches any run of characters: ``M%`` finds MOUSE and MAJORS, ``%SE`` finds MOUSE and GEESE.
* ``_`` matches one character **only when the text also contains** ``%``; otherwise the text is
  matched literally: ``M__SE`` finds only "M__SE", ``M__SE%`` finds MOUSE and MOOSE.
* Case does not matter; ``*`` and ``?`` are ordinary characters.
* 25 results a page, with the total, the page number, the next and the last page.

How it stays fast: names are stored upper-cased (``*_key``) and reversed (``*_rkey``) in
``order_parties``. A pattern's leading literal run becomes a range on the key index
(``key >= 'MO' AND key < 'MP'``), or, when it starts with ``%``, its trailing literal run becomes
a range on the reversed index; the full pattern is then checked with LIKE on the few rows the
range yields. Only a pattern with no literal run at either end (``%A%``) reads every name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.accounts import permissions
from hub.accounts.service import Principal
from hub.clock import COURTS, CourtCalendar
from hub.codes import OrderStatus, OrganizationKind
from hub.db.models import Dsp917Order, Order, OrderParty, Organization, QuickAttach
from hub.db.types import UTCDateTime
from hub.errors import Forbidden


@dataclass(frozen=True)
class Pattern:
    """A user's search text, parsed once by the rules above."""

    text: str  # upper-cased

    @classmethod
    def of(cls, raw: str) -> Pattern:
        return cls(" ".join(raw.upper().split()))

    @property
    def wildcard(self) -> bool:
        return "%" in self.text

    @property
    def head(self) -> str:
        """The literal run before the first wildcard (the whole text when there is none)."""
        if not self.wildcard:
            return self.text
        cut = min(i for i in (self.text.find("%"), self.text.find("_")) if i >= 0)
        return self.text[:cut]

    @property
    def tail(self) -> str:
        """The literal run after the last wildcard."""
        if not self.wildcard:
            return self.text
        cut = max(self.text.rfind("%"), self.text.rfind("_"))
        return self.text[cut + 1 :]

    def like(self) -> str:
        """The SQL LIKE pattern: %, _ keep their meaning; backslash is the escape character."""
        return self.text.replace("\\", "\\\\")

    def condition(
        self, key: InstrumentedAttribute[Any], rkey: InstrumentedAttribute[Any] | None = None
    ) -> ColumnElement[bool]:
        """A WHERE condition that an index on ``key`` (or ``rkey``) can drive."""
        if not self.wildcard:
            return key == self.text
        if self.head:
            return and_(*_prefix_range(key, self.head), key.like(self.like(), escape="\\"))
        if self.tail and rkey is not None:
            # Reversed text, reversed pattern: '%SON' on MADISON is 'NOS%' on NOSIDAM, so both the
            # range and the LIKE are answered from the reversed column's index alone.
            reverse = Pattern(self.text[::-1])
            return and_(*_prefix_range(rkey, reverse.head), rkey.like(reverse.like(), escape="\\"))
        return key.like(self.like(), escape="\\")


def _prefix_range(column: InstrumentedAttribute[Any], prefix: str) -> tuple[ColumnElement[bool], ...]:
    """``prefix <= column < next(prefix)``: an index range scan on every database (C collation)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (column >= prefix, column < upper)


@dataclass(frozen=True)
class Criteria:
    surname: str | None = None
    given: str | None = None
    party_role: str | None = None  # RESTRAINED, PROTECTED or ANY/None
    birth_date: date | None = None
    case_number: str | None = None
    court_ori: str | None = None
    county_code: str | None = None
    order_type: str | None = None
    status: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    expires_from: date | None = None
    expires_to: date | None = None


@dataclass(frozen=True)
class Page:
    total: int
    number: int
    size: int
    items: list[Any]

    @property
    def last(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.last else None


def paginate(s: Session, query: Select[Any], number: int, size: int, *order_by: Any) -> Page:
    total = s.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(s.scalars(query.order_by(*order_by).limit(size).offset((number - 1) * size)))
    return Page(total, number, size, items)


def search_orders(s: Session, who: Principal, c: Criteria, page: int, size: int) -> Page:
    """One page of the orders matching ``c`` that ``who`` may see (sealed ones come back redacted).

    Newest orders first. A search by name (with at most a status filter) is answered from the
    covering name indexes of ``order_parties``: the count and the page's 25 order ids come from
    the index alone, and only those 25 orders are read. Other filters join ``orders``.
    """
    permissions.require_query(who)
    by_name = name_search(who, c, page, size)
    if by_name is not None:
        count_query, ids_query = by_name
        total = s.scalar(count_query) or 0
        page_ids = list(s.scalars(ids_query))
        found = {o.id: o for o in s.scalars(select(Order).where(Order.id.in_(page_ids)))} if page_ids else {}
        return Page(total, page, size, [found[i] for i in page_ids if i in found])
    return paginate(s, orders_query(who, c), page, size, Order.id.desc())


def name_search(who: Principal, c: Criteria, page: int, size: int) -> tuple[Select[Any], Select[Any]] | None:
    """(count, page ids) queries on ``order_parties`` alone, or None when ``orders`` is needed."""
    party = party_conditions(who, c)
    if party is None or _order_conditions(c):
        return None
    ids = select(OrderParty.order_id).where(*party).group_by(OrderParty.order_id)
    count = select(func.count()).select_from(ids.subquery())
    return count, ids.order_by(OrderParty.order_id.desc()).limit(size).offset((page - 1) * size)


def party_conditions(who: Principal, c: Criteria) -> list[ColumnElement[bool]] | None:
    """Conditions on ``order_parties`` for the name, DOB, role and status criteria (None: no name/DOB)."""
    party: list[ColumnElement[bool]] = []
    if c.surname:
        party.append(Pattern.of(c.surname).condition(OrderParty.surname_key, OrderParty.surname_rkey))
    if c.given:
        party.append(Pattern.of(c.given).condition(OrderParty.given_key, OrderParty.given_rkey))
    if c.birth_date:
        party.append(OrderParty.birth_date == c.birth_date)
    if not party:
        return None
    if c.party_role in ("RESTRAINED", "PROTECTED"):
        party.append(OrderParty.role == c.party_role)
    if c.status:
        party.append(OrderParty.order_status == c.status)
    if not who.role.sees_sealed:
        # Matching a sealed order on a party's name or birth date would itself reveal them.
        party.append(OrderParty.sealed.is_(False))
    party.append(
        or_(OrderParty.order_status != OrderStatus.DRAFT.value, OrderParty.owner_org_id == who.organization_id)
    )
    return party


def _order_conditions(c: Criteria) -> list[ColumnElement[bool]]:
    """Conditions only ``orders`` can answer (status is left to the caller: parties carry it too)."""
    conds: list[ColumnElement[bool]] = []
    if c.case_number:
        conds.append(Pattern.of(c.case_number).condition(Order.case_number_key))
    for column, value in (
        (Order.court_ori, c.court_ori),
        (Order.county_code, c.county_code),
        (Order.order_type_code, c.order_type),
    ):
        if value:
            conds.append(column == value)
    for column, low, high in (
        (Order.issue_date, c.issued_from, c.issued_to),
        (Order.expiration_date, c.expires_from, c.expires_to),
    ):
        if low:
            conds.append(column >= low)
        if high:
            conds.append(column <= high)
    return conds


def _reveals_details(c: Criteria) -> bool:
    """Whether a match on ``c`` would tell something the redacted stub of a sealed order hides
    (the stub shows identifier, status, court and county only)."""
    return any(
        (
            c.surname,
            c.given,
            c.birth_date,
            c.case_number,
            c.order_type,
            c.issued_from,
            c.issued_to,
            c.expires_from,
            c.expires_to,
        )
    )


def orders_query(who: Principal, c: Criteria) -> Select[Any]:
    """The SELECT behind a search that needs ``orders`` columns (exposed so tests can EXPLAIN it)."""
    q = select(Order).where(
        or_(Order.status != OrderStatus.DRAFT.value, Order.owner_org_id == who.organization_id),
        *_order_conditions(c),
    )
    if c.status:
        q = q.where(Order.status == c.status)
    if not who.role.sees_sealed and _reveals_details(c):
        q = q.where(Order.sealed.is_(False))
    party = party_conditions(who, c)
    if party is not None:
        q = q.where(Order.id.in_(select(OrderParty.order_id).where(*party)))
    return q


def awaiting_completion(s: Session, who: Principal, court_ori: str | None, page: int, size: int) -> Page:
    """ListAwaitingCompletion: the county sheriff's shared-entry work queue (docs/SECURITY.md,
    "Shared entry"). An order awaits completion when a court of the caller's county entered it (it
    is the owner), it is a DRAFT -- the basics a court scanned and entered, which the sheriff
    completes and submits (SubmitOrder with its OrderId and SubmitToCarposIndicator) -- and it is
    not held for the court's own correction (a DSP917 notification the rules refused: the court
    sends the fix). Sealed ones only to SEALED roles. Oldest first: the order the court entered them."""
    permissions.require_update(who)
    if who.org_kind != OrganizationKind.SHERIFF:
        raise Forbidden(
            "the work queue is a county sheriff's (shared entry): a court completes its own drafts (SearchOrders)"
        )
    return paginate(s, awaiting_query(who, court_ori), page, size, Order.created_at, Order.id)


def awaiting_query(who: Principal, court_ori: str | None) -> Select[Any]:
    """The SELECT behind :func:`awaiting_completion`: the drafts whose owner is one of the county's
    courts (the index ``orders (owner_org_id, status, created_at, id)`` is there for it)."""
    held = exists(select(Dsp917Order.id).where(Dsp917Order.order_id == Order.id, Dsp917Order.held != ""))
    courts = select(Organization.id).where(
        Organization.kind == OrganizationKind.COURT.value, Organization.county_code == who.county_code
    )
    if court_ori:
        courts = courts.where(Organization.ori == court_ori)
    q = select(Order).where(Order.owner_org_id.in_(courts), Order.status == OrderStatus.DRAFT.value, ~held)
    if not who.role.sees_sealed:
        q = q.where(Order.sealed.is_(False))
    return q


def search_quick_attaches(
    s: Session,
    who: Principal,
    *,
    case_number: str | None,
    surname: str | None,
    status: str | None,
    uploaded_from: date | None,
    uploaded_to: date | None,
    page: int,
    size: int,
    calendar: CourtCalendar = COURTS,
) -> Page:
    """Quick attaches of the caller's county only (DOMAIN.md: searchable within the court's county)."""
    permissions.require_query(who)
    # A converted quick attach shows its order's case, name and image: list it only where that
    # order itself may be seen in detail (not another organization's draft, not a sealed order
    # for a role without SEALED).
    order_visible = and_(
        or_(Order.status != OrderStatus.DRAFT.value, Order.owner_org_id == who.organization_id),
        true() if who.role.sees_sealed else Order.sealed.is_(False),
    )
    q = (
        select(QuickAttach)
        .outerjoin(Order, Order.id == QuickAttach.converted_order_id)
        .where(QuickAttach.county_code == who.county_code, or_(QuickAttach.converted_order_id.is_(None), order_visible))
    )
    if case_number:
        q = q.where(Pattern.of(case_number).condition(QuickAttach.case_number_key))
    if surname:
        q = q.where(Pattern.of(surname).condition(QuickAttach.surname_key))  # type: ignore[arg-type]
    if status:
        q = q.where(QuickAttach.status == status)
    # Upload dates are the courts' calendar dates: the span of each day in California, as instants.
    if uploaded_from:
        q = q.where(QuickAttach.created_at >= bindparam("b_from", calendar.start_of(uploaded_from), UTCDateTime()))
    if uploaded_to:
        q = q.where(QuickAttach.created_at < bindparam("b_to", calendar.end_of(uploaded_to), UTCDateTime()))
    return paginate(s, q, page, size, QuickAttach.id.desc())
