"""Proof of reliability, with the real processes: the gateway killed with SIGKILL in the middle of a
batch, the switch down for a while, answers dropped, doubled and reordered, two gateways on one
database. The switch's ledger (one row per MCN it ever took, with how often it came) and its
registry prove what took effect, and how often."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from hub import masterkey
from hub.accounts.service import Principal
from hub.carpos import doorbell
from hub.carpos.clets import CletsVault
from hub.carpos.outbox import CarposForwarding
from hub.codes import Role
from hub.db import migrate
from hub.db.engine import Database
from hub.db.models import AuditEvent, CarposInboxMessage, Order, OutboxMessage
from hub.orders.service import OrderService, Source
from hub.runner import GatewayProcess, SwitchServer, carpos_environment
from mocks.doj.models import LedgerEntry, Record
from mocks.doj.service import open_database
from tests.conftest import empty_database, make_user
from tests.support.carpos import not_sent_once
from tests.support.orders import order, order_element, proof
from tests.support.waiting import until

pytestmark = pytest.mark.functional
SVC = "{urn:ca:courts:ccpor:orders:1}"

#: Fast retries and short leases: a test waits seconds, not minutes.
QUICK = {
    "CCPOR_GATEWAY_POLL_SECONDS": "0.3",
    "CCPOR_GATEWAY_LEASE_SECONDS": "3",
    "CCPOR_CARPOS_RETRY_BASE_SECONDS": "0.3",
    "CCPOR_CARPOS_RETRY_MAX_SECONDS": "1.5",
    "CCPOR_CARPOS_ANSWER_TIMEOUT_SECONDS": "3",
    "CCPOR_CARPOS_MAX_ATTEMPTS": "100",
    "CCPOR_DOJ_MAILBOX_LEASE_SECONDS": "3",
}


@dataclass
class Site:
    """A hub database (no hub server: the test writes orders as the hub would), the switch's data,
    the settings of both processes."""

    dir: Path
    db: Database
    env: dict[str, str]
    clerk: Principal
    vault: CletsVault

    def switch(self, **faults: str) -> SwitchServer:
        return SwitchServer(self.env, **faults)

    def gateway(self, name: str = "gateway", **settings: str) -> GatewayProcess:
        return GatewayProcess(self.env, name=name, **settings)

    def submit(self, n: int, *, modify: int = 0, serve: int = 0, first: int = 0) -> list[str]:
        """``n`` orders entered in CARPOS (cases ``first``, ``first + 1``, ...); the first ``modify`` of
        them modified, the first ``serve`` served."""
        service, made = OrderService(forwarding=CarposForwarding()), []
        for i in range(first, first + n):
            with self.db.unit_of_work() as s:
                made.append(
                    service.submit(
                        s, self.clerk, order_element(order(CaseDocketID=f"24FL{i:06d}")), carpos_requested=True
                    ).order_id
                )
        for order_id in made[:modify]:
            with self.db.unit_of_work() as s:
                service.modify(
                    s,
                    self.clerk,
                    order_id,
                    1,
                    order_element(
                        order(ProtectionOrderBradyIndicator="N", CaseDocketID=f"24FL{first + made.index(order_id):06d}")
                    ),
                )
        for order_id in made[:serve]:
            with self.db.unit_of_work() as s:
                version = s.get(Order, int(order_id[3:])).version
                service.serve(
                    s,
                    self.clerk,
                    order_id,
                    version,
                    order_element(proof(), tag=f"{SVC}ProofOfService"),
                    Source(None, None),
                )
        return made

    def outbox(self) -> dict[str, tuple[str, str | None]]:
        with self.db.read() as s:
            return {m.mcn: (m.state, m.lease_owner) for m in s.scalars(select(OutboxMessage))}

    def all_accepted(self) -> bool:
        states = {state for state, _ in self.outbox().values()}
        return states == {"ACCEPTED"}

    def switch_db(self) -> Database:
        return open_database(f"sqlite:///{Path(self.env['CCPOR_DOJ_DATA_DIR']) / 'switch.db'}")

    def ledger(self) -> list[LedgerEntry]:
        db = self.switch_db()
        try:
            with db.read() as s:
                return list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))
        finally:
            db.dispose()

    def records(self) -> dict[str, Record]:
        db = self.switch_db()
        try:
            with db.read() as s:
                return {r.oca: r for r in s.scalars(select(Record).where(Record.seeded.is_(False)))}
        finally:
            db.dispose()

    def fcns(self) -> dict[str, str]:
        with self.db.read() as s:
            return {
                f"CCP{o.id:010d}": self.vault.open_fcn(o.id, o.carpos_fcn_sealed)
                for o in s.scalars(select(Order).where(Order.carpos_fcn_sealed.is_not(None)))
            }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    with empty_database(request.param, tmp_path) as url:
        env = {**carpos_environment(tmp_path), "CCPOR_DATABASE_URL": url, "CCPOR_DOJ_SEED_RECORDS": "0", **QUICK}
        migrate.upgrade(url)
        db = Database(url)
        clerk = make_user(db, "la-clerk", ori="CA019015J", role=Role.QUERY_UPDATE)
        yield Site(tmp_path, db, env, clerk, CletsVault.of(masterkey.load(tmp_path / "master.key")))
        db.dispose()
    shutil.rmtree(tmp_path / "doj", ignore_errors=True)


def exactly_once(site: Site, orders: list[str], *, modified: int = 0, served: int = 0) -> list[LedgerEntry]:
    """Every message reached the switch and took effect once: the ledger holds each MCN once, the
    registry each order once with each change applied once, and the hub holds DOJ's FCNs; and the
    hub recorded each as sent -- a sent time and one SENT audit event -- however it learned it."""
    ledger = site.ledger()
    outbox = site.outbox()
    assert sorted(e.mcn for e in ledger) == sorted(outbox) and all(e.result == "ACK" for e in ledger)
    assert not_sent_once(site.db) == {}
    records = site.records()
    assert sorted(records) == sorted(orders)
    assert [records[o].modifications for o in orders] == [1] * modified + [0] * (len(orders) - modified)
    assert [records[o].served for o in orders] == [True] * served + [False] * (len(orders) - served)
    assert site.fcns() == {o: records[o].fcn for o in orders}
    return ledger


def test_kill_9_in_the_middle_of_a_batch_then_restart(site):
    switch = site.switch(CCPOR_DOJ_CALL_LATENCY_MS="250").start()  # each batch spends a while in flight
    try:
        orders = site.submit(120, modify=40)
        first = site.gateway(CCPOR_GATEWAY_BATCH="10").start()
        while True:
            until(lambda: len(site.ledger()) >= 20 and any(owner for _, owner in site.outbox().values()),
                  "the gateway to be in the middle of a batch after its first batches")  # fmt: skip
            # Frozen (SIGSTOP), the gateway cannot settle its batch between our look at the leases
            # and the kill: a busy machine let it finish one in that gap.
            first.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            leased = [mcn for mcn, (_, owner) in site.outbox().items() if owner]
            if leased:
                break
            first.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        first.kill()  # SIGKILL: no cleanup, its leases stay behind
        assert leased and not site.all_accepted()
        second = site.gateway("gateway-2", CCPOR_GATEWAY_BATCH="10").start()
        try:
            until(site.all_accepted, "every message to be accepted after the restart", timeout=90)
        finally:
            second.stop()
    finally:
        switch.stop()
    exactly_once(site, orders, modified=40)
    ledger = {e.mcn: e for e in site.ledger()}
    assert {ledger[mcn].mke for mcn in leased} <= {"EPO", "MPO"}


def test_messages_wait_while_the_switch_is_down_and_drain_in_order(site):
    switch = site.switch()
    gateway = site.gateway().start()
    try:
        orders = site.submit(15, modify=15)
        until(lambda: _failed_entries(site) == 15, "the gateway to find the switch down for every EPO")
        with site.db.read() as s:
            waiting = s.execute(select(OutboxMessage.mke, OutboxMessage.attempts, OutboxMessage.last_error)).all()
        assert all(attempts >= 1 and "ConnectionError" in error for mke, attempts, error in waiting if mke == "EPO")
        assert all(attempts == 0 for mke, attempts, _ in waiting if mke == "MPO")  # behind their EPOs
        switch.start()
        until(site.all_accepted, "the queue to drain once the switch is back", timeout=60)
    finally:
        gateway.stop()
        switch.stop()
    ledger = exactly_once(site, orders, modified=15)
    position = {e.mcn: i for i, e in enumerate(ledger)}
    assert all(position[f"{o}-001"] < position[f"{o}-002"] for o in orders)  # each EPO before its MPO


def _failed_entries(site: Site) -> int:
    """EPOs whose attempt failed and that are waiting for the next one (not being sent right now)."""
    with site.db.read() as s:
        return (
            s.scalar(
                select(func.count()).where(
                    OutboxMessage.mke == "EPO",
                    OutboxMessage.state == "QUEUED",
                    OutboxMessage.last_error.is_not(None),
                    OutboxMessage.lease_owner.is_(None),
                )
            )
            or 0
        )


def test_dropped_duplicated_and_reordered_answers_end_in_the_right_states(site):
    switch = site.switch(
        CCPOR_DOJ_DROP_RATE="0.3",
        CCPOR_DOJ_DUPLICATE_RATE="0.3",
        CCPOR_DOJ_REORDER_RATE="1.0",
        CCPOR_DOJ_ERROR_RATE="0.15",
        CCPOR_DOJ_ANSWER_LATENCY_MS="100",
    ).start()
    gateway = site.gateway().start()
    try:
        orders = site.submit(30, modify=30, serve=30)
        until(site.all_accepted, "every message to be accepted despite the faults", timeout=120)
    finally:
        gateway.stop()
        switch.stop()
    ledger = exactly_once(site, orders, modified=30, served=30)
    assert any(e.times_received > 1 for e in ledger)  # dropped answers were fetched by resending
    said = switch.log.read_text()
    assert "fault plan: doubled the answer" in said and "fault plan: reordered a page of" in said  # they happened
    with site.db.read() as s:
        recorded = s.scalars(select(CarposInboxMessage.doj_mcn)).all()
    assert sorted(recorded) == sorted(e.answer_mcn for e in ledger)  # doubled answers recorded once


def test_two_gateways_drain_one_outbox_without_duplicates_or_losses(site):
    switch = site.switch().start()
    gateways = [site.gateway(f"gateway-{n}", CCPOR_GATEWAY_BATCH="15").start() for n in (1, 2)]
    try:
        orders = site.submit(200)
        until(site.all_accepted, "both gateways to drain the outbox", timeout=90)
    finally:
        for gateway in gateways:
            gateway.stop()
        switch.stop()
    ledger = exactly_once(site, orders)
    assert all(e.times_received == 1 for e in ledger)  # nothing was sent twice
    with site.db.read() as s:
        senders = set(s.scalars(select(AuditEvent.client_address).where(AuditEvent.operation == "CARPOS EPO")))
    assert len(senders) == 2  # both took part


def test_a_new_message_wakes_the_gateway_at_once(site):
    doorbell.install_ringer(site.db)  # as the hub's app does (SQLite); PostgreSQL rings with NOTIFY
    switch = site.switch().start()
    # The timer: once at start, then in an hour. DEBUG: the gateway's own batch lines, no library's.
    gateway = site.gateway(CCPOR_GATEWAY_POLL_SECONDS="3600", CCPOR_LOG_LEVEL="DEBUG").start()
    try:
        site.submit(1)
        until(site.all_accepted, "the first order to be accepted")
        second = site.submit(1, first=1)
        # Only the doorbell can wake the gateway now: its next tick is an hour away.
        until(site.all_accepted, "the new order to be accepted without waiting for the timer", timeout=20)
    finally:
        gateway.stop()
        switch.stop()
    assert site.fcns().keys() >= set(second)
    said = gateway.log.read_text()
    assert "DEBUG ccpor.gateway batch of 1:" in said and "signxml" not in said and "DEBUG zeep" not in said


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"CCPOR_DOJ_DOWNTIME": "00:00-24:00"}, "down for maintenance until 24:00 UTC"),
        ({"CCPOR_DOJ_ERROR_RATE": "1"}, "injected failure"),
    ],
    ids=["downtime", "errors"],
)
def test_a_switch_in_maintenance_or_failing_takes_nothing_and_the_messages_wait(site, fault, says):
    switch = site.switch(**fault).start()
    gateway = site.gateway().start()
    try:
        answer = requests.post(switch.url, data=b"<not-even-read/>", headers={"Content-Type": "text/xml"}, timeout=10)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        assert b"Server.Unavailable" in answer.content and says.encode() in answer.content
        orders = site.submit(5)
        until(lambda: _failed_entries(site) == 5, "the gateway to be refused for every EPO")
        with site.db.read() as s:
            errors = s.scalars(select(OutboxMessage.last_error)).all()
        assert all("Unavailable" in e and says in e for e in errors)
        assert site.ledger() == []  # the switch took nothing
        switch.stop()
        switch = site.switch().start()  # the window is over / the failures stop
        until(site.all_accepted, "the queue to drain once the switch answers again", timeout=60)
    finally:
        gateway.stop()
        switch.stop()
    exactly_once(site, orders)
