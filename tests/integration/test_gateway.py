"""The gateway against the mock switch, in one process, on both databases: what reaches DOJ, how
often, in what order, and what the hub records of DOJ's answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import IntegrityError

from gateway.transport import TransportError
from gateway.worker import Submitted
from hub.accounts.service import Principal
from hub.carpos import outbox
from hub.carpos.outbox import CarposForwarding
from hub.codes import CancelReason, Role
from hub.db.engine import Database
from hub.db.models import AuditEvent, OutboxMessage
from hub.errors import InvalidState
from hub.orders.service import OrderService, Source
from hub.outbox.retry import RetryPolicy
from mocks.doj.models import Record
from tests.conftest import make_user
from tests.support.carpos import Exchange, KeySet, exchange, not_sent_once, sends
from tests.support.orders import order, order_element, proof

SVC = "{urn:ca:courts:ccpor:orders:1}"
NO_SOURCE = Source(None, None)


@pytest.fixture
def ex(db: Database, keyset: KeySet, tmp_path: Path) -> Exchange:
    return exchange(db, keyset, tmp_path)


RESUBMIT = "/crp:ResubmitToCarpos/crp:OrderId"


def service(ex: Exchange) -> OrderService:
    return OrderService(ex.clock, forwarding=CarposForwarding())


def submit(ex: Exchange, who: Principal, **overrides: object) -> str:
    with ex.db.unit_of_work() as s:
        return service(ex).submit(s, who, order_element(order(**overrides)), carpos_requested=True).order_id


def modify(ex: Exchange, who: Principal, order_id: str, version: int, **overrides: object) -> None:
    with ex.db.unit_of_work() as s:
        service(ex).modify(s, who, order_id, version, order_element(order(**overrides)))


def test_an_order_and_its_changes_reach_carpos_once_each_in_order(ex, clerk):
    order_id = submit(ex, clerk)
    modify(ex, clerk, order_id, 1, ProtectionOrderBradyIndicator="N")
    with ex.db.unit_of_work() as s:
        service(ex).serve(s, clerk, order_id, 2, order_element(proof(), tag=f"{SVC}ProofOfService"), NO_SOURCE)
    assert ex.gateway.drain() == 1  # only the EPO: its MPO waits for the FCN the EPO's answer brings
    assert ex.gateway.drain() == 0
    assert ex.states() == {f"{order_id}-001": "SENT", f"{order_id}-002": "QUEUED", f"{order_id}-003": "QUEUED"}
    ex.run()
    assert ex.states() == {f"{order_id}-{n:03d}": "ACCEPTED" for n in (1, 2, 3)}
    assert [(e.mcn, e.mke, e.result, e.times_received) for e in ex.ledger()] == [
        (f"{order_id}-001", "EPO", "ACK", 1),
        (f"{order_id}-002", "MPO", "ACK", 1),
        (f"{order_id}-003", "SPO", "ACK", 1),
    ]
    record = ex.record(order_id)
    assert record is not None and record.served and record.modifications == 1 and ".BRD/N" in record.fields
    assert ex.fcn(order_id) == record.fcn
    assert ex.order(order_id).carpos_status == "ACCEPTED"
    assert [kind for kind, _, _ in ex.inbox()] == ["ACK", "ACK", "ACK"]


def test_what_doj_sends_back_is_sealed_at_rest(ex, clerk):
    order_id = submit(ex, clerk)
    ex.run()
    fcn = ex.fcn(order_id)
    assert fcn and len(fcn) == 13
    with ex.db.read() as s:
        raw = [bytes(r[0]) for r in s.execute(text("SELECT text_sealed FROM carpos_inbox"))]
        raw += [bytes(r[0]) for r in s.execute(text("SELECT carpos_fcn_sealed FROM orders"))]
    assert raw and not any(fcn.encode() in blob or b"ACK" in blob for blob in raw)


def test_cancel_in_error_is_xpo_and_a_court_s_cancel_is_cpo(ex, clerk):
    erroneous, terminated = submit(ex, clerk), submit(ex, clerk)
    ex.run()
    with ex.db.unit_of_work() as s:
        service(ex).cancel(s, clerk, erroneous, 1, CancelReason.ENTERED_IN_ERROR, None, NO_SOURCE)
        service(ex).cancel(s, clerk, terminated, 1, CancelReason.TERMINATED_BY_COURT, None, NO_SOURCE)
    ex.run()
    assert [(e.mke, e.result) for e in ex.ledger()][2:] == [("XPO", "ACK"), ("CPO", "ACK")]
    assert (ex.record(erroneous).status, ex.record(terminated).status) == ("CANCELLED", "CLEARED")


def test_a_rejected_entry_supersedes_what_waited_and_is_fixed_by_resubmitting(ex, clerk):
    order_id = submit(ex, clerk)
    # DOJ already has this order on file (an earlier entry the hub lost track of): REJECT ON FILE.
    with ex.switch.db.unit_of_work() as s:
        s.add(Record(fcn="0190000099999", ori="CA019015J", oca=order_id, status="ACTIVE", fields="", nam="X,Y",
                     cti="CA019015J", entered_at=ex.clock(), updated_at=ex.clock()))  # fmt: skip
    modify(ex, clerk, order_id, 1, ProtectionOrderBradyIndicator="N")  # queued behind the EPO
    ex.run()
    assert ex.states() == {f"{order_id}-001": "REJECTED", f"{order_id}-002": "SUPERSEDED"}
    assert ex.order(order_id).carpos_status == "REJECTED" and ex.fcn(order_id) is None
    (kind, _, lines), = ex.inbox()  # fmt: skip
    assert kind == "REJ" and "REJECT ON FILE" in lines[0]
    modify(ex, clerk, order_id, 2, ProtectionOrderBradyIndicator="U")  # not in CARPOS: nothing queued
    assert len(ex.states()) == 2
    with ex.switch.db.unit_of_work() as s:  # DOJ removes its stale record
        s.execute(text("DELETE FROM records WHERE fcn = '0190000099999'"))
    with ex.db.unit_of_work() as s:
        _, mcn, mke = outbox.resubmit_order(s, service(ex), clerk, order_id, RESUBMIT)
    assert (mcn, mke) == (f"{order_id}-003", "EPO")
    ex.run()
    assert ex.states()[mcn] == "ACCEPTED" and ex.order(order_id).carpos_status == "ACCEPTED"
    assert ".BRD/U" in ex.record(order_id).fields  # the current version went
    with ex.db.unit_of_work() as s, pytest.raises(InvalidState):
        outbox.resubmit_order(s, service(ex), clerk, order_id, RESUBMIT)  # nothing rejected any more


def test_a_dropped_answer_is_fetched_by_resending_the_same_mcn(db, keyset, tmp_path, clerk):
    ex = exchange(db, keyset, tmp_path, drop_rate=1.0)
    order_id = submit(ex, clerk)
    ex.run()
    assert ex.states() == {f"{order_id}-001": "SENT"}
    ex.faults.drop_rate = 0.0
    ex.run()
    assert ex.states() == {f"{order_id}-001": "SENT"}  # not overdue yet: no resend
    ex.clock.advance(seconds=31)  # past the answer timeout
    ex.run()
    assert ex.messages() == [(f"{order_id}-001", "EPO", "ACCEPTED", 2)]
    (entry,) = ex.ledger()
    assert entry.times_received == 2 and ex.fcn(order_id) == entry.fcn  # entered once, answered twice
    assert sends(ex.db) == {f"{order_id}-001": ["SENT", "RESENT (attempt 2)"]}


def test_duplicated_and_reordered_answers_are_recorded_once(db, keyset, tmp_path, clerk):
    patient = RetryPolicy(max_attempts=4, base_delay=timedelta(seconds=2), answer_timeout=timedelta(minutes=5))
    ex = exchange(db, keyset, tmp_path, policy=patient, duplicate_rate=1.0, reorder_rate=1.0)
    orders = [submit(ex, clerk) for _ in range(12)]
    assert ex.gateway.drain() == 12
    page, _ = ex.switch.fetch(50)  # a look at what the gateway will read: each answer twice, out of order
    assert len(page) == 24 and [i for i, _ in page] != sorted(i for i, _ in page)
    ex.clock.advance(seconds=31)  # that look's mailbox lease runs out
    ex.run()
    assert set(ex.states().values()) == {"ACCEPTED"}
    assert len(ex.inbox()) == 12  # each DOJ answer once, though every one came twice
    assert {attempts for _, _, _, attempts in ex.messages()} == {1}  # from the one send, none resent
    ledger = {e.mcn: e.fcn for e in ex.ledger()}
    assert {o: ex.fcn(o) for o in orders} == {o: ledger[f"{o}-001"] for o in orders}


def test_transport_failures_back_off_then_go_dead_and_an_administrator_requeues(ex, clerk):
    from hub.api.app import OUTBOX_KINDS
    from hub.outbox import queue

    order_id = submit(ex, clerk)
    ex.transport.down = True
    due = []
    for attempt in range(1, 5):
        assert ex.gateway.drain() == 0
        (mcn, _, state, attempts), = ex.messages()  # fmt: skip
        with ex.db.read() as s:
            message = s.scalar(select(OutboxMessage))
        assert attempts == attempt and "switch is down" in message.last_error
        if attempt < 4:
            assert state == "QUEUED" and message.next_attempt_at > ex.clock()
            due.append(message.next_attempt_at - ex.clock())
            assert ex.gateway.drain() == 0 and ex.transport.calls == attempt  # waits out the backoff
            ex.clock.now = message.next_attempt_at
    assert state == "DEAD"
    assert all(timedelta(seconds=0.2) <= d <= timedelta(seconds=2 * 2**i) for i, d in enumerate(due))
    ex.transport.down = False
    ex.run()
    assert ex.states() == {mcn: "DEAD"}  # dead letters wait for a person
    with ex.db.unit_of_work() as s:
        entry, what = queue.requeue(s, mcn, ex.clock(), OUTBOX_KINDS)
    assert entry.state == "QUEUED" and entry.attempts == 0 and "requeued dead EPO" in what
    ex.run()
    assert ex.states() == {mcn: "ACCEPTED"} and ex.order(order_id).carpos_status == "ACCEPTED"


def test_a_transmission_the_switch_refuses_goes_dead_at_once(db, keyset, tmp_path, clerk):
    stranger = KeySet.make(tmp_path / "stranger")  # signs with a key DOJ does not pin
    ex = exchange(db, keyset, tmp_path)
    ex.gateway.channel = type(ex.gateway.channel)(stranger.hub, keyset.doj.certificate)
    submit(ex, clerk)
    assert ex.gateway.drain() == 0
    (mcn, _, state, attempts), = ex.messages()  # fmt: skip
    assert (state, attempts) == ("DEAD", 1)
    with ex.db.read() as s:
        assert "refused by the switch" in s.scalar(select(OutboxMessage.last_error))
    assert ex.ledger() == []


def test_a_lapsed_lease_lets_another_gateway_send_and_the_switch_takes_it_once(db, keyset, tmp_path, clerk):
    ex = exchange(db, keyset, tmp_path)
    order_id = submit(ex, clerk)
    claimed = ex.gateway.claim()  # this gateway dies right after its claim ...
    assert [c.mcn for c in claimed] == [f"{order_id}-001"]
    other = exchange(db, keyset, tmp_path)
    other.gateway.owner, other.clock = "second-gateway", ex.clock
    other.gateway.clock = other.switch.clock = ex.clock
    assert other.gateway.drain() == 0  # ... while its lease holds, nobody else sends
    ex.clock.advance(seconds=61)
    assert other.gateway.drain() == 1
    (late,) = ex.gateway.build(claimed)  # the first gateway was only slow: its transmission arrives late
    ex.gateway.record(Submitted([late], ex.transport.submit([late.sealed])))
    other.run()
    assert ex.messages() == [(f"{order_id}-001", "EPO", "ACCEPTED", 2)]
    (entry,) = ex.ledger()
    assert entry.times_received == 2  # two transmissions, one effect
    with db.read() as s:
        senders = s.execute(
            select(AuditEvent.client_address, AuditEvent.outcome)
            .where(AuditEvent.outcome.like("%SENT%"))
            .order_by(AuditEvent.seq)
        ).all()
    # Both transmissions audited; the one the hub learned of first is the message's SENT.
    assert [tuple(r) for r in senders] == [("second-gateway", "SENT"), ("test-gateway", "RESENT (attempt 1)")]
    assert not_sent_once(db) == {}


def test_every_carpos_transaction_is_audited(ex, clerk):
    order_id = submit(ex, clerk)
    ex.run()
    with ex.db.read() as s:
        events = s.execute(
            select(AuditEvent.category, AuditEvent.operation, AuditEvent.outcome, AuditEvent.target)
            .where(AuditEvent.category == "CARPOS")
            .order_by(AuditEvent.seq)
        ).all()
    assert [tuple(e) for e in events] == [
        ("CARPOS", "CARPOS EPO", "SENT", order_id),
        ("CARPOS", "CARPOS ACK", "RECEIVED", order_id),
    ]


def test_a_notice_reaches_the_order_s_organization(ex, clerk):
    order_id = submit(ex, clerk)
    ex.run()
    ex.switch.notice("CA019015J", ex.fcn(order_id), "RECORD REVIEW REQUESTED", oca=order_id)
    ex.run()
    kinds = [(kind, lines[0].split(".")[0]) for kind, _, lines in ex.inbox()]
    assert kinds == [("ACK", "ACK"), ("NTC", "NTC")]
    from hub.db.models import CarposInboxMessage

    with ex.db.read() as s:
        notice = s.scalar(select(CarposInboxMessage).where(CarposInboxMessage.kind == "NTC"))
    assert (
        notice.needs_action and notice.order_id == int(order_id[3:]) and notice.organization_id == clerk.organization_id
    )


def test_an_answer_that_does_not_verify_stays_in_the_mailbox(ex, clerk):
    submit(ex, clerk)
    ex.gateway.drain()
    wrong = KeySet.make(ex.keyset.directory.parent / f"wrong-{datetime.now(UTC).timestamp()}")
    pinned = ex.gateway.channel
    ex.gateway.channel = type(pinned)(pinned.own, wrong.doj.certificate)  # pinned to another DOJ certificate
    assert ex.gateway.poll() == (0, 0)
    assert ex.switch.fetch(10) == ([], 0)  # fetched, not acknowledged: hidden for the mailbox lease ...
    ex.clock.advance(seconds=31)
    items, _ = ex.switch.fetch(10)
    assert len(items) == 1  # ... then there again: kept for when the configuration is right
    ex.clock.advance(seconds=31)
    ex.gateway.channel = pinned
    ex.run()
    assert set(ex.states().values()) == {"ACCEPTED"}


def test_an_answer_recorded_before_the_send_is_still_a_sent_transmission(ex, clerk):
    order_id = submit(ex, clerk)
    gateway = ex.gateway
    claimed = gateway.claim()
    built = gateway.build(claimed)
    receipts = ex.transport.submit([b.sealed for b in built])
    assert gateway.poll()[0] == 1  # a receiver (another thread or gateway) records DOJ's answer first ...
    gateway.record(Submitted(built, receipts))  # ... then the sender records its send
    assert ex.states() == {f"{order_id}-001": "ACCEPTED"}  # the answer stands
    with ex.db.read() as s:
        outcomes = s.scalars(
            select(AuditEvent.outcome).where(AuditEvent.category == "CARPOS").order_by(AuditEvent.seq)
        ).all()
    assert outcomes == ["SENT", "RECEIVED"]  # the one transmission audited once, with its answer
    assert not_sent_once(ex.db) == {}


def _answered_while_queued_for_a_retry(ex: Exchange) -> None:
    ex.transport.receipts_lost = True
    assert ex.gateway.drain() == 0


def _answered_once_it_went_dead(ex: Exchange) -> None:
    ex.transport.receipts_lost = True
    ex.gateway.policy = RetryPolicy(max_attempts=1)
    assert ex.gateway.drain() == 0


def _answered_while_its_sender_was_dead(ex: Exchange) -> None:
    built = ex.gateway.build(ex.gateway.claim())
    ex.transport.submit([b.sealed for b in built])  # the switch takes it; the sender is killed before recording


@pytest.mark.parametrize(
    ("where", "state"),
    [
        (_answered_while_queued_for_a_retry, "QUEUED"),
        (_answered_once_it_went_dead, "DEAD"),
        (_answered_while_its_sender_was_dead, "QUEUED"),
    ],
    ids=["queued-for-a-retry", "dead", "leased-to-a-killed-sender"],
)
def test_a_transmission_whose_receipt_was_lost_is_recorded_sent_by_its_answer(ex, clerk, where, state):
    orders = [submit(ex, clerk) for _ in range(3)]
    taken_at = ex.clock()
    where(ex)  # the switch took the batch; the hub has no record of sending it
    assert set(ex.states().values()) == {state} and len(ex.ledger()) == 3
    ex.clock.advance(seconds=5)
    with ex.db.read() as s:
        before = s.scalar(select(func.max(AuditEvent.seq))) or 0
    assert ex.gateway.poll() == (3, 0)  # DOJ's answers come through the mailbox
    assert ex.states() == {f"{o}-001": "ACCEPTED" for o in orders}
    with ex.db.read() as s:
        times = s.execute(select(OutboxMessage.sent_at, OutboxMessage.answered_at)).all()
        events = s.execute(
            select(AuditEvent.operation, AuditEvent.outcome, AuditEvent.target, AuditEvent.detail)
            .where(AuditEvent.seq > before)
            .order_by(AuditEvent.seq)
        ).all()
    # Sent when DOJ made its answer (DOJ had the transmission by then), not when the hub read it.
    assert set(times) == {(taken_at, ex.clock())}
    assert [tuple(e) for e in events] == [  # recorded with the answers, in their transaction
        *(("CARPOS EPO", "SENT", o, f"MCN {o}-001, known from DOJ's answer") for o in orders),
        *(("CARPOS ACK", "RECEIVED", o, f"MCN {o}-001") for o in orders),
    ]
    assert not_sent_once(ex.db) == {}
    assert ex.run() == 0  # nothing left to send: a message settled is never claimed again


def test_a_resend_the_switch_answers_from_its_ledger_is_the_message_s_one_sent(ex, clerk):
    order_id = submit(ex, clerk)
    ex.transport.receipts_lost = True
    assert ex.gateway.drain() == 0  # attempt 1 reaches the switch, its receipt does not reach the hub
    ex.transport.receipts_lost = False
    with ex.db.read() as s:
        ex.clock.now = s.scalar(select(OutboxMessage.next_attempt_at))
    assert ex.gateway.drain() == 1  # attempt 2: the switch answers it from its ledger
    assert ex.gateway.poll() == (2, 0)  # DOJ's one answer, delivered once for each transmission
    assert ex.messages() == [(f"{order_id}-001", "EPO", "ACCEPTED", 2)] and ex.ledger()[0].times_received == 2
    assert sends(ex.db) == {f"{order_id}-001": ["SENT"]}  # the first transmission the hub knows of
    assert not_sent_once(ex.db) == {}


def _set_record(ex: Exchange, oca: str, status: str) -> None:
    with ex.switch.db.unit_of_work() as s:
        s.execute(text("UPDATE records SET status = :st WHERE oca = :oca"), {"st": status, "oca": oca})


def test_a_purged_message_s_number_is_never_given_again(ex, clerk):
    from hub.api.app import OUTBOX_KINDS
    from hub.outbox import queue

    order_id = submit(ex, clerk)
    ex.run()
    modify(ex, clerk, order_id, 1, ProtectionOrderBradyIndicator="N")
    with ex.db.unit_of_work() as s:  # the MPO died long ago and an administrator purges it
        s.execute(text("UPDATE outbox SET state = 'DEAD', updated_at = :t WHERE mcn = :m"),
                  {"t": ex.clock() - timedelta(days=30), "m": f"{order_id}-002"})  # fmt: skip
        assert queue.purge_dead(s, timedelta(days=7), ex.clock(), OUTBOX_KINDS) == (1, [])
    modify(ex, clerk, order_id, 2, ProtectionOrderBradyIndicator="Y")
    ex.run()
    assert ex.states() == {f"{order_id}-001": "ACCEPTED", f"{order_id}-003": "ACCEPTED"}  # -002 is not reused
    assert ".BRD/Y" in ex.record(order_id).fields  # so DOJ applied the new change, not an old answer


def test_a_message_doj_never_answers_goes_dead_when_its_attempts_run_out(db, keyset, tmp_path, clerk):
    ex = exchange(db, keyset, tmp_path, drop_rate=1.0)
    order_id = submit(ex, clerk)
    for _ in range(5):  # max_attempts is 4 in this exchange
        ex.run()
        ex.clock.advance(seconds=31)
    ex.run()
    (mcn, _, state, attempts), = ex.messages()  # fmt: skip
    assert (state, attempts) == ("DEAD", 5)
    with ex.db.read() as s:
        assert s.scalar(select(OutboxMessage.last_error)) == "DOJ did not answer 4 transmissions"
    assert ex.ledger()[0].times_received == 4 and ex.order(order_id).carpos_status == "PENDING"


def test_an_answer_the_hub_cannot_read_settles_its_message_as_a_reject(ex, clerk):
    from hub.carpos.envelope import Header, MessageKey, Transmission

    order_id = submit(ex, clerk)
    ex.faults.drop_rate = 1.0
    ex.gateway.drain()
    ex.faults.drop_rate = 0.0
    mcn = f"{order_id}-001"
    broken = Transmission(
        Header("DOJ-X1", "CADOJ0000", "CA019015J", MessageKey.ACK, ex.clock(), ex.clock(), order_id, relates_to=mcn),
        (f"ACK.MCN/{mcn}",),  # an ACK without its FCN
    )
    with ex.switch.db.unit_of_work() as s:
        ex.switch.post(s, broken, ex.clock())
    ex.run()
    assert ex.states() == {mcn: "REJECTED"} and ex.order(order_id).carpos_status == "REJECTED"
    (kind, _, lines), = ex.inbox()  # fmt: skip
    assert (kind, lines) == ("ACK", (f"ACK.MCN/{mcn}",))  # DOJ's text kept as it came, for a CLETS user


def test_an_answer_to_a_query_the_hub_cannot_read_reaches_the_asker_as_doj_sent_it(ex, db):
    """Not a Server fault on every ask: the asker gets DOJ's lines (UNREADABLE) to read themselves."""
    from hub.carpos import codec, inbox, outbox

    asker = make_user(db, "la-clets-reader", role=Role.QUERY_ONLY, clets=True)
    with ex.db.unit_of_work() as s:
        query = codec.build(codec.Mke.QPO, [("ORI", asker.ori), ("FCN", "0190000000042")])
        mcn = outbox.query(s, asker, query, ex.vault, ex.clock())
    ex.faults.garble_rate = 1.0  # DOJ's answer comes with line noise before it
    ex.run()
    assert ex.states() == {mcn: "REJECTED"}  # settled as the gateway settles any unreadable answer
    with ex.db.read() as s:
        outcome = inbox.query_outcome(s, asker, mcn, ex.vault)
    assert (outcome.status, outcome.records, outcome.lines) == ("UNREADABLE", (), (f"?QRY.MCN/{mcn}.CNT/0",))
    assert outcome.reason == "UNKNOWN ANSWER (?QR)"


