"""The five monthly reports CCPOR sends every court in the first week of the month, computed in SQL.

A month is a California calendar month (the courts' time zone, ``CCPOR_COURT_TIMEZONE``): its span
is local midnight of the 1st to local midnight of the next 1st, whatever the UTC offset. What each
report counts (docs/OPERATIONS.md, "Monthly reports", is the clerk's version):

- **Volume Summary by Court**: what happened to each court's orders during the month -- the order
  history's actions (entered in force, drafts saved, modified, cloned, served, cancelled, expired,
  held for correction, an image added to an order later), the images stored (inline ones
  included), and the court's CARPOS transactions sent, accepted and rejected by DOJ in the month.
- **Orders by Type Summary**: per court and order type, the orders issued in the month (their issue
  date, itself a court date) and the orders in force at the month's end.
- **Total Record Count**: per court, the registry's records at the month's end by their status then
  (the last history row before the end), and the images held.
- **Order Count by User**: per account (as recorded in the history, with its ORI), the actions it
  took on the court's orders during the month.
- **Aging Report**: the orders in force at the month's end by time since their issue date, counted
  on the month's last day (0-30 days, 31-90, 91-180, 181-365, 1-3 years, over 3 years, no issue
  date); and the CARPOS transactions queued during the month by how long DOJ took to accept them
  (within 1 hour, 1-24 hours, 1-7 days, over 7 days), or what became of them instead (rejected,
  still waiting at the month's end, not delivered).

"The court" of an order is its issuing court (``orders.court_ori``). With a court given, every
report covers that court's orders only; without, every court with a row, then the statewide total.
Nothing here loads an order: each figure is a GROUP BY over indexed columns (migration 0011 adds
the history's index by time).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from hub.clock import COURTS, CourtCalendar
from hub.codes import OrderStatus, OutboxState
from hub.db.models import Image, Order, OrderVersion, Organization, OutboxMessage

CARPOS = "CARPOS"  # the outbox kind of a CARPOS transaction (hub.outbox.kinds)
STATEWIDE = "ALL"  # the total row's court column

#: The history's actions, in the volume report's column order, with the column's name.
ACTIONS: tuple[tuple[str, str], ...] = (
    ("SUBMIT", "Entered in force"),
    ("SAVE_DRAFT", "Drafts saved"),
    ("MODIFY", "Modified"),
    ("CLONE", "Cloned"),
    ("SERVE", "Served"),
    ("CANCEL", "Cancelled"),
    ("EXPIRE", "Expired"),
    ("HOLD", "Held for correction"),
    ("ATTACH_IMAGE", "Image added later"),
    ("LOAD", "Historical orders loaded"),
)

#: Time since issue, on the month's last day: (label, the oldest issue date's distance in days).
SINCE_ISSUE: tuple[tuple[str, int], ...] = (
    ("0-30 days", 30),
    ("31-90 days", 90),
    ("91-180 days", 180),
    ("181-365 days", 365),
    ("1-3 years", 3 * 365),
)
OVER_3_YEARS, NO_ISSUE_DATE = "over 3 years", "no issue date"

#: Time from queuing a CARPOS transaction to DOJ's acceptance: (label, upper bound in hours).
CARPOS_WAIT: tuple[tuple[str, float], ...] = (
    ("accepted within 1 hour", 1),
    ("accepted in 1-24 hours", 24),
    ("accepted in 1-7 days", 7 * 24),
)
OVER_7_DAYS = "accepted after 7 days"
REJECTED = "rejected"
WAITING = "waiting at month end"
NOT_DELIVERED = "not delivered (dead or superseded)"

_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.fullmatch(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"{text!r} is not a month: write it as YYYY-MM (2026-11)")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def before(cls, day: date) -> Month:
        """The month before ``day``'s (the one the reports of the 1st cover)."""
        last = day.replace(day=1) - timedelta(days=1)
        return cls(last.year, last.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def last(self) -> date:
        return self.next_first - timedelta(days=1)

    def span(self, calendar: CourtCalendar) -> tuple[datetime, datetime]:
        """The month's first instant and the next month's first instant (UTC), in the courts' zone."""
        return calendar.start_of(self.first), calendar.start_of(self.next_first)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Table:
    """One report: a file name, a title, its columns and rows (the last a total where it has one)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


@dataclass(frozen=True)
class Reports:
    month: Month
    court: str | None
    zone: str
    generated_at: datetime
    tables: list[Table] = field(default_factory=list)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def monthly(
    s: Session, month: Month, now: datetime, *, court: str | None = None, calendar: CourtCalendar = COURTS
) -> Reports:
    """The month's five reports, for one court (its ORI) or statewide."""
    start, end = month.span(calendar)
    q = _Queries(s, start, end, court)
    return Reports(
        month,
        court,
        calendar.zone_name,
        now,
        [
            _volume(q),
            _by_type(q, month),
            _record_count(q),
            _by_user(q),
            _aging(q, month),
        ],
    )


@dataclass(frozen=True)
class _Queries:
    s: Session
    start: datetime
    end: datetime
    court: str | None

    def scoped(self, stmt: Any) -> Any:
        return stmt if self.court is None else stmt.where(Order.court_ori == self.court)

    def rows(self, stmt: Any) -> list[Any]:
        return list(self.s.execute(self.scoped(stmt)))

    def names(self) -> dict[str, str]:
        return dict(self.s.execute(select(Organization.ori, Organization.name)).all())

    def state_at_end(self) -> Any:
        """Each order's status at the month's end: its last history row before the end."""
        later = aliased(OrderVersion)
        newest = (
            select(func.max(later.version))
            .where(later.order_id == OrderVersion.order_id, later.at < self.end)
            .scalar_subquery()
        )
        return (
            select(OrderVersion.order_id, OrderVersion.status)
            .where(OrderVersion.at < self.end, OrderVersion.version == newest)
            .subquery("at_end")
        )

    def hours(self, later: Any, earlier: Any) -> ColumnElement[Any]:
        """``later - earlier`` in hours, as this database computes it."""
        if self.s.get_bind().dialect.name == "sqlite":
            return (func.julianday(later) - func.julianday(earlier)) * 24.0
        return func.extract("epoch", later - earlier) / 3600.0


def _grid(
    keys: Iterable[tuple[Any, ...]], columns: Sequence[str], counts: dict[tuple[Any, ...], dict[str, int]]
) -> list[tuple[Any, ...]]:
    return [(*key, *(counts.get(key, {}).get(c, 0) for c in columns)) for key in keys]


def _with_total(rows: list[tuple[Any, ...]], lead: int, court: str | None) -> list[tuple[Any, ...]]:
    """The rows, then (statewide only) a total row: ALL, blanks for the other key columns, the sums."""
    if court is not None or not rows:
        return rows
    width = len(rows[0])
    sums = tuple(sum(row[i] for row in rows) for i in range(lead, width))
    return [*rows, (STATEWIDE, *([""] * (lead - 1)), *sums)]


def _volume(q: _Queries) -> Table:
    counts: dict[tuple[Any, ...], dict[str, int]] = {}

    def add(rows: Iterable[Any]) -> None:
        for ori, column, n in rows:
            counts.setdefault((ori,), {})[column] = counts.get((ori,), {}).get(column, 0) + int(n)

    in_month = and_(OrderVersion.at >= q.start, OrderVersion.at < q.end)
    add(
        q.rows(
            select(Order.court_ori, OrderVersion.action, func.count())
            .select_from(OrderVersion)
            .select_from(OrderVersion)
            .join(Order, Order.id == OrderVersion.order_id)
            .where(in_month)
            .group_by(Order.court_ori, OrderVersion.action)
        )
    )
    add(
        q.rows(
            select(Order.court_ori, literal("IMAGES"), func.count())
            .select_from(Image)
            .join(Order, Order.id == Image.order_id)
            .where(Image.created_at >= q.start, Image.created_at < q.end)
            .group_by(Order.court_ori)
        )
    )
    carpos = and_(OutboxMessage.kind == CARPOS, OutboxMessage.order_id == Order.id)
    for column, moment, states in (
        ("CARPOS_SENT", OutboxMessage.sent_at, None),
        ("CARPOS_ACCEPTED", OutboxMessage.answered_at, (OutboxState.ACCEPTED.value,)),
        ("CARPOS_REJECTED", OutboxMessage.answered_at, (OutboxState.REJECTED.value,)),
    ):
        stmt = (
            select(Order.court_ori, literal(column), func.count())
            .select_from(OutboxMessage)
            .join(Order, carpos)
            .where(moment >= q.start, moment < q.end)
            .group_by(Order.court_ori)
        )
        add(q.rows(stmt if states is None else stmt.where(OutboxMessage.state.in_(states))))
    keys = sorted(counts)
    names = q.names()
    cols = [a for a, _ in ACTIONS] + ["IMAGES", "CARPOS_SENT", "CARPOS_ACCEPTED", "CARPOS_REJECTED"]
    rows = [(key[0], names.get(key[0], ""), *row[1:]) for key, row in zip(keys, _grid(keys, cols, counts), strict=True)]
    return Table(
        "volume-by-court",
        "Volume Summary by Court",
        (
            "Court",
            "Court name",
            *(title for _, title in ACTIONS),
            "Images stored",
            "CARPOS sent",
            "CARPOS accepted",
            "CARPOS rejected",
        ),  # fmt: skip
        _with_total(rows, 2, q.court),
    )


def _by_type(q: _Queries, month: Month) -> Table:
    counts: dict[tuple[Any, ...], dict[str, int]] = {}
    order_type = func.coalesce(Order.order_type_code, "")
    issued = q.rows(
        select(Order.court_ori, order_type, func.count())
        .where(Order.issue_date >= month.first, Order.issue_date <= month.last)
        .group_by(Order.court_ori, order_type)
    )
    at_end = q.state_at_end()
    in_force = q.rows(
        select(Order.court_ori, order_type, func.count())
        .join(at_end, at_end.c.order_id == Order.id)
        .where(at_end.c.status == OrderStatus.ACTIVE.value)
        .group_by(Order.court_ori, order_type)
    )
    for column, rows in (("issued", issued), ("in_force", in_force)):
        for ori, kind, n in rows:
            counts.setdefault((ori, kind or "(none)"), {})[column] = int(n)
    keys = sorted(counts)
    return Table(
        "orders-by-type",
        "Orders by Type Summary",
        ("Court", "Order type", "Issued this month", "In force at month end"),
        _with_total(_grid(keys, ("issued", "in_force"), counts), 2, q.court),
    )


def _record_count(q: _Queries) -> Table:
    statuses = [s.value for s in OrderStatus]
    counts: dict[tuple[Any, ...], dict[str, int]] = {}
    at_end = q.state_at_end()
    for ori, status, n in q.rows(
        select(Order.court_ori, at_end.c.status, func.count())
        .join(at_end, at_end.c.order_id == Order.id)
        .group_by(Order.court_ori, at_end.c.status)
    ):
        counts.setdefault((ori,), {})[status] = int(n)
    for ori, n in q.rows(
        select(Order.court_ori, func.count())
        .select_from(Image)
        .join(Order, Order.id == Image.order_id)
        .where(Image.created_at < q.end)
        .group_by(Order.court_ori)
    ):
        counts.setdefault((ori,), {})["IMAGES"] = int(n)
    keys = sorted(counts)
    rows = [(*row[:-1], sum(row[1:-1]), row[-1]) for row in _grid(keys, [*statuses, "IMAGES"], counts)]
    return Table(
        "total-record-count",
        "Total Record Count",
        ("Court", *(s.title() for s in statuses), "Total orders", "Images"),
        _with_total(rows, 1, q.court),
    )


def _by_user(q: _Queries) -> Table:
    counts: dict[tuple[Any, ...], dict[str, int]] = {}
    for ori, name, action, n in q.rows(
        select(OrderVersion.actor_ori, OrderVersion.actor_name, OrderVersion.action, func.count())
        .select_from(OrderVersion)
        .join(Order, Order.id == OrderVersion.order_id)
        .where(OrderVersion.at >= q.start, OrderVersion.at < q.end)
        .group_by(OrderVersion.actor_ori, OrderVersion.actor_name, OrderVersion.action)
    ):
        counts.setdefault((ori, name), {})[action] = int(n)
    keys = sorted(counts)
    rows = [(*row, sum(row[2:])) for row in _grid(keys, [a for a, _ in ACTIONS], counts)]
    return Table(
        "order-count-by-user",
        "Order Count by User",
        ("User ORI", "User", *(title for _, title in ACTIONS), "Total"),
        _with_total(rows, 2, q.court),
    )


def _aging(q: _Queries, month: Month) -> Table:
    at_end = q.state_at_end()
    whens = [(Order.issue_date.is_(None), NO_ISSUE_DATE)]
    whens += [(Order.issue_date >= month.last - timedelta(days=days), label) for label, days in SINCE_ISSUE]
    since_issue = case(*whens, else_=OVER_3_YEARS)
    issue_rows = q.rows(
        select(Order.court_ori, since_issue, func.count())
        .join(at_end, at_end.c.order_id == Order.id)
        .where(at_end.c.status == OrderStatus.ACTIVE.value)
        .group_by(Order.court_ori, since_issue)
    )
    waited = q.hours(OutboxMessage.answered_at, OutboxMessage.created_at)
    answered = and_(OutboxMessage.answered_at.is_not(None), OutboxMessage.answered_at < q.end)
    accepted = and_(answered, OutboxMessage.state == OutboxState.ACCEPTED.value)
    wait = case(
        *[(and_(accepted, waited <= hours), label) for label, hours in CARPOS_WAIT],
        (accepted, OVER_7_DAYS),
        (and_(answered, OutboxMessage.state == OutboxState.REJECTED.value), REJECTED),
        (
            # Given up before the month's end (its last change is when it went DEAD or SUPERSEDED): one
            # that died later was still waiting at the end, and a past month's report stays as it was.
            and_(
                OutboxMessage.state.in_((OutboxState.DEAD.value, OutboxState.SUPERSEDED.value)),
                OutboxMessage.updated_at < q.end,
            ),
            NOT_DELIVERED,
        ),
        else_=WAITING,
    )
    wait_rows = q.rows(
        select(Order.court_ori, wait, func.count())
        .select_from(OutboxMessage)
        .join(Order, Order.id == OutboxMessage.order_id)
        .where(OutboxMessage.kind == CARPOS, OutboxMessage.created_at >= q.start, OutboxMessage.created_at < q.end)
        .group_by(Order.court_ori, wait)
    )
    issue_buckets = [b for b, _ in SINCE_ISSUE] + [OVER_3_YEARS, NO_ISSUE_DATE]
    wait_buckets = [b for b, _ in CARPOS_WAIT] + [OVER_7_DAYS, REJECTED, WAITING, NOT_DELIVERED]
    measures = (
        ("time since issue (orders in force at month end)", issue_buckets, issue_rows),
        ("CARPOS acceptance (transactions queued this month)", wait_buckets, wait_rows),
    )
    rows: list[tuple[Any, ...]] = []
    for measure, buckets, found in measures:
        counts: dict[str, dict[str, int]] = {}
        for ori, bucket, n in found:
            counts.setdefault(ori, {})[bucket] = int(n)
        courts = sorted(counts) + ([] if q.court is not None else [STATEWIDE])
        for ori in courts:
            of = counts.get(ori) if ori != STATEWIDE else _summed(counts.values())
            rows += [(ori, measure, bucket, (of or {}).get(bucket, 0)) for bucket in buckets]
    return Table("aging", "Aging Report", ("Court", "Measure", "Bucket", "Count"), rows)


def _summed(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            total[k] = total.get(k, 0) + v
    return total


__all__ = ["ACTIONS", "CARPOS_WAIT", "SINCE_ISSUE", "STATEWIDE", "Month", "Reports", "Table", "monthly"]
