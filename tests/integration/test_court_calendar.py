"""Court rules count California's calendar days, not UTC's (hub.clock): with the clock pinned at
23:30 Pacific on December 1st -- already December 2nd in UTC -- an order expiring on the 1st is
still in force, an order issued "on the 2nd" is in the future, and an upload made that evening
was made on the 1st. On both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hub.clock import CourtCalendar
from hub.errors import ValidationError
from hub.images.service import ImageService
from hub.images.store import FileSystemImageStore
from hub.orders.search import search_quick_attaches
from hub.orders.service import OrderService
from hub.settings import Settings
from tests.support.orders import order, order_element, tiny_pdf

#: 23:30 Pacific Standard Time on 2026-12-01 (UTC-8) is 07:30 UTC on 2026-12-02.
LATE_EVENING = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)
DEC_1, DEC_2 = date(2026, 12, 1), date(2026, 12, 2)


def pinned() -> datetime:
    return LATE_EVENING


@pytest.fixture
def svc() -> OrderService:
    return OrderService(pinned, CourtCalendar("America/Los_Angeles"))


def tro(issued: date, expires: date, **extra: object) -> dict[str, object]:
    return order(
        CourtOrderFormCode="DV-110",
        ProtectionOrderTypeCode="TRO",
        CourtOrderIssuingDate=issued,
        CourtOrderExpirationDate=expires,
        **extra,
    )


def test_the_calendar_is_california_s():
    calendar = CourtCalendar()
    assert calendar.date_of(LATE_EVENING) == DEC_1 and LATE_EVENING.date() == DEC_2
    assert calendar.start_of(DEC_1) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # PST: UTC-8
    assert calendar.start_of(date(2026, 7, 1)) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)  # PDT: UTC-7
    assert calendar.end_of(DEC_1) == calendar.start_of(DEC_2)


def test_the_court_time_zone_is_a_setting_and_a_wrong_one_stops_the_start(monkeypatch):
    monkeypatch.setenv("CCPOR_COURT_TIMEZONE", "Pacific/Honolulu")
    assert Settings().calendar.date_of(datetime(2026, 12, 2, 9, 59, tzinfo=UTC)) == DEC_1  # HST: UTC-10
    monkeypatch.setenv("CCPOR_COURT_TIMEZONE", "Pacific/Atlantis")
    with pytest.raises(ValueError, match="CCPOR_COURT_TIMEZONE"):
        _ = Settings().calendar


def test_an_order_is_in_force_until_midnight_pacific_of_its_last_day(db, clerk, svc):
    with db.unit_of_work() as s:
        issued = DEC_1 - timedelta(days=10)
        last_day_today = svc.submit(s, clerk, order_element(tro(issued, DEC_1)))
        ended_yesterday = svc.submit(s, clerk, order_element(tro(issued, DEC_1 - timedelta(days=1))))
    with db.unit_of_work() as s:
        assert svc.expire_due(s, clerk) == [ended_yesterday.order_id]  # at 23:30 Pacific, UTC says the 2nd
    with db.read() as s:
        assert svc.get(s, clerk, last_day_today.order_id).status == "ACTIVE"


def test_tomorrow_is_in_the_future_in_the_evening(db, clerk, svc):
    with db.unit_of_work() as s:
        assert svc.submit(s, clerk, order_element(tro(DEC_1, DEC_1 + timedelta(days=14)))).status.value == "ACTIVE"
    with pytest.raises(ValidationError) as refused, db.unit_of_work() as s:
        svc.submit(s, clerk, order_element(tro(DEC_2, DEC_2 + timedelta(days=14), SourceMessageID="TOMORROW")))
    assert "issue date 2026-12-02 is in the future" in str([v.message for v in refused.value.violations])


def test_an_evening_upload_was_made_on_the_california_day(db, clerk, svc, tmp_path: Path):
    images = ImageService(FileSystemImageStore(tmp_path), 1_000_000, svc, pinned)
    with db.unit_of_work() as s:
        images.quick_attach(s, clerk, "24FL9001", "MOUSE", tiny_pdf("evening"), "scan.pdf")

    def found(day: date) -> int:
        with db.read() as s:
            page = search_quick_attaches(
                s, clerk, case_number=None, surname=None, status=None, uploaded_from=day, uploaded_to=day,
                page=1, size=25, calendar=svc.calendar,
            )  # fmt: skip
        return page.total

    assert (found(DEC_1), found(DEC_2)) == (1, 0)
