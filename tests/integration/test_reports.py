"""The monthly reports over a known data set, on both databases: exact counts per court, type, user
and aging bucket for November 2026 as California counts it -- an order entered at 23:30 Pacific on
October 31st (already November 1st in UTC) is October's, one entered at 23:30 on November 30th
(December 1st in UTC) is November's; an order cancelled in December was in force at November's end;
DOJ's answer after the month's end leaves a transaction waiting at the month's end."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html
from sqlalchemy import select, update

from hub import masterkey
from hub.clock import CourtCalendar
from hub.codes import CancelReason, Role
from hub.db.models import AuditEvent, Order, OutboxMessage
from hub.ids import ORDER, parse
from hub.orders.records import Source
from hub.orders.service import OrderService
from hub.reports import render
from hub.reports.monthly import Month, monthly
from tests.conftest import make_user
from tests.support.orders import order, order_element

PACIFIC = CourtCalendar("America/Los_Angeles")
NOVEMBER = Month(2026, 11)
LA, SD = "CA019015J", "CA037015J"
NONE = Source(None, None)


def pacific(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=PACIFIC.zone).astimezone(UTC)


class Clock:
    def __init__(self) -> None:
        self.now = pacific(2026, 10, 1, 9)

    def __call__(self) -> datetime:
        return self.now


def an_order(court: str, kind: str, issued: date, **extra: object) -> dict[str, object]:
    days = 14 if kind == "TRO" else 3 * 365
    return order(
        CourtOrderFormCode="DV-110" if kind == "TRO" else "DV-130",
        ProtectionOrderTypeCode=kind,
        CourtOrderIssuingCourt={"OrganizationORIIdentification": court, "OrganizationName": "Superior Court"},
        CourtOrderIssuingDate=issued,
        CourtOrderExpirationDate=issued + timedelta(days=days),
        **extra,
    )


@pytest.fixture
def month_of_orders(db):
    """November 2026 in two courts (see the module's text); the orders' ids by letter."""
    clock = Clock()
    svc = OrderService(clock, PACIFIC)
    la = make_user(db, "la-clerk", LA)
    la2 = make_user(db, "la-second", LA)
    sd = make_user(db, "sd-clerk", SD, Role.QUERY_UPDATE)
    ids: dict[str, str] = {}

    def at(moment: datetime, letter: str, work) -> None:  # type: ignore[no-untyped-def]
        clock.now = moment
        with db.unit_of_work() as s:
            receipt = work(s)
        if letter:
            ids[letter] = receipt.order_id

    at(
        pacific(2026, 10, 31, 23, 30),
        "A",
        lambda s: svc.submit(s, la, order_element(an_order(LA, "OAH", date(2026, 10, 20)))),
    )
    at(
        pacific(2026, 11, 10, 10),
        "C",
        lambda s: svc.submit(s, la, order_element(an_order(LA, "OAH", date(2026, 11, 10)))),
    )
    at(
        pacific(2026, 11, 5, 10),
        "D",
        lambda s: svc.submit(s, la, order_element(an_order(LA, "OAH", date(2026, 11, 5)))),
    )
    at(
        pacific(2026, 11, 12, 10),
        "E",
        lambda s: svc.save_draft(s, la2, order_element(an_order(LA, "OAH", date(2026, 11, 12)))),
    )
    at(
        pacific(2026, 11, 15, 10),
        "F",
        lambda s: svc.submit(s, sd, order_element(an_order(SD, "OAH", date(2026, 11, 15)))),
    )
    at(
        pacific(2026, 11, 20, 10),
        "",
        lambda s: svc.cancel(s, la, ids["C"], 1, CancelReason.TERMINATED_BY_COURT, None, NONE),
    )
    at(
        pacific(2026, 11, 30, 23, 30),
        "B",
        lambda s: svc.submit(s, la, order_element(an_order(LA, "TRO", date(2026, 11, 30)))),
    )
    d_cancelled = CancelReason.ENTERED_IN_ERROR
    at(pacific(2026, 12, 1, 10), "", lambda s: svc.cancel(s, la, ids["D"], 1, d_cancelled, None, NONE))

    def transaction(
        letter: str, queued: datetime, state: str, answered: datetime | None, n: int, gave_up: datetime | None = None
    ) -> OutboxMessage:
        return OutboxMessage(
            kind="CARPOS", order_id=parse(ORDER, ids[letter]), order_seq=n, order_version=1, mke="EPO",
            mcn=f"MCN{letter}{n}", sender_ori=LA, state=state, attempts=1, next_attempt_at=queued,
            sent_at=queued if state != "DEAD" else None, answered_at=answered, created_at=queued,
            updated_at=gave_up or answered or queued,
        )  # fmt: skip

    with db.unit_of_work() as s:
        s.add_all(
            [
                transaction("A", pacific(2026, 10, 31, 23, 30), "ACCEPTED", pacific(2026, 10, 31, 23, 40), 1),
                transaction("B", pacific(2026, 11, 30, 23, 30), "ACCEPTED", pacific(2026, 12, 1, 0, 0), 1),
                transaction("D", pacific(2026, 11, 5, 10), "ACCEPTED", pacific(2026, 11, 5, 13), 1),
                transaction("F", pacific(2026, 11, 15, 10), "REJECTED", pacific(2026, 11, 15, 10, 5), 1),
                transaction("C", pacific(2026, 11, 10, 10), "DEAD", None, 1),
                # Queued on the 28th, given up on December 5th: at November's end it was waiting.
                transaction("A", pacific(2026, 11, 28, 10), "DEAD", None, 2, gave_up=pacific(2026, 12, 5, 10)),
            ]
        )
    return ids


def reports(db, court: str | None = None):  # type: ignore[no-untyped-def]
    with db.read() as s:
        return monthly(s, NOVEMBER, pacific(2026, 12, 2, 6), court=court, calendar=PACIFIC)


def as_dicts(table) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_the_volume_of_each_court_and_the_state_in_california_s_november(db, month_of_orders):
    volume = {row["Court"]: row for row in as_dicts(reports(db).table("volume-by-court"))}
    assert set(volume) == {LA, SD, "ALL"}
    la, sd, total = volume[LA], volume[SD], volume["ALL"]
    # B (23:30 on the 30th), C, D entered; A (23:30 on October 31st) is October's; D's cancel is December's.
    assert (la["Entered in force"], la["Drafts saved"], la["Cancelled"], la["Modified"]) == (3, 1, 1, 0)
    assert (sd["Entered in force"], sd["Drafts saved"], sd["Cancelled"]) == (1, 0, 0)
    assert (total["Entered in force"], total["Drafts saved"], total["Cancelled"]) == (4, 1, 1)
    # CARPOS: sent in November B, D (LA) and F (SD); accepted in November only D (B's answer came on
    # December 1st); rejected F.
    assert (la["CARPOS sent"], la["CARPOS accepted"], la["CARPOS rejected"]) == (2, 1, 0)
    assert (sd["CARPOS sent"], sd["CARPOS accepted"], sd["CARPOS rejected"]) == (1, 0, 1)


def test_orders_by_type_and_the_records_at_the_month_s_end(db, month_of_orders):
    r = reports(db)
    by_type = {(row["Court"], row["Order type"]): row for row in as_dicts(r.table("orders-by-type"))}
    # Issued in November: C, D, E (OAH) and B (TRO) in LA, F in SD. In force at the end: A, D (D was
    # cancelled in December), B; F.
    assert by_type[(LA, "OAH")]["Issued this month"] == 3 and by_type[(LA, "OAH")]["In force at month end"] == 2
    assert by_type[(LA, "TRO")]["Issued this month"] == 1 and by_type[(LA, "TRO")]["In force at month end"] == 1
    assert by_type[(SD, "OAH")]["Issued this month"] == 1 and by_type[(SD, "OAH")]["In force at month end"] == 1
    assert by_type[("ALL", "")]["Issued this month"] == 5 and by_type[("ALL", "")]["In force at month end"] == 4
    count = {row["Court"]: row for row in as_dicts(r.table("total-record-count"))}
    assert {k: count[LA][k] for k in ("Draft", "Active", "Cancelled", "Expired", "Total orders")} == {
        "Draft": 1, "Active": 3, "Cancelled": 1, "Expired": 0, "Total orders": 5,
    }  # fmt: skip
    assert count[SD]["Active"] == 1 and count["ALL"]["Total orders"] == 6


def test_orders_by_user(db, month_of_orders):
    by_user = {(row["User ORI"], row["User"]): row for row in as_dicts(reports(db).table("order-count-by-user"))}
    assert set(by_user) == {(LA, "la-clerk"), (LA, "la-second"), (SD, "sd-clerk"), ("ALL", "")}
    clerk = by_user[(LA, "la-clerk")]
    assert (clerk["Entered in force"], clerk["Cancelled"], clerk["Total"]) == (3, 1, 4)
    assert by_user[(LA, "la-second")]["Drafts saved"] == 1 and by_user[(LA, "la-second")]["Total"] == 1
    assert by_user[(SD, "sd-clerk")]["Total"] == 1 and by_user[("ALL", "")]["Total"] == 6


def test_the_aging_buckets(db, month_of_orders):
    rows = as_dicts(reports(db).table("aging"))
    aging = {(row["Court"], row["Measure"].split()[0], row["Bucket"]): row["Count"] for row in rows}
    issue = {k[2]: v for k, v in aging.items() if k[:2] == (LA, "time") and v}
    assert issue == {"0-30 days": 2, "31-90 days": 1}  # B (0 days), D (25); A (issued Oct 20: 41 days)
    assert {k[2]: v for k, v in aging.items() if k[:2] == (SD, "time") and v} == {"0-30 days": 1}
    carpos = {k[2]: v for k, v in aging.items() if k[:2] == (LA, "CARPOS") and v}
    # D accepted after 3 hours; B queued at 23:30 on the 30th, answered in December; C dead; A is October's.
    assert carpos == {"accepted in 1-24 hours": 1, "waiting at month end": 2, "not delivered (dead or superseded)": 1}
    assert {k[2]: v for k, v in aging.items() if k[:2] == (SD, "CARPOS") and v} == {"rejected": 1}
    assert aging[("ALL", "CARPOS", "rejected")] == 1 and aging[("ALL", "time", "0-30 days")] == 3


def test_one_court_s_reports_hold_its_orders_only(db, month_of_orders):
    r = reports(db, SD)
    for table in r.tables:
        courts = {row[0] for row in table.rows}
        assert courts <= {SD}, (table.name, courts)
    assert as_dicts(r.table("volume-by-court"))[0]["Entered in force"] == 1


def test_the_files_a_court_contact_opens(db, month_of_orders, tmp_path: Path):
    written = render.write(reports(db), tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [f"2026-11-statewide-{n}.csv" for n in ("volume-by-court", "orders-by-type", "total-record-count",
                                                 "order-count-by-user", "aging")] + ["2026-11-statewide.html"]
    )  # fmt: skip
    csv = (tmp_path / "2026-11-statewide-volume-by-court.csv").read_text()
    assert csv.splitlines()[0].startswith("Court,Court name,Entered in force,Drafts saved")
    assert csv.splitlines()[-1].startswith("ALL,,4,1,")
    page = (tmp_path / "2026-11-statewide.html").read_text()
    tree = lxml_html.fromstring(page)
    assert len(tree.findall(".//svg")) == 4 and tree.findall(".//script") == []
    assert not tree.xpath("//@src") and not [h for h in tree.xpath("//@href") if not h.startswith("#")]
    assert [h.text for h in tree.findall(".//h2")] == [
        "Volume Summary by Court", "Orders by Type Summary", "Total Record Count", "Order Count by User",
        "Aging Report",
    ]  # fmt: skip
    assert "la-clerk" in page and "MOUSE" not in page  # users' names are the report; parties' are not


def test_a_month_is_written_yyyy_mm():
    assert Month.parse("2026-11").span(PACIFIC) == (pacific(2026, 11, 1, 0), pacific(2026, 12, 1, 0))
    march = Month.parse("2026-03").span(PACIFIC)
    assert march[1] - march[0] == timedelta(days=31, hours=-1)  # daylight saving time begins on March 8th
    assert Month.before(date(2026, 1, 1)) == Month(2025, 12)
    for wrong in ("2026-13", "2026-1", "Nov 2026", "2026-11-01"):
        with pytest.raises(ValueError, match="YYYY-MM"):
            Month.parse(wrong)


def test_the_command_writes_the_reports_and_is_audited(db, month_of_orders, tmp_path: Path):
    if not db.url.startswith("sqlite"):
        pytest.skip("the command's run is the same on PostgreSQL; the figures are checked above on both")
    data = tmp_path / "data"
    data.mkdir()
    masterkey.create(data / "master.key")
    cli = str(Path(sys.executable).with_name("ccpor-hub"))
    env = {"PATH": "/usr/bin:/bin", "CCPOR_DATA_DIR": str(data), "CCPOR_DATABASE_URL": db.url}
    done = subprocess.run(
        [cli, "report", "monthly", "--month", "2026-11", "--court", SD, "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / f"2026-11-{SD}-aging.csv").is_file()
    with db.read() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.operation == "report monthly")).scalar_one()
    assert event.target == f"2026-11 {SD}" and event.outcome == "OK"
    keyless = {**env, "CCPOR_MASTER_KEY_FILE": str(tmp_path / "no-such.key")}
    refused = subprocess.run([cli, "report", "monthly", "--month", "2026-11", "--out", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=120, env=keyless)  # fmt: skip
    assert refused.returncode == 1 and not (tmp_path / "none").exists()  # no unaudited report
    wrong = subprocess.run([cli, "report", "monthly", "--month", "11/2026", "--out", str(tmp_path)],
                           capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert wrong.returncode == 2 and "YYYY-MM" in wrong.stderr and "Traceback" not in wrong.stderr


def test_an_order_changed_after_the_month_counts_as_it_stood(db, month_of_orders):
    """The records at the month's end come from the history, not from today's status."""
    with db.unit_of_work() as s:
        s.execute(update(Order).where(Order.id == parse(ORDER, month_of_orders["A"])).values(status="EXPIRED"))
    count = {row["Court"]: row for row in as_dicts(reports(db).table("total-record-count"))}
    assert count[LA]["Active"] == 3 and count[LA]["Expired"] == 0
