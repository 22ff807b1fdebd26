"""The hub's scheduled jobs, and the claim that lets exactly one of several workers run each job run.

``ccpor-hub worker`` (gateway.scheduler) fires every job on its schedule in each worker process;
APScheduler is only the timer. Before a job runs, its worker claims the run's **slot** -- the
schedule's fire time, computed from the schedule alone, so every worker names the same slot -- by
inserting ``(job, slot)`` into ``job_runs`` in its own transaction. The unique key lets one insert
through; the other workers find the slot taken and skip it. A run whose worker died (unfinished
after ``CCPOR_JOB_LEASE_SECONDS``) is found by every worker's recovery (:meth:`Jobs.recover`, at
start and every few minutes) and claimed again by a guarded UPDATE, so a crash delays a run rather
than losing it. On SQLite and PostgreSQL alike, with any number of workers. A slot at which no
worker ran at all is not caught up (as cron would not): run its command by hand.

Each job is an operator's action done by the hub itself: audited (an ADMIN event, the same one the
matching ``ccpor-hub`` command writes) in the transaction of its work, in the name of
``worker:<owner>``.
"""

from __future__ import annotations

import getpass
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import floor
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import ADMIN, MIN_AUDIT_RETENTION_DAYS, AuditTrail, Event
from hub.clock import Clock, CourtCalendar, utcnow
from hub.db.engine import Database
from hub.db.models import JobRun, Order
from hub.errors import HubError
from hub.settings import Settings

log = logging.getLogger("ccpor.jobs")

#: The anchor of ``every N`` schedules: slots are whole multiples of N from here, in every worker.
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)


def audited(
    db: Database,
    trail: AuditTrail,
    username: str,
    operation: str,
    target: str,
    work: Callable[[Session], str],
    clock: Clock = utcnow,
) -> str:
    """Run an operator's ``work`` in one unit of work, audited as an ADMIN event in the same
    transaction (``username`` from ``local``); its message. A refusal (HubError) is audited on its
    own and raised again."""

    def record(session: Session, outcome: str, detail: str) -> None:
        event = Event(
            at=clock(),
            username=username,
            org_ori="",
            operation=operation,
            outcome=outcome,
            target=target,
            client_address="local",
            detail=detail,
            category=ADMIN,
        )
        trail.record(session.connection(), event)

    try:
        with db.unit_of_work() as session:
            message = work(session)
            record(session, "OK", message)
    except HubError as err:
        with db.unit_of_work() as session:
            record(session, err.code, err.message)
        raise
    return message


def cli_user() -> str:
    return f"cli:{getpass.getuser()}"


# ---------------------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Schedule:
    """A job's schedule (a SCHEDULE setting's text): ``every N s|m|h`` or a crontab in ``zone``."""

    text: str
    zone: str

    @property
    def every(self) -> timedelta | None:
        if not self.text.startswith("every "):
            return None
        _, n, unit = self.text.split()
        return timedelta(seconds=int(n) * {"s": 1, "m": 60, "h": 3600}[unit])

    def trigger(self) -> Any:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        every = self.every
        if every is not None:
            return IntervalTrigger(seconds=every.total_seconds(), start_date=ANCHOR, timezone=UTC)
        return CronTrigger.from_crontab(self.text, timezone=self.zone)

    def slot(self, now: datetime) -> datetime | None:
        """The fire time a run starting at ``now`` is for: the schedule's latest at or before ``now``
        (within an hour, for a crontab); None if there is none (a run started by hand)."""
        every = self.every
        if every is not None:
            return ANCHOR + every * floor((now - ANCHOR) / every)
        trigger, last = self.trigger(), None
        fire = trigger.get_next_fire_time(None, now - timedelta(hours=1))
        while fire is not None and fire <= now:
            last = fire.astimezone(UTC)
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return last


# --------------------------------------------------------------------------------------- the claim


def claim(db: Database, job: str, slot: datetime, owner: str, now: datetime, lease: timedelta) -> bool:
    """Whether this worker runs ``job``'s run of ``slot``: it inserted the slot's row, or took over
    a run left unfinished past its lease."""
    try:
        with db.unit_of_work() as s:
            s.execute(insert(JobRun.__table__), dict(job=job, slot=slot, owner=owner, started_at=now))
        return True
    except IntegrityError:
        pass
    with db.unit_of_work() as s:
        taken = s.execute(
            update(JobRun)
            .where(
                JobRun.job == job,
                JobRun.slot == slot,
                JobRun.finished_at.is_(None),
                JobRun.started_at < now - lease,
            )
            .values(owner=owner, started_at=now)
            .execution_options(synchronize_session=False)
        )
        return taken.rowcount == 1


def finish(db: Database, job: str, slot: datetime, owner: str, now: datetime, outcome: str) -> None:
    with db.unit_of_work() as s:
        s.execute(
            update(JobRun)
            .where(JobRun.job == job, JobRun.slot == slot, JobRun.owner == owner)
            .values(finished_at=now, outcome=outcome[:300])
            .execution_options(synchronize_session=False)
        )


# ------------------------------------------------------------------------------------------ the jobs