def test_a_lapsed_claim_cannot_touch_the_row_its_successor_holds(ex, clerk):
    submit(ex, clerk)
    first = ex.gateway.claim()
    ex.clock.advance(seconds=61)  # the first claim's lease lapses while its submit hangs ...
    second = ex.gateway.claim()  # ... and the same process claims the message again
    assert [c.mcn for c in first] == [c.mcn for c in second] and first[0].lease != second[0].lease
    built = ex.gateway.build(first)
    ex.gateway.record(Submitted(built, [], TransportError("Read timed out")))  # the first one's failure ...
    with ex.db.read() as s:
        row = s.scalar(select(OutboxMessage))
    assert row.lease_owner == second[0].lease and row.last_error is None  # ... changes nothing


def test_a_notice_goes_to_the_organization_doj_addressed(ex, clerk, db):
    from hub.db.models import CarposInboxMessage
    from tests.conftest import make_user

    deputy = make_user(db, "la-deputy", ori="CA0190000")
    order_id = submit(ex, clerk)
    ex.run()
    ex.switch.notice("CA0190000", ex.fcn(order_id), "SERVICE ATTEMPT FAILED", oca=order_id)
    ex.run()
    with ex.db.read() as s:
        notice = s.scalar(select(CarposInboxMessage).where(CarposInboxMessage.kind == "NTC"))
    assert notice.organization_id == deputy.organization_id and notice.order_id == int(order_id[3:])


