"""The worker's scheduled jobs (hub.jobs), in process, on both databases: the slot every worker
computes alike, the claim that lets one run it, and each job's effect, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hub import masterkey
from hub.audit import AuditTrail
from hub.carpos.outbox import CarposForwarding
from hub.clock import CourtCalendar
from hub.codes import Role
from hub.db.models import AuditEvent, JobRun, Order, OutboxMessage
from hub.jobs import Jobs, Schedule, claim, finish
from hub.orders.service import OrderService
from hub.settings import Settings
from tests.conftest import make_user
from tests.support.orders import order, order_element

PACIFIC = "America/Los_Angeles"


def pacific(y: int, m: int, d: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=CourtCalendar(PACIFIC).zone).astimezone(UTC)


def test_every_worker_names_the_same_slot():
    every = Schedule("every 15 s", PACIFIC)
    assert every.slot(datetime(2026, 12, 3, 7, 0, 14, 900000, tzinfo=UTC)) == datetime(2026, 12, 3, 7, 0, 0, tzinfo=UTC)
    assert every.slot(datetime(2026, 12, 3, 7, 0, 15, tzinfo=UTC)) == datetime(2026, 12, 3, 7, 0, 15, tzinfo=UTC)
    monthly = Schedule("0 6 1 * *", PACIFIC)  # 06:00 on the 1st, California time
    assert (
        monthly.slot(pacific(2026, 12, 1, 6, 0, 2)) == pacific(2026, 12, 1, 6) == datetime(2026, 12, 1, 14, tzinfo=UTC)
    )
    assert monthly.slot(pacific(2026, 12, 1, 5, 59)) is None  # nothing fired within the hour before
    hourly = Schedule("5 * * * *", PACIFIC)
    assert hourly.slot(pacific(2026, 12, 3, 10, 7)) == pacific(2026, 12, 3, 10, 5)


def test_one_claim_per_slot_and_a_dead_worker_s_run_is_taken_over(db):
    slot, now, lease = (
        datetime(2026, 12, 3, 7, tzinfo=UTC),
        datetime(2026, 12, 3, 7, 0, 1, tzinfo=UTC),
        timedelta(hours=1),
    )
    assert claim(db, "expire-orders", slot, "w1", now, lease) is True
    assert claim(db, "expire-orders", slot, "w2", now, lease) is False  # the other worker skips it
    assert claim(db, "housekeeping", slot, "w2", now, lease) is True  # another job's slot is its own
    # w1 died mid-run: after the lease, w2 may run the slot; once finished, nobody may again.
    assert claim(db, "expire-orders", slot, "w2", now + lease + timedelta(seconds=1), lease) is True
    finish(db, "expire-orders", slot, "w2", now + lease + timedelta(seconds=2), "OK: done")
    assert claim(db, "expire-orders", slot, "w3", now + 3 * lease, lease) is False
    with db.read() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "expire-orders")).one()
    assert (run.owner, run.outcome) == ("w2", "OK: done")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def jobs(db, tmp_path: Path) -> Jobs:
    masterkey.create(tmp_path / "master.key")
    make_user(db, "admin", role=Role.ADMINISTRATOR)
    settings = Settings(
        data_dir=tmp_path, database_url=db.url, court_timezone=PACIFIC, job_expire_orders="5 * * * *"
    )  # fmt: skip
    return Jobs(settings, db, AuditTrail(masterkey.load(tmp_path / "master.key")), "w1", Clock(pacific(2026, 12, 1, 9)))


def events(db, operation: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.operation == operation).order_by(AuditEvent.seq)))


def test_expiry_ends_an_order_after_its_last_day_and_tells_carpos_under_the_entering_ori(db, clerk, jobs):
    issued = date(2026, 11, 1)
    with db.unit_of_work() as s:
        svc = OrderService(jobs.clock, CourtCalendar(PACIFIC), forwarding=CarposForwarding())
        due = svc.submit(s, clerk, order_element(order(CourtOrderIssuingDate=issued,
                         CourtOrderExpirationDate=date(2026, 11, 30))), carpos_requested=True)  # fmt: skip
        today = svc.submit(s, clerk, order_element(order(CourtOrderIssuingDate=issued,
                           CourtOrderExpirationDate=date(2026, 12, 1))), carpos_requested=True)  # fmt: skip
    hourly = jobs.schedules()["expire-orders"]
    jobs.clock.now = pacific(2026, 12, 1, 23, 5, 1)  # 07:05 UTC on the 2nd: still the 1st in California
    outcome = jobs.run("expire-orders", hourly)
    assert outcome == f"OK: 1 order(s) expired: {due.order_id}"
    assert jobs.run("expire-orders", hourly) is None  # the same slot again: already run
    with db.read() as s:
        statuses = dict(s.execute(select(Order.id, Order.status)).all())
        cpo = s.execute(select(OutboxMessage.mke, OutboxMessage.sender_ori, OutboxMessage.order_id)
                        .where(OutboxMessage.mke == "CPO")).all()  # fmt: skip
    assert statuses[int(due.order_id[3:])] == "EXPIRED" and statuses[int(today.order_id[3:])] == "ACTIVE"
    assert cpo == [("CPO", clerk.ori, int(due.order_id[3:]))]  # the EPO's ORI, not the hub's CA0000000
    (event,) = events(db, "orders expire")
    assert (event.username, event.target, event.outcome) == ("worker:w1", pacific(2026, 12, 1, 23, 5).isoformat(), "OK")


def test_the_monthly_reports_job_writes_last_month_for_the_state_and_each_court(db, clerk, jobs):
    with db.unit_of_work() as s:
        OrderService(jobs.clock, CourtCalendar(PACIFIC)).submit(s, clerk, order_element(order()))
    jobs.clock.now = pacific(2026, 12, 1, 6, 0, 1)
    outcome = jobs.run("monthly-reports", jobs.schedules()["monthly-reports"])
    assert outcome is not None and outcome.startswith("OK: wrote 12 file(s) for 2026-11 (statewide and 1 court(s))")
    folder = jobs.settings.resolved_reports_dir / "2026-11"
    assert (folder / "2026-11-statewide.html").is_file() and (folder / f"2026-11-{clerk.ori}-aging.csv").is_file()
    assert [e.target for e in events(db, "report monthly")] == ["2026-11 statewide"]


def test_housekeeping_and_retention_are_audited_runs(db, jobs):
    # Now, not a pinned time: the audit chain's witnesses (the accounts' creation) must not postdate it.
    jobs.clock.now = datetime.now(UTC)
    minutely = Schedule("every 60 s", PACIFIC)  # the slot around now, whatever the hour
    housekeeping = jobs.run("housekeeping", minutely)
    assert housekeeping == "OK: purged 0 dead message(s) older than 90 days"
    jobs.clock.now += timedelta(minutes=1)
    retention = jobs.run("audit-retention", minutely)
    assert retention is not None and retention.startswith("OK: purged 0 audit event(s) older than 365 days")
    assert [e.username for e in events(db, "queue purge-dead") + events(db, "audit purge")] == ["worker:w1"] * 2


def test_a_run_whose_worker_died_is_run_again_by_another_after_the_lease(db, clerk, jobs):
    """w1 claimed the expiry's slot and died before finishing it. Within the lease nobody touches it;
    after it, w2's recovery claims the run and does it -- once, even if w1 comes back."""
    hourly = jobs.schedules()["expire-orders"]
    slot = pacific(2026, 12, 1, 9, 5)
    assert claim(db, "expire-orders", slot, "w1", slot, jobs.lease)  # and then w1 was killed
    w2 = Jobs(jobs.settings, db, jobs.trail, "w2", Clock(slot + timedelta(minutes=5)))
    assert w2.recover() == []  # w1 may still be on it
    w2.clock.now = slot + jobs.lease + timedelta(minutes=1)
    assert w2.recover(["housekeeping"]) == []  # a worker recovers only the jobs it runs
    assert w2.recover(["expire-orders"]) == ["OK: 0 order(s) expired"]
    jobs.clock.now = slot + timedelta(minutes=1)
    assert w2.recover() == [] and jobs.run("expire-orders", hourly) is None  # done: nobody again
    finish(db, "expire-orders", slot, "w1", w2.clock.now, "OK: w1 came back")  # too late: not its run now
    with db.read() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "expire-orders")).one()
    assert (run.owner, run.outcome) == ("w2", "OK: 0 order(s) expired")
    assert [e.username for e in events(db, "orders expire")] == ["worker:w2"]