@dataclass
class Jobs:
    """The hub's scheduled jobs on one database: each a function of the run's slot, returning what
    it did in a line (and audited)."""

    settings: Settings
    db: Database
    trail: AuditTrail
    owner: str
    clock: Clock = utcnow

    @property
    def calendar(self) -> CourtCalendar:
        return self.settings.calendar

    @property
    def username(self) -> str:
        return f"worker:{self.owner}"

    def schedules(self) -> dict[str, Schedule]:
        zone = self.settings.court_timezone
        return {name: Schedule(getattr(self.settings, setting), zone) for name, (setting, _) in _JOBS.items()}

    def function(self, job: str) -> Callable[[datetime], str]:
        return getattr(self, _JOBS[job][1])  # type: ignore[no-any-return]

    def run(self, job: str, schedule: Schedule) -> str | None:
        """Fire ``job`` now: claim its slot and run it, or skip a slot another worker has; the outcome
        (None when skipped). Never raises: a failure is logged and recorded as the run's outcome."""
        now = self.clock()
        slot = schedule.slot(now)
        if slot is None:  # fired more than an hour late: that slot is the recovery's (recover)
            log.warning("job %s fired at %s with no slot of its schedule in the hour before: skipped", job, now)
            return None
        if not claim(self.db, job, slot, self.owner, now, self.lease):
            log.info("job %s %s: run by another worker", job, slot.isoformat())
            return None
        return self._run_claimed(job, slot)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.job_lease_seconds)

    def recover(self, names: Iterable[str] = ()) -> list[str]:
        """Run again the runs whose worker died: unfinished past their lease. Each is claimed first
        (a guarded takeover), so of several workers recovering at once one runs it. Their outcomes."""
        now = self.clock()
        with self.db.read() as s:
            stale = s.execute(
                select(JobRun.job, JobRun.slot).where(
                    JobRun.finished_at.is_(None), JobRun.started_at < now - self.lease
                )
            ).all()
        done = []
        for job, slot in stale:
            if job in (tuple(names) or JOBS) and claim(self.db, job, slot, self.owner, now, self.lease):
                log.warning("job %s %s: its worker did not finish it; running it again", job, slot.isoformat())
                done.append(self._run_claimed(job, slot))
        return done

    def _run_claimed(self, job: str, slot: datetime) -> str:
        try:
            outcome = "OK: " + self.function(job)(slot)
        except Exception as exc:  # the worker goes on; the next slot runs again
            log.exception("job %s %s failed", job, slot.isoformat())
            outcome = f"FAILED: {type(exc).__name__}: {exc}"
        finish(self.db, job, slot, self.owner, self.clock(), outcome)
        log.info("job %s %s: %s", job, slot.isoformat(), outcome)
        return outcome

    # -- each job

    def expire_orders(self, slot: datetime) -> str:
        """ACTIVE orders past their last day become EXPIRED; those in CARPOS get their CPO."""
        from hub.accounts.service import system_principal
        from hub.carpos.outbox import CarposForwarding
        from hub.orders.service import OrderService

        with self.db.read() as s:
            system = system_principal(s)
        if system is None:
            return "no ADMINISTRATOR account yet: expiry is recorded in its name"
        service = OrderService(self.clock, self.calendar, forwarding=CarposForwarding())

        def work(s: Session) -> str:
            expired = service.expire_due(s, system)
            return f"{len(expired)} order(s) expired" + (": " + ", ".join(expired) if expired else "")

        return audited(self.db, self.trail, self.username, "orders expire", slot.isoformat(), work, self.clock)

    def monthly_reports(self, slot: datetime) -> str:
        """Last month's reports (by the courts' calendar at the slot): statewide and one set per court
        with orders, into ``CCPOR_REPORTS_DIR/YYYY-MM``."""
        from hub.reports import render
        from hub.reports.monthly import Month, monthly

        month = Month.before(self.calendar.date_of(slot))
        out: Path = self.settings.resolved_reports_dir / str(month)
        now = self.clock()
        with self.db.read() as s:
            courts = sorted(set(s.scalars(select(Order.court_ori).distinct())))
            written = render.write(monthly(s, month, now, calendar=self.calendar), out)
            for court in courts:
                written += render.write(monthly(s, month, now, court=court, calendar=self.calendar), out)
        message = f"wrote {len(written)} file(s) for {month} (statewide and {len(courts)} court(s)) into {out}"
        return audited(self.db, self.trail, self.username, "report monthly", f"{month} statewide", lambda _s: message)

    def audit_retention(self, slot: datetime) -> str:
        days = max(self.settings.audit_retention_days, MIN_AUDIT_RETENTION_DAYS)
        before = self.clock() - timedelta(days=days)

        def work(s: Session) -> str:
            count, base = self.trail.purge(s.connection(), before)
            return f"purged {count} audit event(s) older than {days} days; the chain now starts after event {base}"

        return audited(self.db, self.trail, self.username, "audit purge", "", work, self.clock)

    def housekeeping(self, slot: datetime) -> str:
        """DEAD outbox messages past ``CCPOR_DEAD_RETENTION_DAYS`` (not those an order still needs)."""
        from hub.api.app import OUTBOX_KINDS
        from hub.outbox import queue

        days = self.settings.dead_retention_days

        def work(s: Session) -> str:
            count, kept = queue.purge_dead(s, timedelta(days=days), self.clock(), OUTBOX_KINDS)
            note = f"; kept {', '.join(kept)}: their orders need them" if kept else ""
            return f"purged {count} dead message(s) older than {days} days{note}"

        return audited(self.db, self.trail, self.username, "queue purge-dead", "", work, self.clock)


#: Each job: its schedule's setting (a Settings field) and its method of :class:`Jobs`.
_JOBS = {
    "expire-orders": ("job_expire_orders", "expire_orders"),
    "monthly-reports": ("job_monthly_reports", "monthly_reports"),
    "audit-retention": ("job_audit_retention", "audit_retention"),
    "housekeeping": ("job_housekeeping", "housekeeping"),
}
JOBS = tuple(_JOBS)

__all__ = ["ANCHOR", "JOBS", "Jobs", "Schedule", "audited", "claim", "cli_user", "finish"]