def test_a_rejected_change_is_resubmitted_as_the_order_s_current_record(ex, clerk):
    order_id = submit(ex, clerk)
    ex.run()
    _set_record(ex, order_id, "CLEARED")  # DOJ cleared it by mistake: the MPO is NOT ON FILE
    modify(ex, clerk, order_id, 1, ProtectionOrderBradyIndicator="N")
    ex.run()
    _set_record(ex, order_id, "ACTIVE")  # DOJ restores the record; service goes through
    with ex.db.unit_of_work() as s:
        service(ex).serve(s, clerk, order_id, 2, order_element(proof(), tag=f"{SVC}ProofOfService"), NO_SOURCE)
    ex.run()
    assert ex.states() == {f"{order_id}-001": "ACCEPTED", f"{order_id}-002": "REJECTED", f"{order_id}-003": "ACCEPTED"}
    assert ".BRD/N" not in ex.record(order_id).fields
    with ex.db.unit_of_work() as s:
        _, mcn, mke = outbox.resubmit_order(s, service(ex), clerk, order_id, RESUBMIT)
    assert (mcn, mke) == (f"{order_id}-004", "MPO")
    ex.run()
    assert ex.states()[mcn] == "ACCEPTED" and ".BRD/N" in ex.record(order_id).fields
    with ex.db.unit_of_work() as s, pytest.raises(InvalidState, match="nothing to resubmit"):
        outbox.resubmit_order(
            s, service(ex), clerk, order_id, RESUBMIT
        )  # its reject was dealt with by the resubmission


