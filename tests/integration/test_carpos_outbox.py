"""Order changes that CARPOS must hear about: checked first, queued in the same transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.carpos.outbox import CarposForwarding
from hub.clock import COURTS
from hub.codes import CancelReason
from hub.db.engine import Database
from hub.db.models import Order, OutboxMessage
from hub.errors import ValidationError
from hub.orders.service import OrderService, Source
from tests.support.orders import order, order_element, proof

svc = OrderService(forwarding=CarposForwarding())
NO_SOURCE = Source(None, None)


def outbox(db: Database) -> list[tuple[str, int, int, str, str]]:
    with db.read() as s:
        rows = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(m.mke, m.order_seq, m.order_version, m.state, m.mcn) for m in rows]


def carpos_status(db: Database, order_id: str) -> str | None:
    with db.read() as s:
        return s.scalar(select(Order.carpos_status).where(Order.id == int(order_id[3:])))


def test_an_order_entered_in_carpos_takes_its_changes_there_in_order(db, clerk):
    with db.unit_of_work() as s:
        r = svc.submit(s, clerk, order_element(order()), carpos_requested=True)
    assert outbox(db) == [("EPO", 1, 1, "QUEUED", f"{r.order_id}-001")]
    assert carpos_status(db, r.order_id) == "PENDING"
    with db.unit_of_work() as s:
        svc.modify(s, clerk, r.order_id, 1, order_element(order(ProtectionOrderBradyIndicator="N")))
    with db.unit_of_work() as s:
        svc.serve(s, clerk, r.order_id, 2, order_element(proof(), tag="{urn:ca:courts:ccpor:orders:1}ProofOfService"),
                  NO_SOURCE)  # fmt: skip
    with db.unit_of_work() as s:
        svc.cancel(s, clerk, r.order_id, 3, CancelReason.ENTERED_IN_ERROR, None, NO_SOURCE)
    assert [(m[0], m[1], m[2]) for m in outbox(db)] == [("EPO", 1, 1), ("MPO", 2, 2), ("SPO", 3, 3), ("XPO", 4, 4)]


def test_a_court_s_cancel_is_a_clear_and_orders_outside_carpos_send_nothing(db, clerk):
    with db.unit_of_work() as s:
        in_carpos = svc.submit(s, clerk, order_element(order()), carpos_requested=True)
        local = svc.submit(s, clerk, order_element(order()))
    with db.unit_of_work() as s:
        svc.cancel(s, clerk, in_carpos.order_id, 1, CancelReason.TERMINATED_BY_COURT, None, NO_SOURCE)
        svc.cancel(s, clerk, local.order_id, 1, CancelReason.TERMINATED_BY_COURT, None, NO_SOURCE)
    assert [m[0] for m in outbox(db)] == ["EPO", "CPO"]
    assert carpos_status(db, local.order_id) is None


def test_nothing_is_queued_for_a_rolled_back_change(db, clerk):
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        svc.submit(s, clerk, order_element(order()), carpos_requested=True)
        raise RuntimeError("the transaction fails after the change")
    assert outbox(db) == []


def test_an_order_carpos_would_reject_is_refused_with_doj_s_reasons(db, clerk):
    issued = COURTS.today() - timedelta(days=10)
    unborn = order(CourtOrderIssuingDate=issued)
    unborn["ProtectionOrderRestrictedPerson"]["PersonBirthDate"] = issued + timedelta(days=3)  # born after issue
    with pytest.raises(ValidationError) as refused, db.unit_of_work() as s:
        svc.submit(s, clerk, order_element(unborn), carpos_requested=True)
    assert [v.message for v in refused.value.violations] == ["REJECT - INVALID DATE (DOB AFTER ISD)"]
    assert outbox(db) == []
    with db.unit_of_work() as s:  # the hub itself takes it, without CARPOS
        assert svc.submit(s, clerk, order_element(unborn)).status.value == "ACTIVE"
    assert outbox(db) == []


def _version(db: Database, order_id: str) -> int:
    with db.read() as s:
        return s.scalar(select(Order.version).where(Order.id == int(order_id[3:])))


def test_a_change_carpos_would_reject_is_refused_and_stores_nothing(db, clerk):
    issued = COURTS.today() - timedelta(days=10)
    with db.unit_of_work() as s:
        in_carpos = svc.submit(s, clerk, order_element(order(CourtOrderIssuingDate=issued)), carpos_requested=True)
        local = svc.submit(s, clerk, order_element(order(CourtOrderIssuingDate=issued)))
    unborn = order(CourtOrderIssuingDate=issued)
    unborn["ProtectionOrderRestrictedPerson"]["PersonBirthDate"] = issued + timedelta(days=3)
    before = outbox(db)
    with pytest.raises(ValidationError) as modify, db.unit_of_work() as s:  # it would be an MPO
        svc.modify(s, clerk, in_carpos.order_id, 1, order_element(unborn))
    assert [v.message for v in modify.value.violations] == ["REJECT - INVALID DATE (DOB AFTER ISD)"]
    assert outbox(db) == before and _version(db, in_carpos.order_id) == 1  # nothing changed, nothing queued
    with db.unit_of_work() as s:  # outside CARPOS, the hub's own rules take it
        svc.modify(s, clerk, local.order_id, 1, order_element(unborn))
    assert _version(db, local.order_id) == 2 and outbox(db) == before
