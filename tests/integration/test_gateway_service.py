"""The gateway's threads (``GatewayService``) against the in-process switch: one sender for a
trickle, helpers joining in for a backlog -- and either way every message accepted once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gateway.scheduler import GatewayService
from gateway.transport import MailboxItem, SubmitReceipt
from hub.carpos import doorbell
from hub.carpos.outbox import CarposForwarding
from hub.db.engine import Database
from hub.orders.service import OrderService
from tests.integration.test_gateway import submit
from tests.support.carpos import Exchange, InProcess, KeySet, exchange
from tests.support.orders import order, order_element
from tests.support.waiting import until


class Watching:
    """The in-process switch, noting which sender thread handed over each batch. With ``meet``, a
    batch after the first is held in flight (up to 10 s) until another sender's batch arrives too,
    so a helper that joins shows as an overlap and one that never comes as none."""

    def __init__(self, inner: InProcess, meet: bool = False, refuse_last: bool = False) -> None:
        self.inner = inner
        self.meet = meet
        self.refuse_last = refuse_last  # the last transmission of each batch refused, as DOJ refuses one it cannot read
        self.batches: list[tuple[str, int]] = []
        self.overlapped = threading.Event()
        self._inside: set[str] = set()
        self._lock = threading.Lock()

    def submit(self, sealed: list[bytes]) -> list[SubmitReceipt]:
        me = threading.current_thread().name
        with self._lock:
            self.batches.append((me, len(sealed)))
            self._inside.add(me)
            if len(self._inside) > 1:
                self.overlapped.set()
            hold = self.meet and len(self.batches) > 1
        try:
            if hold:
                self.overlapped.wait(10)
            if not (self.refuse_last and len(sealed) > 1):
                return self.inner.submit(sealed)
            refused = SubmitReceipt(len(sealed), None, "REFUSED", "the signature does not verify")
            return [*self.inner.submit(sealed[:-1]), refused]
        finally:
            with self._lock:
                self._inside.discard(me)

    def fetch(self, max_count: int) -> tuple[list[MailboxItem], int]:
        return self.inner.fetch(max_count)

    def acknowledge(self, mailbox_ids: list[int]) -> int:
        return self.inner.acknowledge(mailbox_ids)


@pytest.fixture
def ex(db: Database, keyset: KeySet, tmp_path: Path) -> Exchange:
    doorbell.install_ringer(db)  # as the hub's app does (SQLite); PostgreSQL rings with NOTIFY
    return exchange(db, keyset, tmp_path)


def running(ex: Exchange, watching: Watching) -> GatewayService:
    ex.gateway.transport = watching
    # The timer looks once at start, then in an hour: only the doorbell and the backlog drive them.
    return GatewayService(ex.gateway, 3600, senders=3, transport=lambda: watching).start()


def accepted(ex: Exchange, n: int) -> None:
    until(lambda: list(ex.states().values()).count("ACCEPTED") == n, f"{n} messages accepted")


def test_a_trickle_is_sent_by_one_sender(ex, clerk):
    watching = Watching(ex.transport)
    service = running(ex, watching)
    try:
        for n in range(1, 7):  # one message at a time: never a backlog
            submit(ex, clerk)
            accepted(ex, n)
    finally:
        service.stop()
    assert {who for who, _ in watching.batches} == {"carpos-send-1"}


@pytest.mark.parametrize("refusals", [False, True], ids=["all-taken", "one-refused-per-batch"])
def test_helpers_join_in_while_there_is_a_backlog(ex, clerk, refusals):
    ex.gateway.batch = 5
    watching = Watching(ex.transport, meet=True, refuse_last=refusals)
    with ex.db.unit_of_work() as s:  # 40 orders in one commit: a backlog of 8 batches
        for _ in range(40):
            OrderService(ex.clock, forwarding=CarposForwarding()).submit(
                s, clerk, order_element(order()), carpos_requested=True
            )
    service = running(ex, watching)
    try:
        final = ["ACCEPTED", "DEAD"] if refusals else ["ACCEPTED"]
        until(lambda: sorted(set(ex.states().values())) == final, "the backlog to be worked off")
    finally:
        service.stop()
    # A helper's batch was in flight beside the sender's: a full claim is a backlog, refusals or not.
    assert watching.overlapped.is_set()
    assert len({who for who, _ in watching.batches}) >= 2
    assert sum(size for _, size in watching.batches) == 40 and max(size for _, size in watching.batches) == 5
    assert set(ex.switch.ledger_counts().values()) == {1}  # every message reached the switch once
    assert list(ex.states().values()).count("DEAD") == (8 if refusals else 0)
