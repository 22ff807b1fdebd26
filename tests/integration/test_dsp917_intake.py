"""The DSP917 intake on real SQLite and PostgreSQL, below SOAP: who may notify, what a lock or a
role does to a court's update, what a resend with other content changes (nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.clock import utcnow
from hub.codes import Role
from hub.db.engine import Database
from hub.db.models import Dsp917Notification, Order
from hub.dsp917.codes import ErrorCode, Outcome
from hub.dsp917.intake import Dsp917Intake
from hub.dsp917.notification import Notification
from hub.errors import Forbidden
from hub.images.service import ImageService
from hub.images.store import FileSystemImageStore
from hub.orders.service import OrderService
from tests.conftest import make_user
from tests.support.dsp917 import ORDER_PATH, RESTRAINED, current, put

IMPERIAL = "CA013013J"


@pytest.fixture
def intake(tmp_path: Path) -> Dsp917Intake:
    orders = OrderService()
    return Dsp917Intake(orders, ImageService(FileSystemImageStore(tmp_path / "images"), 20_000_000, orders, utcnow))


def notify(db: Database, intake: Dsp917Intake, who, root):  # type: ignore[no-untyped-def]
    with db.unit_of_work() as s:
        return intake.notify(s, who, Notification(root))


def test_only_a_courts_account_notifies(db, intake):
    sheriff = make_user(db, "imperial-sheriff", ori="CA0130000", role=Role.QUERY_UPDATE_SEALED)
    with pytest.raises(Forbidden, match="belongs to no court"):
        notify(db, intake, sheriff, current("I-1", "1"))


def test_a_sealed_order_needs_a_sealed_role_and_nothing_is_stored(db, intake):
    plain = make_user(db, "imperial-plain", ori=IMPERIAL, role=Role.QUERY_UPDATE)
    with pytest.raises(Forbidden):
        notify(db, intake, plain, current("I-2", "2"))  # the sample is SealedCode Y
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dsp917Notification)) == 0
        assert s.scalar(select(func.count()).select_from(Order)) == 0


def test_an_update_the_sheriffs_edit_lock_holds_up_is_refused_and_recorded(db, intake):
    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    sheriff = make_user(db, "imperial-deputy", ori="CA0130000", role=Role.QUERY_UPDATE_SEALED)
    added = notify(db, intake, court, current("I-3", "3", "LOCK0001"))
    assert added.outcome is Outcome.ACCEPTED
    with db.unit_of_work() as s:
        intake.orders.lock(s, sheriff, added.order_id)
    change = current("I-4", "3", "LOCK0001")
    put(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    refused = notify(db, intake, court, change)
    assert (refused.outcome, refused.error) == (Outcome.REFUSED, ErrorCode.STATE)
    assert "imperial-deputy" in refused.findings[0].message
    assert refused.version == added.version  # the order as it was
    # The court's cancel is a judicial act: no lock holds it up.
    cancel = current("I-5", "3", "LOCK0001")
    put(cancel, f"{ORDER_PATH}/r:AddUpdateCancelText", "C")
    assert notify(db, intake, court, cancel).status == "CANCELLED"


def test_a_resend_with_other_content_changes_nothing(db, intake):
    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    first = notify(db, intake, court, current("I-6", "6", "SAME0001"))
    other = current("I-6", "6", "SAME0001")
    put(other, f"{RESTRAINED}/r:PersonName/nc:PersonSurName", "Someone Else")
    again = notify(db, intake, court, other)
    assert again.duplicate and again.notification_id == first.notification_id and again.version == first.version
    with db.read() as s:
        (order,) = s.scalars(select(Order)).all()
        assert "Someone Else" not in order.document


def test_another_court_cannot_reach_this_courts_order_by_its_case_and_order_id(db, intake):
    imperial = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    kern = make_user(db, "kern-faccts", ori="CA015013J", role=Role.QUERY_UPDATE_SEALED)
    notify(db, intake, imperial, current("I-7", "7", "CASE0007"))
    cancel = current("K-1", "7", "CASE0007")
    put(cancel, "h:ISBCommonServiceHeader/CourtCd", "15")
    put(cancel, f"{ORDER_PATH}/r:AddUpdateCancelText", "C")
    refused = notify(db, intake, kern, cancel)
    assert (refused.outcome, refused.error, refused.order_id) == (Outcome.REFUSED, ErrorCode.LOOKUP, None)
