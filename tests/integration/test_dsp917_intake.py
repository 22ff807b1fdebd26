"""The DSP917 intake on real SQLite and PostgreSQL, below SOAP: who may notify, what a lock or a
role does to a court's update, what a resend with other content changes (nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.carpos.outbox import CarposForwarding
from hub.clock import utcnow
from hub.codes import Role
from hub.db.engine import Database
from hub.db.models import Dsp917Notification, Image, Order
from hub.dsp917.codes import ErrorCode, Outcome
from hub.dsp917.intake import Dsp917Intake
from hub.dsp917.notification import Notification
from hub.errors import Conflict, Forbidden
from hub.images.service import ImageService
from hub.images.store import FileSystemImageStore
from hub.orders.service import OrderService
from tests.conftest import make_user
from tests.support.dsp917 import ORDER_PATH, RESTRAINED, N, current, put

IMPERIAL = "CA013013J"
SECRET = "the court's response service password"  # noqa: S105 - a test court's


@pytest.fixture
def intake(tmp_path: Path) -> Dsp917Intake:
    orders = OrderService(forwarding=CarposForwarding())  # as the hub composes it
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


def test_a_resend_is_the_first_receipt_and_other_content_under_the_same_ids_a_conflict(db, intake):
    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    first = notify(db, intake, court, current("I-6", "6", "SAME0001"))
    again = notify(db, intake, court, current("I-6", "6", "SAME0001"))
    assert again.duplicate and again.notification_id == first.notification_id and again.version == first.version
    other = current("I-6", "6", "SAME0001")
    put(other, f"{RESTRAINED}/r:PersonName/nc:PersonSurName", "Someone Else")
    with pytest.raises(Conflict, match="every notification needs its own ids"):
        notify(db, intake, court, other)
    with db.read() as s:
        (order,) = s.scalars(select(Order)).all()
        assert "Someone Else" not in order.document
        assert s.scalar(select(func.count()).select_from(Dsp917Notification)) == 1


def test_read_only_and_administrator_accounts_of_a_court_send_no_notification(db, intake):
    for name, role in (("imperial-reader", Role.QUERY_ONLY_SEALED), ("imperial-admin", Role.ADMINISTRATOR)):
        who = make_user(db, name, ori=IMPERIAL, role=role)
        with pytest.raises(Forbidden):
            notify(db, intake, who, current(f"RO-{name}", "8"))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Dsp917Notification)) == 0


def test_the_case_number_and_order_id_find_the_order_whatever_their_case(db, intake):
    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    added = notify(db, intake, court, current("I-9", "ab9", "fl-case9"))
    change = current("I-10", "AB9", "FL-CASE9")
    put(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    assert notify(db, intake, court, change).order_id == added.order_id


def test_every_attachment_is_an_image_of_the_order_and_a_resent_scan_is_not_a_second(db, intake):
    import copy

    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    two = current("I-11", "11", "TWO0001")
    (attachment,) = two.xpath(f"{ORDER_PATH}/r:RestrainingOrderAttachment", namespaces=N)
    second = copy.deepcopy(attachment)
    (binary,) = second.xpath("nc:DocumentBinary/nc:BinaryBase64Object", namespaces=N)
    binary.text = "JVBERi0xLjQKJSVFT0YK"  # another (tiny) PDF
    attachment.addnext(second)
    added = notify(db, intake, court, two)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Image).where(Image.order_id != None)) == 2  # noqa: E711
        row = s.get(Dsp917Notification, added.notification_id)
        assert "JVBERi0xLjQ" not in row.payload  # both are images: their bytes are not kept twice
    change = current("I-12", "11", "TWO0001")  # the first scan again
    put(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    notify(db, intake, court, change)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Image).where(Image.order_id != None)) == 2  # noqa: E711


def test_another_court_cannot_reach_this_courts_order_by_its_case_and_order_id(db, intake):
    imperial = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    kern = make_user(db, "kern-faccts", ori="CA015013J", role=Role.QUERY_UPDATE_SEALED)
    notify(db, intake, imperial, current("I-7", "7", "CASE0007"))
    cancel = current("K-1", "7", "CASE0007")
    put(cancel, "h:ISBCommonServiceHeader/CourtCd", "15")
    put(cancel, f"{ORDER_PATH}/r:AddUpdateCancelText", "C")
    refused = notify(db, intake, kern, cancel)
    assert (refused.outcome, refused.error, refused.order_id) == (Outcome.REFUSED, ErrorCode.LOOKUP, None)


def test_a_courts_response_service_is_https_and_plain_http_only_on_this_machine(db, tmp_path):
    from datetime import UTC, datetime

    from hub import masterkey
    from hub.dsp917 import courts
    from hub.errors import ValidationError

    make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    key = masterkey.create(tmp_path / "master.key")
    now = datetime.now(UTC)
    with db.unit_of_work() as s:
        with pytest.raises(ValidationError, match="over https"):
            courts.configure(s, key, IMPERIAL, now, response_url="http://faccts.imperial.example/portal/x")
        with pytest.raises(ValidationError, match="no credentials"):
            courts.configure(s, key, IMPERIAL, now, response_url="https://user:pw@faccts.imperial.example/x")
        done = courts.configure(s, key, IMPERIAL, now, response_url="http://127.0.0.1:8091/portal", password=SECRET)
        assert done.response_url == "http://127.0.0.1:8091/portal" and done.has_password
        court = s.get(courts.Dsp917Court, done_org(s))
        assert SECRET.encode() not in court.response_secret_sealed
        assert courts.password_of(key, court) == SECRET


def done_org(s):  # type: ignore[no-untyped-def]
    from hub.db.models import Organization

    return s.scalar(select(Organization.id).where(Organization.ori == IMPERIAL))


def test_dojs_answer_goes_to_the_notification_whose_change_it_carried_and_to_no_other(db, intake, tmp_path):
    """The business response for DOJ's answer is keyed on the order version the CARPOS message
    carries: the notification whose versions hold it is told, under its CorrelationId; a change the
    court made another way (its clerk over /ws/orders, same ORI) is answered to no notification --
    neither to the next one, recorded after it."""
    from datetime import UTC, datetime

    from lxml import etree

    from hub import ids, masterkey
    from hub.carpos.outbox import Answered
    from hub.db.models import OutboxMessage
    from hub.dsp917 import courts
    from hub.dsp917.responses import KIND, Dsp917Responses

    court = make_user(db, "imperial-faccts", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    clerk = make_user(db, "imperial-clerk", ori=IMPERIAL, role=Role.QUERY_UPDATE_SEALED)
    key = masterkey.create(tmp_path / "master.key")
    with db.unit_of_work() as s:
        courts.configure(s, key, IMPERIAL, datetime.now(UTC), carpos=True, response_url="http://127.0.0.1:9/portal")
    added = notify(db, intake, court, current("V-1", "21", "VER0001"))
    assert added.outcome is Outcome.ACCEPTED
    with db.unit_of_work() as s:
        order = s.get(Order, ids.parse(ids.ORDER, added.order_id))
        intake.orders.modify(s, clerk, added.order_id, order.version, etree.fromstring(order.document.encode()))
    change = current("V-2", "21", "VER0001")
    put(change, f"{ORDER_PATH}/r:AddUpdateCancelText", "U")
    updated = notify(db, intake, court, change)
    assert updated.outcome is Outcome.ACCEPTED
    with db.read() as s:
        carpos = {
            m.order_version: m.mke
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "CARPOS").order_by(OutboxMessage.id))
        }
        order_id = ids.parse(ids.ORDER, added.order_id)
    # The add entered version 1 (its EPO) and attached the scan (2); the clerk's change is 3.
    (entered,) = [v for v, mke in carpos.items() if mke == "EPO"]
    by_clerk = added.version + 1
    assert entered < added.version and carpos[by_clerk] == "MPO" and carpos[updated.version] == "MPO"
    assert list(carpos) == [entered, by_clerk, updated.version]

    def told(answers: list[Answered]) -> list[str]:
        with db.unit_of_work() as s:
            before = s.scalar(select(func.max(OutboxMessage.id)).where(OutboxMessage.kind == KIND)) or 0
            Dsp917Responses(key).carpos_answered(s, answers, datetime.now(UTC))
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == KIND, OutboxMessage.id > before))
            return [
                etree.fromstring(Dsp917Responses(key).open(r.mcn, r.payload_sealed)).findtext(".//CorrelationId")
                for r in rows
            ]

    reject = dict(accepted=False, reason="INVALID NAM", sender_ori=IMPERIAL)
    assert told([Answered(order_id, "MPO", order_version=by_clerk, **reject)]) == []
    assert told([Answered(order_id, "MPO", order_version=updated.version, **reject)]) == ["V-2"]
    accept = dict(accepted=True, fcn="1234567890123", sender_ori=IMPERIAL)
    assert told([Answered(order_id, "EPO", order_version=entered, **accept)]) == ["V-1"]
