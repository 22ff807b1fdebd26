"""The CARPOS exchange in one process: a key set, a movable clock, the mock switch behind a
transport, and the gateway -- the same objects the processes run, without the sockets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from gateway import keys
from gateway.sealing import Channel
from gateway.transport import MailboxItem, SubmitReceipt, TransportError
from gateway.worker import Gateway
from hub import masterkey
from hub.audit import AuditTrail
from hub.carpos.clets import CletsVault
from hub.db.engine import Database
from hub.db.models import AuditEvent, CarposInboxMessage, Order, OutboxMessage
from hub.outbox.retry import RetryPolicy
from mocks.doj.faults import FaultPlan
from mocks.doj.models import LedgerEntry, Record
from mocks.doj.service import Switch, open_database

DOJ_ORI = "CADOJ0000"


@dataclass(frozen=True)
class KeySet:
    directory: Path
    hub_master: masterkey.MasterKey
    doj_master: masterkey.MasterKey
    files: keys.DevelopmentSet
    hub: keys.KeyPair
    doj: keys.KeyPair

    @classmethod
    def make(cls, directory: Path) -> KeySet:
        directory.mkdir(parents=True, exist_ok=True)
        hub_master = masterkey.create(directory / "master.key")
        doj_master = masterkey.create(directory / "doj-master.key")
        files = keys.init(directory / "carpos-keys", hub_master, doj_master)
        return cls(
            directory,
            hub_master,
            doj_master,
            files,
            keys.load_pair(files.hub_key, files.hub_cert, hub_master),
            keys.load_pair(files.doj_key, files.doj_cert, doj_master),
        )

    def hub_channel(self) -> Channel:
        return Channel(self.hub, self.doj.certificate)

    def doj_channel(self) -> Channel:
        return Channel(self.doj, self.hub.certificate)


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class InProcess:
    """The switch as the gateway's transport, with no network in between."""

    def __init__(self, switch: Switch) -> None:
        self.switch = switch
        self.down = False
        #: The switch takes each batch, but the call fails on the way back (connection reset, a
        #: timeout, the switch killed before it answered): the gateway never sees the receipts.
        self.receipts_lost = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise TransportError("SubmitTransmissions: ConnectionError: the switch is down")

    def submit(self, sealed: list[bytes]) -> list[SubmitReceipt]:
        self._check()
        receipts = self.switch.submit(sealed)
        if self.receipts_lost:
            raise TransportError("SubmitTransmissions: ConnectionError: Connection reset by peer")
        return [SubmitReceipt(r.position, r.mcn, r.status, r.reason) for r in receipts]

    def fetch(self, max_count: int) -> tuple[list[MailboxItem], int]:
        self._check()
        items, remaining = self.switch.fetch(max_count)
        return [MailboxItem(i, b) for i, b in items], remaining

    def acknowledge(self, mailbox_ids: list[int]) -> int:
        self._check()
        return self.switch.acknowledge(mailbox_ids)


@dataclass
class Exchange:
    """A hub database, the mock switch and the gateway between them, on one clock."""

    db: Database
    keyset: KeySet
    clock: Clock
    faults: FaultPlan
    switch: Switch
    transport: InProcess
    gateway: Gateway
    vault: CletsVault

    def run(self, rounds: int = 20) -> int:
        """Drain and poll until nothing moves (at most ``rounds``); how many rounds did work."""
        worked = 0
        for _ in range(rounds):
            sent = self.gateway.drain()
            received, _ = self.gateway.poll()
            if not (sent or received):
                break
            worked += 1
        return worked

    def messages(self) -> list[tuple[str, str, str, int]]:
        with self.db.read() as s:
            rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            return [(m.mcn, m.mke, m.state, m.attempts) for m in rows]

    def states(self) -> dict[str, str]:
        return {mcn: state for mcn, _, state, _ in self.messages()}

    def ledger(self) -> list[LedgerEntry]:
        with self.switch.db.read() as s:
            return list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))

    def record(self, oca: str) -> Record | None:
        with self.switch.db.read() as s:
            return s.scalar(select(Record).where(Record.oca == oca))

    def inbox(self) -> list[tuple[str, str, tuple[str, ...]]]:
        with self.db.read() as s:
            rows = s.scalars(select(CarposInboxMessage).order_by(CarposInboxMessage.id)).all()
            return [(m.kind, m.doj_mcn, self.vault.open_answer(m.doj_mcn, m.text_sealed)) for m in rows]

    def order(self, public_id: str) -> Order:
        with self.db.read() as s:
            order = s.get(Order, int(public_id[3:]))
            assert order is not None
            return order

    def fcn(self, public_id: str) -> str | None:
        order = self.order(public_id)
        return self.vault.open_fcn(order.id, order.carpos_fcn_sealed) if order.carpos_fcn_sealed else None


def sends(db: Database) -> dict[str, list[str]]:
    """Each CARPOS message's SENT and RESENT audit events (by the MCN their detail names), in chain order."""
    with db.read() as s:
        rows = s.execute(
            select(AuditEvent.detail, AuditEvent.outcome)
            .where(AuditEvent.category == "CARPOS", AuditEvent.outcome.like("%SENT%"))
            .order_by(AuditEvent.seq)
        ).all()
    found: dict[str, list[str]] = {}
    for detail, outcome in rows:
        found.setdefault(detail.split(",")[0].removeprefix("MCN "), []).append(outcome)
    return found


def not_sent_once(db: Database) -> dict[str, tuple[datetime | None, list[str]]]:
    """The answered messages (ACCEPTED, REJECTED) without a sent time or without exactly one SENT
    audit event: MCN -> (sent_at, its send events). Empty when every transaction DOJ answered is
    recorded as sent, however the hub learned it."""
    with db.read() as s:
        answered = s.execute(
            select(OutboxMessage.mcn, OutboxMessage.sent_at).where(OutboxMessage.state.in_(("ACCEPTED", "REJECTED")))
        ).all()
    audited = sends(db)
    return {
        mcn: (sent_at, audited.get(mcn, []))
        for mcn, sent_at in answered
        if sent_at is None or audited.get(mcn, []).count("SENT") != 1
    }


def exchange(
    db: Database, keyset: KeySet, switch_dir: Path, *, policy: RetryPolicy | None = None, **faults: object
) -> Exchange:
    clock = Clock()
    plan = FaultPlan(rng=random.Random(7), **faults)  # type: ignore[arg-type]  # noqa: S311 - fault dice
    switch_db = open_database(f"sqlite:///{switch_dir / 'switch.db'}")
    switch = Switch(switch_db, keyset.doj_channel(), DOJ_ORI, plan, clock)
    transport = InProcess(switch)
    vault = CletsVault.of(keyset.hub_master)
    gateway = Gateway(
        db,
        keyset.hub_channel(),
        transport,
        vault,
        AuditTrail(keyset.hub_master),
        policy or RetryPolicy(max_attempts=4, base_delay=timedelta(seconds=2), answer_timeout=timedelta(seconds=30)),
        doj_ori=DOJ_ORI,
        batch=50,
        lease_seconds=60,
        owner="test-gateway",
        clock=clock,
        rng=random.Random(3),  # noqa: S311 - backoff jitter
    )
    return Exchange(db, keyset, clock, plan, switch, transport, gateway, vault)
