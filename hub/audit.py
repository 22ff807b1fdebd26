"""The audit trail: append-only, hash-chained events (CJIS AU-2/AU-3/AU-9/AU-11).

Each event's ``mac`` is ``HMAC-SHA256(k, previous mac | seq | fields)`` with ``k`` derived from the
master key (:mod:`hub.masterkey`), which the database never holds. Recording an event is the last
step of the audited transaction::

    UPDATE audit_chain SET seq = seq + 1 WHERE id = 1 RETURNING seq, mac   -- takes the row lock
    INSERT INTO audit_events (... seq, mac)
    UPDATE audit_chain SET mac = :new                                       -- held until COMMIT

so ``seq`` numbers events without gaps in commit order on PostgreSQL (other writers wait on the
chain row only for the few statements before commit) and under SQLite's single writer. A rolled
back transaction takes its event and its ``seq`` with it, so no gap appears.

``verify`` walks the chain from its base and reports the first events whose ``mac`` does not
follow (an edited field, an inserted or deleted event) and a head that does not match the last
event (a deleted tail). Without the key, an attacker with write access to the database cannot
compute a valid ``mac`` for anything they change.

Retention (``purge``) deletes the oldest events -- a prefix of the chain -- and moves the chain's
base to the last deleted event, in the same transaction that records the purge as an event.

The chain row itself (head and base) carries a keyed ``seal``, so truncating the newest events or
deleting the oldest outside ``purge`` shows too; the only unsealed row accepted is the one migration
0005 writes (no event ever recorded, seq and base 0). That row can be written back by anyone, so the
hub's other data testifies as well: every account and every order is created by an audited call, in
the same transaction as its event, so an account or order created well before the chain's first
event (when nothing was ever purged) or after its last one means events were deleted and the chain
row reset or rolled back (``WITNESS_SLACK`` allows for the few statements between the two clocks).
What no key and no witness can show is the *whole database* restored from an earlier copy:
``audit verify`` prints the head (seq and mac) for operators to keep outside the database, and
``audit verify --anchor SEQ:MAC`` checks a kept head is still there (an anchor at the base is
checked against the base's mac; one below it was purged by retention and is reported as such).

Nothing secret goes into an event: no password, token, image content or CLETS data; ``target`` is
an order, image or account identifier, ``detail`` an administrator's change in words.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from hub.db.models import Account, AuditChain, AuditEvent, Order
from hub.db.prepared import Prepared
from hub.db.types import UTCDateTime
from hub.errors import IntegrityFailure
from hub.masterkey import MasterKey

log = logging.getLogger("ccpor.audit")

#: CJIS AU-11: audit records are kept at least one year; ``audit purge`` refuses a shorter period.
MIN_AUDIT_RETENTION_DAYS = 365

#: How much earlier than its audit event an account or order may have been created (the statements
#: between the row's clock reading and the event's, in one transaction), or how much later than the
#: last event. Beyond it, ``verify`` reports events missing at that end of the chain.
WITNESS_SLACK = timedelta(minutes=5)

#: The chain row as migration 0005 writes it, before any event: the only unsealed state accepted.
_PRISTINE = (0, "", 0, "")

#: Audit categories (what kind of access an event records).
LOGON, QUERY, VIEW, IMAGE, CHANGE, CARPOS, ADMIN = "LOGON", "QUERY", "VIEW", "IMAGE", "CHANGE", "CARPOS", "ADMIN"
#: The business responses the hub sends courts (DSP917).
DSP917 = "DSP917"

_CATEGORIES = {
    "GetOrder": VIEW,
    "SearchOrders": QUERY,
    "SearchQuickAttach": QUERY,
    "GetImage": IMAGE,
    "AttachImage": CHANGE,
    "AddQuickAttach": CHANGE,
}


def category_of(operation: str, outcome: str, service_category: str = "") -> str:
    """The category of an event: a refused logon is LOGON whatever the operation it carried; every
    call of a service with a category of its own (/ws/admin: ADMIN) has that one."""
    if outcome == "Client.Authentication":
        return LOGON
    if service_category:
        return service_category
    if operation in _CATEGORIES:
        return _CATEGORIES[operation]
    if "Carpos" in operation:
        return CARPOS
    return CHANGE


@dataclass(frozen=True)
class Event:
    """One audit event before it is chained."""

    at: datetime
    username: str
    org_ori: str
    operation: str
    outcome: str
    target: str = ""
    client_address: str = ""
    detail: str = ""
    category: str = field(default="")

    def fields(self) -> dict[str, object]:
        return {
            "at": self.at,
            "category": category_of(self.operation, self.outcome, self.category),
            "username": self.username[:64],
            "org_ori": self.org_ori[:9],
            "operation": self.operation[:40],
            "target": self.target[:64],
            "outcome": self.outcome[:40],
            "client_address": self.client_address[:64],
            "detail": self.detail[:200],
        }


_FIELDS = ("at", "category", "username", "org_ori", "operation", "target", "outcome", "client_address", "detail")


def _canonical(seq: int, values: dict[str, object]) -> bytes:
    """The bytes the MAC covers: seq and each field, unit-separated (fields cannot contain U+001F)."""
    parts = [str(seq)]
    for name in _FIELDS:
        value = values[name]
        parts.append(value.isoformat(timespec="microseconds") if isinstance(value, datetime) else str(value))
    return "\x1f".join(p.replace("\x1f", " ") for p in parts).encode()


_CHAIN = AuditChain.__table__
_ADVANCE = (
    update(_CHAIN)
    .where(_CHAIN.c.id == 1)
    .values(seq=_CHAIN.c.seq + bindparam("b_count"))
    .returning(_CHAIN.c.seq, _CHAIN.c.mac, _CHAIN.c.base_seq, _CHAIN.c.base_mac, _CHAIN.c.seal)
)
_SET_HEAD = update(_CHAIN).where(_CHAIN.c.id == 1).values(mac=bindparam("b_mac"), seal=bindparam("b_seal"))
_INSERT = insert(AuditEvent.__table__)
#: PostgreSQL, one event (every call's own): its INSERT and the head's new mac and seal in one
#: statement (a data-modifying CTE), one round trip fewer while the chain row is locked.
_INSERT_ONE_AND_SET_HEAD = _SET_HEAD.add_cte(
    insert(AuditEvent.__table__)
    .values({name: bindparam(f"e_{name}") for name in ("seq", "mac", *_FIELDS)})
    .cte("new_event")
)
#: Every audited call runs these (hub.db.prepared: on the cursor, compiled once).
_ADVANCE_NOW, _INSERT_NOW, _SET_HEAD_NOW = Prepared(_ADVANCE), Prepared(_INSERT), Prepared(_SET_HEAD)
_INSERT_ONE_AND_SET_HEAD_NOW = Prepared(_INSERT_ONE_AND_SET_HEAD)


class AuditTrail:
    """Records, verifies and purges the chained audit events."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive("audit-chain")

    def mac(self, previous: str, seq: int, values: dict[str, object]) -> str:
        return hmac.digest(self._key, previous.encode() + b"\x1e" + _canonical(seq, values), "sha256").hex()

    def seal(self, seq: int, mac: str, base_seq: int, base_mac: str) -> str:
        """The keyed seal of the chain row: head and base cannot be moved without the key."""
        material = f"chain\x1e{seq}\x1e{mac}\x1e{base_seq}\x1e{base_mac}".encode()
        return hmac.digest(self._key, material, "sha256").hex()

    def sealed(self, seq: int, mac: str, base_seq: int, base_mac: str, seal: str) -> bool:
        """The chain row is as the hub left it, or the untouched initial row (no event ever recorded:
        seq and base 0, no macs). An empty seal on any other row is a row written without the key."""
        if seal == "":
            return (seq, mac, base_seq, base_mac) == _PRISTINE
        return hmac.compare_digest(self.seal(seq, mac, base_seq, base_mac), seal)

    def record(self, connection: Connection, event: Event) -> int:
        """Append ``event`` in the caller's transaction (call it last, just before commit); its seq.

        A chain row found tampered with keeps its broken seal (it is never re-sealed over), so
        ``verify`` reports it however many events follow.
        """
        return self.record_all(connection, [event])[0]

    def intact(self, connection: Connection, seq: int, mac: str, base_seq: int, base_mac: str, seal: str) -> bool:
        """:meth:`sealed`, or the unsealed row migration 0005 left on a database that already held
        events (:func:`legacy_base`), which the hub's next event seals."""
        if self.sealed(seq, mac, base_seq, base_mac, seal):
            return True
        return seal == "" and mac == base_mac == "" and seq == base_seq and legacy_base(connection, base_seq)

    def record_all(self, connection: Connection, events: list[Event]) -> list[int]:
        """Append ``events`` in order, in one advance of the chain head (the gateway audits a whole
        batch of CARPOS transactions at once); their seqs."""
        if not events:
            return []
        last, previous, base_seq, base_mac, seal = _ADVANCE_NOW.one(connection, {"b_count": len(events)})
        first = last - len(events) + 1
        rows, mac = [], previous
        for seq, event in enumerate(events, start=first):
            values = event.fields()
            mac = self.mac(mac, seq, values)
            rows.append({**values, "seq": seq, "mac": mac})
        intact = self.intact(connection, first - 1, previous, base_seq, base_mac, seal)
        if not intact:
            log.error(
                "the audit chain row was changed outside the hub before event %s: run ccpor-hub audit verify", first
            )
        head = {"b_mac": mac, "b_seal": self.seal(last, mac, base_seq, base_mac) if intact else seal}
        if len(rows) == 1 and connection.dialect.name == "postgresql":
            _INSERT_ONE_AND_SET_HEAD_NOW.rows(
                connection, {f"e_{name}": value for name, value in rows[0].items()} | head
            )
        else:
            _INSERT_NOW.many(connection, rows)
            _SET_HEAD_NOW.rows(connection, head)
        return list(range(first, last + 1))

    def verify(
        self, connection: Connection, *, anchor: tuple[int, str] | None = None, batch: int = 5000, report: int = 20
    ) -> Verification:
        """Walk the chain from its base; list the events that break it (at most ``report``).

        The chain row's seal shows a head or base moved without the key (a truncated tail, a
        prefix deleted outside ``purge``). ``anchor`` -- an event's (seq, mac) recorded outside the
        database earlier (``audit verify`` prints the head) -- catches what a seal cannot: the
        whole chain row rolled back to an older copy together with the newer events deleted.
        """
        chain = connection.execute(select(AuditChain).where(AuditChain.id == 1)).one()
        result = Verification(base_seq=chain.base_seq, head_seq=chain.seq, head_mac=chain.mac)
        if not self.sealed(chain.seq, chain.mac, chain.base_seq, chain.base_mac, chain.seal):
            if self.intact(connection, chain.seq, chain.mac, chain.base_seq, chain.base_mac, chain.seal):
                result.legacy = True  # migration 0005's row, sealed by the next event
            else:
                result.add(report, chain.seq, "the chain head or base was changed without the key (events removed?)")
        chained_below_base = connection.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.seq <= chain.base_seq, AuditEvent.mac != "")
        )
        if chained_below_base is not None:  # purge deletes what it puts below the base
            result.add(report, chained_below_base, "the chain's base was moved past events without a purge")
        if anchor is not None:
            self._check_anchor(connection, chain, anchor, result, report)
        previous, expected = chain.base_mac, chain.base_seq + 1
        for row in _rows_from(connection, chain.base_seq, batch):
            values = {name: getattr(row, name) for name in _FIELDS}
            if row.seq != expected:
                result.add(report, expected, f"events {expected}..{row.seq - 1} are missing")
            elif not hmac.compare_digest(self.mac(previous, row.seq, values), row.mac):
                result.add(report, row.seq, "the event was changed, or an event before it was removed or inserted")
            previous, expected = row.mac, row.seq + 1
            result.checked += 1
        if expected - 1 != chain.seq:
            result.add(report, expected, f"the chain head says {chain.seq} events but the last is {expected - 1}")
        elif not hmac.compare_digest(previous, chain.mac):
            result.add(report, chain.seq, "the chain head does not match the last event")
        for seq, what in witness_problems(connection, chain.base_seq, chain.seq):
            result.add(report, seq, what)
        return result

    def _check_anchor(
        self, connection: Connection, chain: AuditChain, anchor: tuple[int, str], result: Verification, report: int
    ) -> None:
        """An event's (seq, mac) kept outside the database must still be in the chain, unchanged: as an
        event after the base, or as the base itself (the last event a purge removed keeps its mac
        there). An anchor below the base was purged by retention; the base's seal vouches for the
        purge, and the result says the anchor itself could not be compared."""
        seq, mac = anchor
        if seq > chain.seq:
            result.add(report, seq, f"the anchored event is gone (the chain ends at {chain.seq}): it was rolled back")
        elif seq > chain.base_seq:
            anchored = connection.scalar(select(AuditEvent.mac).where(AuditEvent.seq == seq))
            if anchored is None or not hmac.compare_digest(anchored, mac):
                result.add(report, seq, "the anchored event is gone or changed: the chain was rolled back")
        elif chain.base_mac == "" and seq > 0:  # events up to migration 0005's base carry no mac
            result.add(report, seq, "the anchored event is not in the chain (nothing before its start has a mac)")
        elif seq == chain.base_seq and seq > 0:
            if not hmac.compare_digest(chain.base_mac, mac):
                result.add(report, seq, "the anchored event is not the chain's base: the chain was rolled back")
        elif seq > 0:
            result.anchor_purged = True

    def purge(self, connection: Connection, before: datetime) -> tuple[int, int]:
        """Delete the events older than ``before`` (a prefix of the chain); (count, new base seq).

        Events are numbered in commit order, which follows time closely but not exactly under
        concurrency, so the prefix stops at the first event that is not older than ``before``.
        """
        chain = connection.execute(select(AuditChain).where(AuditChain.id == 1).with_for_update()).one()
        if not self.intact(
            connection, chain.seq, chain.mac, chain.base_seq, chain.base_mac, chain.seal
        ) or witness_problems(connection, chain.base_seq, chain.seq):
            # Moving the base would bury the evidence (the witnesses older than the base are then legitimate).
            raise IntegrityFailure("the audit chain's ends were changed outside the hub: run 'ccpor-hub audit verify'")
        first_kept = connection.scalar(
            select(func.min(AuditEvent.seq)).where(
                AuditEvent.seq > chain.base_seq, AuditEvent.at >= bindparam("b_before", before, type_=UTCDateTime())
            )
        )
        last_purged = chain.seq if first_kept is None else first_kept - 1
        if last_purged <= chain.base_seq:
            return 0, chain.base_seq
        base_mac = connection.scalar(select(AuditEvent.mac).where(AuditEvent.seq == last_purged)) or ""
        count = connection.execute(
            delete(AuditEvent.__table__).where(AuditEvent.__table__.c.seq <= last_purged)
        ).rowcount
        connection.execute(
            update(_CHAIN)
            .where(_CHAIN.c.id == 1)
            .values(
                base_seq=last_purged,
                base_mac=base_mac,
                seal=self.seal(chain.seq, chain.mac, last_purged, base_mac),
            )
        )
        return count, last_purged