# -------------------------------------------------------------- concurrent writers (PostgreSQL only)


def _postgres_only(db: Database) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has a single writer: two gateways never record a page at the same moment")


def _inserts_into_inbox(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO CARPOS_INBOX")


def test_answers_another_gateway_recorded_meanwhile_are_recorded_once_and_a_refused_one_stays(
    db, keyset, tmp_path, clerk
):
    _postgres_only(db)
    ex = exchange(db, keyset, tmp_path, duplicate_rate=1.0)  # the mailbox: a1 a1' a2 a2' a3 a3' a4 a4'
    orders = [submit(ex, clerk) for _ in range(4)]
    assert ex.gateway.drain() == 4
    other = exchange(db, keyset, tmp_path)
    other.gateway.owner = "second-gateway"
    other.gateway.clock = other.switch.clock = other.clock = ex.clock
    ex.gateway.batch = 5  # this gateway's page: a1 a1' a2 a2' a3
    refused_mcn = f"DOJ-{orders[1]}-001"  # a2: the database refuses it on its own as well
    raced = []

    def race(conn, cursor, statement, parameters, context, executemany):
        if not raced and "FROM carpos_inbox" in statement:
            raced.append(True)  # between this page's check for known answers and its insert ...
            assert other.gateway.poll() == (3, 0)  # ... the other gateway records a3' a4 a4'

    def refuse(conn, cursor, statement, parameters, context, executemany):
        named = {f"DOJ-{o}-001" for o in orders if f"DOJ-{o}-001" in str(parameters)}
        if _inserts_into_inbox(statement) and named == {refused_mcn}:  # a2's own insert, not the page's
            raise IntegrityError(statement, parameters, Exception("injected: a check constraint refuses a2"))

    errors: list[str] = []

    def failed(context):
        errors.append(type(context.original_exception).__name__)

    hooks = [("after_cursor_execute", race), ("before_cursor_execute", refuse), ("handle_error", failed)]
    for name, hook in hooks:
        event.listen(db.engine, name, hook)
    try:
        # The page's insert conflicts on a3; answer by answer, a1 is recorded, a3 found recorded by
        # the other, and a2 cannot be: only a1, a1' and a3 leave the mailbox.
        assert ex.gateway.poll() == (3, 3)  # 3 were still waiting when it read its page
    finally:
        for name, hook in hooks:
            event.remove(db.engine, name, hook)
    # The page's insert met the other gateway's a3 (a real unique violation), then a2 was refused twice.
    assert raced and errors == ["UniqueViolation", "IntegrityError", "IntegrityError"]
    ex.clock.advance(seconds=31)  # the mailbox lease on the unacknowledged answers runs out
    left, _ = ex.switch.fetch(10)
    assert len(left) == 2 and {ex.gateway.channel.open(b).header.mcn for _, b in left} == {refused_mcn}
    ex.clock.advance(seconds=31)
    ex.run()
    assert set(ex.states().values()) == {"ACCEPTED"}
    assert sorted(mcn for _, mcn, _ in ex.inbox()) == sorted(f"DOJ-{o}-001" for o in orders)


def test_a_receipt_recorded_while_the_answer_is_being_recorded_is_the_one_sent(ex, db, clerk):
    _postgres_only(db)
    order_id = submit(ex, clerk)
    built = ex.gateway.build(ex.gateway.claim())
    receipts = ex.transport.submit([b.sealed for b in built])
    raced = []

    def race(conn, cursor, statement, parameters, context, executemany):
        if not raced and "FROM outbox" in statement:
            raced.append(True)  # the receiver read the message: no send recorded yet ...
            ex.gateway.record(Submitted(built, receipts))  # ... and the sender records its receipt

    event.listen(db.engine, "after_cursor_execute", race)
    try:
        assert ex.gateway.poll() == (1, 0)
    finally:
        event.remove(db.engine, "after_cursor_execute", race)
    assert raced and ex.states() == {f"{order_id}-001": "ACCEPTED"}
    assert sends(ex.db) == {f"{order_id}-001": ["SENT"]}  # marked once: the receiver found the time set
    assert not_sent_once(ex.db) == {}


def test_a_page_that_cannot_take_its_order_locks_stays_in_doj_s_mailbox(db, keyset, tmp_path, clerk):
    _postgres_only(db)
    ex = exchange(db, keyset, tmp_path)
    order_id = submit(ex, clerk)
    assert ex.gateway.drain() == 1

    def impatient(conn, cursor, statement, parameters, context, executemany):
        if "FROM orders" in statement and "FOR UPDATE" in statement:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")

    event.listen(db.engine, "before_cursor_execute", impatient)
    try:
        with db.engine.connect() as holder:  # another transaction holds the order's row
            holder.execute(text("SELECT id FROM orders WHERE id = :i FOR UPDATE"), {"i": int(order_id[3:])})
            assert ex.gateway.poll() == (0, 0)  # the lock wait fails: nothing recorded, nothing acknowledged
            holder.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", impatient)
    assert ex.inbox() == [] and ex.states() == {f"{order_id}-001": "SENT"}
    ex.clock.advance(seconds=31)
    ex.run()
    assert ex.states() == {f"{order_id}-001": "ACCEPTED"} and len(ex.inbox()) == 1


def test_a_claim_skips_messages_another_gateway_has_locked(db, keyset, tmp_path, clerk):
    _postgres_only(db)
    ex = exchange(db, keyset, tmp_path)
    first, second = submit(ex, clerk), submit(ex, clerk)

    def impatient(conn, cursor, statement, parameters, context, executemany):
        if "FROM outbox" in statement and "FOR UPDATE" in statement:
            cursor.execute("SET LOCAL lock_timeout = '2s'")  # a claim that waited would fail, not hang

    event.listen(db.engine, "before_cursor_execute", impatient)
    try:
        with db.engine.connect() as holder:  # another gateway is claiming the first order's EPO
            holder.execute(text("SELECT id FROM outbox WHERE mcn = :m FOR UPDATE"), {"m": f"{first}-001"})
            claimed = ex.gateway.claim()
            holder.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", impatient)
    assert [c.mcn for c in claimed] == [f"{second}-001"]  # passed over, not waited for
    assert [c.mcn for c in ex.gateway.claim()] == [f"{first}-001"]  # and claimed once the other lets go


def test_a_mailbox_page_whose_recording_lost_a_deadlock_is_recorded_again_at_once(ex, clerk):
    """The receiver chosen as a deadlock's victim (the database rolls its transaction back) records
    the page again in the same poll: the answer does not wait out the switch's mailbox lease."""
    from sqlalchemy.exc import OperationalError

    order_id = submit(ex, clerk)
    assert ex.gateway.drain() == 1
    failed: list[str] = []

    def victim_once(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not failed and statement.lstrip().upper().startswith("INSERT INTO CARPOS_INBOX"):
            failed.append(statement)  # the page's first write: the database picks this transaction
            raise OperationalError(statement, parameters, Exception("deadlock detected"))

    event.listen(ex.db.engine, "before_cursor_execute", victim_once)
    try:
        assert ex.gateway.poll() == (1, 0) and failed  # recorded (and acknowledged) by this very poll
    finally:
        event.remove(ex.db.engine, "before_cursor_execute", victim_once)
    assert ex.states() == {f"{order_id}-001": "ACCEPTED"} and len(ex.inbox()) == 1  # once, not twice
