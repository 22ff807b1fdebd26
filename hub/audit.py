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
deleting the oldest outside ``purge`` shows too. What no key can show is the whole table and chain
row rolled back to an earlier copy: ``audit verify`` prints the head (seq and mac) for operators to
keep outside the database, and ``audit verify --anchor SEQ:MAC`` checks a kept head is still there.

Nothing secret goes into an event: no password, token, image content or CLETS data; ``target`` is
an order, image or account identifier, ``detail`` an administrator's change in words.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from hub.db.models import AuditChain, AuditEvent
from hub.db.types import UTCDateTime
from hub.errors import IntegrityFailure
from hub.masterkey import MasterKey

log = logging.getLogger("ccpor.audit")

#: CJIS AU-11: audit records are kept at least one year; ``audit purge`` refuses a shorter period.
MIN_AUDIT_RETENTION_DAYS = 365

#: Audit categories (what kind of access an event records).
LOGON, QUERY, VIEW, IMAGE, CHANGE, CARPOS, ADMIN = "LOGON", "QUERY", "VIEW", "IMAGE", "CHANGE", "CARPOS", "ADMIN"

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


class AuditTrail:
    """Records, verifies and purges the chained audit events."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key.derive("audit-chain")

    def mac(self, previous: str, seq: int, values: dict[str, object]) -> str:
        return hmac.new(self._key, previous.encode() + b"\x1e" + _canonical(seq, values), hashlib.sha256).hexdigest()

    def seal(self, seq: int, mac: str, base_seq: int, base_mac: str) -> str:
        """The keyed seal of the chain row: head and base cannot be moved without the key."""
        material = f"chain\x1e{seq}\x1e{mac}\x1e{base_seq}\x1e{base_mac}".encode()
        return hmac.new(self._key, material, hashlib.sha256).hexdigest()

    def sealed(self, seq: int, mac: str, base_seq: int, base_mac: str, seal: str) -> bool:
        """The chain row is as the hub left it (or the untouched initial row, never sealed)."""
        if seal == "":
            return seq == base_seq and base_mac == ""
        return hmac.compare_digest(self.seal(seq, mac, base_seq, base_mac), seal)

    def record(self, connection: Connection, event: Event) -> int:
        """Append ``event`` in the caller's transaction (call it last, just before commit); its seq.

        A chain row found tampered with keeps its broken seal (it is never re-sealed over), so
        ``verify`` reports it however many events follow.
        """
        return self.record_all(connection, [event])[0]

    def record_all(self, connection: Connection, events: list[Event]) -> list[int]:
        """Append ``events`` in order, in one advance of the chain head (the gateway audits a whole
        batch of CARPOS transactions at once); their seqs."""
        if not events:
            return []
        last, previous, base_seq, base_mac, seal = connection.execute(_ADVANCE, {"b_count": len(events)}).one()
        first = last - len(events) + 1
        rows, mac = [], previous
        for seq, event in enumerate(events, start=first):
            values = event.fields()
            mac = self.mac(mac, seq, values)
            rows.append({**values, "seq": seq, "mac": mac})
        connection.execute(_INSERT, rows)
        intact = self.sealed(first - 1, previous, base_seq, base_mac, seal)
        if not intact:
            log.error(
                "the audit chain row was changed outside the hub before event %s: run ccpor-hub audit verify", first
            )
        new_seal = self.seal(last, mac, base_seq, base_mac) if intact else seal
        connection.execute(_SET_HEAD, {"b_mac": mac, "b_seal": new_seal})
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
            result.add(report, chain.seq, "the chain head or base was changed without the key (events removed?)")
        chained_below_base = connection.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.seq <= chain.base_seq, AuditEvent.mac != "")
        )
        if chained_below_base is not None:  # purge deletes what it puts below the base
            result.add(report, chained_below_base, "the chain's base was moved past events without a purge")
        if anchor is not None:
            anchored = connection.scalar(select(AuditEvent.mac).where(AuditEvent.seq == anchor[0]))
            if anchor[0] > chain.seq or (anchor[0] > chain.base_seq and anchored != anchor[1]):
                result.add(report, anchor[0], "the anchored event is gone or changed: the chain was rolled back")
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
        return result

    def purge(self, connection: Connection, before: datetime) -> tuple[int, int]:
        """Delete the events older than ``before`` (a prefix of the chain); (count, new base seq).

        Events are numbered in commit order, which follows time closely but not exactly under
        concurrency, so the prefix stops at the first event that is not older than ``before``.
        """
        chain = connection.execute(select(AuditChain).where(AuditChain.id == 1).with_for_update()).one()
        if not self.sealed(chain.seq, chain.mac, chain.base_seq, chain.base_mac, chain.seal):
            raise IntegrityFailure("the audit chain row was changed outside the hub: run 'ccpor-hub audit verify'")
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

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, limit: int, seq: int, what: str) -> None:
        if len(self.problems) < limit:
            self.problems.append((seq, what))
        else:
            self.more += 1


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