@dataclass
class Verification:
    base_seq: int
    head_seq: int
    head_mac: str = ""
    checked: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    more: int = 0
    #: The anchor given is older than the chain's base (purged by retention): only the base was checked.
    anchor_purged: bool = False
    #: The chain row is the unsealed one migration 0005 left (events up to the base predate the chain).
    legacy: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, limit: int, seq: int, what: str) -> None:
        if len(self.problems) < limit:
            self.problems.append((seq, what))
        else:
            self.more += 1


def legacy_base(connection: Connection, base_seq: int) -> bool:
    """The database was upgraded by migration 0005 while it held events: those events, 1..``base_seq``,
    are all there and unchained (written before the chain existed, with no mac), and the chain starts
    after them. Such a chain row is unsealed until the hub's next event seals it. (Anyone can *make*
    this state: it is the "restored older copy" case, which only an anchor shows -- and no anchor can
    name an unchained event.)"""
    if base_seq <= 0:
        return False
    count, low, high, chained = connection.execute(
        select(
            func.count(AuditEvent.seq),
            func.min(AuditEvent.seq),
            func.max(AuditEvent.seq),
            func.count(AuditEvent.seq).filter(AuditEvent.mac != ""),
        ).where(AuditEvent.seq <= base_seq)
    ).one()
    return count == base_seq and low == 1 and high == base_seq and chained == 0


