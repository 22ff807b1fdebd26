"""The hash-chained audit trail on both databases: recording, tamper detection, retention."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.audit import ADMIN, IMAGE, LOGON, QUERY, WITNESS_SLACK, AuditTrail, Event, category_of
from hub.db.engine import Database
from hub.db.models import Account
from hub.errors import IntegrityFailure
from hub.masterkey import MasterKey
from tests.conftest import make_user

T0 = datetime(2026, 1, 5, 8, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
def trail() -> AuditTrail:
    return AuditTrail(MasterKey(os.urandom(32)))


def _record(db: Database, trail: AuditTrail, n: int, start: datetime = T0) -> None:
    for i in range(n):
        with db.unit_of_work() as session:
            trail.record(
                session.connection(),
                Event(
                    at=start + timedelta(seconds=i),
                    username=f"user{i}",
                    org_ori="CA019015J",
                    operation="GetOrder",
                    outcome="OK",
                    target=f"CCP{i:010d}",
                    client_address="10.1.2.3",
                ),
            )


def _verify(db: Database, trail: AuditTrail):
    with db.read() as session:
        return trail.verify(session.connection())


def _sql(db: Database, statement: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(statement))


def test_events_chain_in_order_and_verify(db: Database, trail: AuditTrail):
    _record(db, trail, 5)
    result = _verify(db, trail)
    assert result.ok and result.checked == 5 and result.head_seq == 5
    with db.read() as session:
        rows = session.execute(sa.text("select seq, at, category from audit_events order by seq")).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert {r.category for r in rows} == {"VIEW"}


def test_a_batch_of_events_chains_like_single_ones(db: Database, trail: AuditTrail):
    _record(db, trail, 2)
    batch = [
        Event(at=T0 + timedelta(minutes=i), username="ccpor-gateway", org_ori="CA019015J", operation="CARPOS EPO",
              outcome="SENT", target=f"CCP{i:010d}", category="CARPOS")
        for i in range(4)
    ]  # fmt: skip
    with db.unit_of_work() as session:
        assert trail.record_all(session.connection(), batch) == [3, 4, 5, 6]
        assert trail.record_all(session.connection(), []) == []
    _record(db, trail, 1)
    result = _verify(db, trail)
    assert result.ok and result.checked == 7 and result.head_seq == 7
    _sql(db, "update audit_events set outcome = 'REFUSED' where seq = 5")
    assert [seq for seq, _ in _verify(db, trail).problems] == [5]


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("update audit_events set outcome = 'Client.Forbidden' where seq = 3", 3),
        ("update audit_events set target = 'CCP9999999999' where seq = 2", 2),
        ("update audit_events set client_address = '1.1.1.1' where seq = 5", 5),
        ("delete from audit_events where seq = 2", 2),
        ("delete from audit_events where seq = 5", 5),  # the tail: only the head shows it
        ("update audit_events set seq = seq + 100 where seq = 4", 4),
    ],
)
def test_any_edit_or_deletion_breaks_the_chain(db: Database, trail: AuditTrail, tamper: str, first_bad: int):
    _record(db, trail, 5)
    _sql(db, tamper)
    result = _verify(db, trail)
    assert not result.ok
    assert result.problems[0][0] == first_bad


def test_truncating_the_tail_and_rolling_the_head_back_is_detected(db: Database, trail: AuditTrail):
    _record(db, trail, 5)
    _sql(db, "delete from audit_events where seq > 3")
    _sql(db, "update audit_chain set seq = 3, mac = (select mac from audit_events where seq = 3)")
    result = _verify(db, trail)
    assert not result.ok and "changed without the key" in result.problems[0][1]
    _record(db, trail, 1)  # the hub goes on writing: the broken seal is never sealed over
    assert not _verify(db, trail).ok
    with pytest.raises(IntegrityFailure), db.unit_of_work() as session:
        trail.purge(session.connection(), T0 + timedelta(days=1))  # no purge on a tampered chain


def test_deleting_the_oldest_events_and_moving_the_base_is_detected(db: Database, trail: AuditTrail):
    _record(db, trail, 5)
    _sql(db, "delete from audit_events where seq <= 2")
    _sql(db, "update audit_chain set base_seq = 2, base_mac = '', seal = ''")  # as if nothing were chained
    _sql(db, "update audit_chain set seq = 2")  # and the "initial state" look: seq == base_seq
    result = _verify(db, trail)
    assert not result.ok


def test_moving_the_base_over_chained_events_is_detected(db: Database, trail: AuditTrail):
    _record(db, trail, 4)
    _sql(db, "update audit_chain set base_seq = seq, base_mac = '', seal = ''")  # hide every event below the base
    result = _verify(db, trail)
    assert any("moved past events without a purge" in what for _, what in result.problems)


def test_an_anchor_kept_outside_catches_a_rollback_of_table_and_chain_row(db: Database, trail: AuditTrail):
    _record(db, trail, 3)
    with db.read() as session:
        saved = session.execute(sa.text("select seq, mac, base_seq, base_mac, seal from audit_chain")).one()
    _record(db, trail, 2)
    anchor = (5, _verify(db, trail).head_mac)  # what the operator kept after the last verify
    assert _verify_anchored(db, trail, anchor).ok
    _sql(db, "delete from audit_events where seq > 3")
    restore = "update audit_chain set seq=:seq, mac=:mac, base_seq=:base_seq, base_mac=:base_mac, seal=:seal"
    with db.engine.begin() as conn:  # the attacker restores the chain row copied at event 3
        conn.execute(sa.text(restore), saved._asdict())
    assert _verify(db, trail).ok  # without the anchor, a consistent older state looks intact
    assert not _verify_anchored(db, trail, anchor).ok


def _verify_anchored(db: Database, trail: AuditTrail, anchor: tuple[int, str]):
    with db.read() as session:
        return trail.verify(session.connection(), anchor=anchor)


def _account_created(db: Database, name: str, at: datetime) -> None:
    """An account as ``SaveUser`` or ``users add`` leaves it: created at ``at`` (beside its audit event)."""
    make_user(db, name)
    with db.unit_of_work() as session:
        session.scalars(sa.select(Account).where(Account.username == name)).one().created_at = at


_WIPE = "delete from audit_events"
#: The chain row an attacker without the key can write: the issue's "head = base, nothing sealed", and
#: the row exactly as migration 0005 writes it.
_RESETS = {
    "head at base, unsealed": "update audit_chain set seq=5, mac='', base_seq=5, base_mac='', seal=''",
    "initial row": "update audit_chain set seq=0, mac='', base_seq=0, base_mac='', seal=''",
}


@pytest.mark.parametrize("reset", sorted(_RESETS))
def test_wiping_every_event_and_resetting_the_chain_row_is_detected(db: Database, trail: AuditTrail, reset: str):
    _account_created(db, "clerk", T0)  # the account users add created with the first event
    _record(db, trail, 5)
    anchor = (5, _verify(db, trail).head_mac)
    assert _verify(db, trail).ok and _verify_anchored(db, trail, anchor).ok
    _sql(db, _WIPE)
    _sql(db, _RESETS[reset])
    assert not _verify(db, trail).ok  # without an anchor: the seal, or the account older than any event
    assert not _verify_anchored(db, trail, anchor).ok
    with pytest.raises(IntegrityFailure), db.unit_of_work() as session:
        trail.purge(session.connection(), T0 + timedelta(days=400))  # no purge buries it


def test_a_reset_chain_stays_detected_while_the_hub_goes_on_writing(db: Database, trail: AuditTrail):
    _account_created(db, "clerk", T0)
    _record(db, trail, 5)
    anchor = (5, _verify(db, trail).head_mac)
    _sql(db, _WIPE)
    _sql(db, _RESETS["initial row"])
    _record(db, trail, 6, start=T0 + timedelta(days=2))  # the hub seals the reset row and chains on
    result = _verify(db, trail)
    assert not result.ok and "the events before were deleted" in result.problems[0][1]
    assert not _verify_anchored(db, trail, anchor).ok  # event 5 is there again, with another mac


def test_a_fresh_database_verifies_and_data_without_any_event_does_not(db: Database, trail: AuditTrail):
    assert _verify(db, trail).ok  # the initial row, nothing recorded yet
    _account_created(db, "clerk", T0)  # an account that no audited call created
    assert not _verify(db, trail).ok


def test_events_removed_behind_newer_data_are_detected_without_an_anchor(db: Database, trail: AuditTrail):
    _record(db, trail, 3)
    with db.read() as session:
        saved = session.execute(sa.text("select seq, mac, base_seq, base_mac, seal from audit_chain")).one()
    later = T0 + timedelta(hours=1)
    _account_created(db, "late-clerk", later)
    _record(db, trail, 2, start=later)
    assert _verify(db, trail).ok
    _sql(db, "delete from audit_events where seq > 3")
    restore = "update audit_chain set seq=:seq, mac=:mac, base_seq=:base_seq, base_mac=:base_mac, seal=:seal"
    with db.engine.begin() as conn:
        conn.execute(sa.text(restore), saved._asdict())
    result = _verify(db, trail)  # a consistent older chain, but an account newer than its last event
    assert not result.ok and "newer events were deleted" in result.problems[0][1]


def test_the_slack_between_a_row_and_its_event_is_not_a_problem(db: Database, trail: AuditTrail):
    _account_created(db, "clerk", T0 - WITNESS_SLACK + timedelta(seconds=1))
    _record(db, trail, 2)
    _account_created(db, "clerk2", T0 + timedelta(seconds=1) + WITNESS_SLACK - timedelta(seconds=1))
    assert _verify(db, trail).ok


def test_anchors_at_and_below_a_purged_base(db: Database, trail: AuditTrail):
    _record(db, trail, 3, start=T0 - timedelta(days=400))
    anchors = {}
    for seq in (2, 3):
        with db.read() as session:
            anchors[seq] = (seq, session.scalar(sa.text("select mac from audit_events where seq = :s"), {"s": seq}))
    _record(db, trail, 2, start=T0)
    with db.unit_of_work() as session:
        assert trail.purge(session.connection(), T0 - timedelta(days=365)) == (3, 3)
    at_base = _verify_anchored(db, trail, anchors[3])
    assert at_base.ok and not at_base.anchor_purged  # compared with the base's mac
    below = _verify_anchored(db, trail, anchors[2])
    assert below.ok and below.anchor_purged  # purged by retention: reported as not comparable
    assert not _verify_anchored(db, trail, (3, "0" * 64)).ok


def test_a_forged_event_without_the_key_is_detected(db: Database, trail: AuditTrail):
    _record(db, trail, 3)
    forger = AuditTrail(MasterKey(os.urandom(32)))  # has database access, not the key file
    with db.unit_of_work() as session:
        forger.record(session.connection(), Event(T0, "intruder", "CA019015J", "GetOrder", "OK"))
    result = _verify(db, trail)
    assert {seq for seq, _ in result.problems} == {4}  # the forged event, and the chain row it re-sealed
    assert any("the event was changed" in what for _, what in result.problems)


def test_the_same_timestamp_survives_the_round_trip_to_hundredths(db: Database, trail: AuditTrail):
    _record(db, trail, 1)
    with db.read() as session:
        at = session.execute(sa.text("select at from audit_events")).scalar_one()
    assert str(at).startswith("2026-01-05 08:30:00.12")  # stored with sub-second precision


def test_a_rolled_back_transaction_leaves_no_event_and_no_gap(db: Database, trail: AuditTrail):
    _record(db, trail, 2)
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        trail.record(session.connection(), Event(T0, "x", "CA019015J", "SubmitOrder", "OK"))
        raise RuntimeError("the change failed after its audit row")
    _record(db, trail, 1)
    result = _verify(db, trail)
    assert result.ok and result.checked == 3 and result.head_seq == 3


def test_purge_removes_a_prefix_and_the_rest_still_verifies(db: Database, trail: AuditTrail):
    _record(db, trail, 3, start=T0 - timedelta(days=400))
    _record(db, trail, 2, start=T0)
    with db.unit_of_work() as session:
        count, base = trail.purge(session.connection(), T0 - timedelta(days=365))
    assert (count, base) == (3, 3)
    result = _verify(db, trail)
    assert result.ok and result.checked == 2 and result.base_seq == 3
    _record(db, trail, 1, start=T0 + timedelta(days=1))
    assert _verify(db, trail).ok
    with db.unit_of_work() as session:
        assert trail.purge(session.connection(), T0 - timedelta(days=365)) == (0, 3)  # nothing older left


def test_concurrent_writers_get_gapless_sequence_numbers(db: Database, trail: AuditTrail):
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _record(db, trail, 20)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = _verify(db, trail)
    assert result.ok and result.checked == 80 and result.head_seq == 80


def test_categories():
    assert category_of("SubmitOrder", "Client.Authentication") == LOGON
    assert category_of("SearchOrders", "OK") == QUERY
    assert category_of("GetImage", "OK") == IMAGE
    assert category_of("UnlockUser", "OK", ADMIN) == ADMIN
    assert category_of("UnlockUser", "Client.Authentication", ADMIN) == LOGON
    assert category_of("ListCarposMessages", "OK") == "CARPOS"
    assert category_of("ModifyOrder", "OK") == "CHANGE"


def test_a_database_that_held_events_before_the_chain_verifies_and_is_sealed_by_the_next_event(tmp_path: Path):
    """Migration 0005 on a database with events writes the chain row (N, '', N, '') unsealed: its
    events 1..N predate the chain. That row is accepted (and reported) while those events are all
    there and unchained, and the hub's next event seals it; deleting one of them breaks it."""
    from hub.db import migrate

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    migrate.upgrade(url, "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for _ in range(3):
            conn.execute(
                sa.text(
                    "insert into audit_events (at, username, org_ori, operation, target, outcome, client_address)"
                    " values (:at, 'u', 'CA019015J', 'GetOrder', '', 'OK', '')"
                ),
                {"at": T0.isoformat()},
            )
    engine.dispose()
    migrate.upgrade(url)
    db = Database(url)
    trail = AuditTrail(MasterKey(os.urandom(32)))
    try:
        before = _verify(db, trail)
        assert before.ok and before.legacy and before.base_seq == 3
        assert not _verify_anchored(db, trail, (2, "0" * 64)).ok  # no unchained event can be an anchor
        _record(db, trail, 2, start=T0 + timedelta(days=1))  # the upgraded hub goes on writing: sealed
        after = _verify(db, trail)
        assert after.ok and not after.legacy and after.checked == 2
        _sql(db, "delete from audit_events where seq = 2")  # now a legacy event's deletion is no matter:
        assert _verify(db, trail).ok  # it was never protected, and the sealed base moves no more
    finally:
        db.dispose()


def test_an_unsealed_legacy_looking_row_needs_all_its_unchained_events(tmp_path: Path, trail: AuditTrail):
    from hub.db import migrate

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    migrate.upgrade(url)
    db = Database(url)
    try:
        _record(db, trail, 5)
        _sql(db, "delete from audit_events")  # the wipe, chain row "as migration 0005 writes it"
        _sql(db, "update audit_chain set seq=5, mac='', base_seq=5, base_mac='', seal=''")
        result = _verify(db, trail)
        assert not result.ok and not result.legacy
    finally:
        db.dispose()