def witness_problems(connection: Connection, base_seq: int, head_seq: int) -> list[tuple[int, str]]:
    """What the hub's other data says about the chain's ends.

    Accounts and orders are only ever created by audited calls (``users add``, ``SaveUser``,
    ``SubmitOrder``, ``SaveDraft``, ``CloneOrder``, ``LoadHistoricalOrder`` of ``etl load``), each in
    the transaction of its event. So, beyond
    :data:`WITNESS_SLACK`: one created after the last event means newer events were deleted and the
    chain row rolled back; while nothing was ever purged (base 0), one created before the first event
    means older events were deleted and the chain row reset -- also when it was reset to the initial,
    unsealed state, which anyone can write. (Rows inserted outside the hub, bypassing its audit, make
    this check fail too, as they should.)
    """
    first_at, last_at = connection.execute(
        select(func.min(AuditEvent.at), func.max(AuditEvent.at)).where(AuditEvent.seq > base_seq)
    ).one()
    spans = [connection.execute(select(func.min(t.created_at), func.max(t.created_at))).one() for t in (Account, Order)]
    earliest = min((s[0] for s in spans if s[0] is not None), default=None)
    latest = max((s[1] for s in spans if s[1] is not None), default=None)
    problems: list[tuple[int, str]] = []
    if earliest is None or latest is None:
        return problems
    if base_seq == 0 and (first_at is None or earliest < first_at - WITNESS_SLACK):
        since = f"the first event is from {first_at:%Y-%m-%d %H:%M} UTC" if first_at else "there are no events"
        problems.append(
            (
                base_seq + 1,
                f"accounts or orders created from {earliest:%Y-%m-%d %H:%M} UTC on exist, but {since}: "
                "the events before were deleted and the chain row reset",
            )
        )
    if last_at is not None and latest > last_at + WITNESS_SLACK:
        problems.append(
            (
                head_seq,
                f"accounts or orders created up to {latest:%Y-%m-%d %H:%M} UTC exist, but the last event is from "
                f"{last_at:%Y-%m-%d %H:%M} UTC: newer events were deleted and the chain row rolled back",
            )
        )
    return problems


def _rows_from(connection: Connection, base_seq: int, batch: int) -> Iterator[object]:
    """The events after ``base_seq`` in chain order, fetched in keyset pages (flat memory)."""
    columns = [AuditEvent.seq, AuditEvent.mac, *(getattr(AuditEvent, name) for name in _FIELDS)]
    after = base_seq
    while True:
        rows = connection.execute(
            select(*columns).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].seq


def search_query(start: datetime, end: datetime, **equal: str | None) -> Select[tuple[AuditEvent]]:
    """Events in ``[start, end)`` whose columns equal the given values (``username=``, ``org_ori=``,
    ``category=``, ``operation=``, ``target=``, ``outcome=``; empty ones ignored): /ws/admin's
    SearchAudit and the console's audit page."""
    query = select(AuditEvent).where(AuditEvent.at >= start, AuditEvent.at < end)
    for name, value in equal.items():
        if value:
            query = query.where(_SEARCHABLE[name] == value)
    return query


_SEARCHABLE = {
    "username": AuditEvent.username,
    "org_ori": AuditEvent.org_ori,
    "category": AuditEvent.category,
    "operation": AuditEvent.operation,
    "target": AuditEvent.target,
    "outcome": AuditEvent.outcome,
}
