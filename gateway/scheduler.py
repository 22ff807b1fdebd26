"""``ccpor-hub gateway``: APScheduler as a timer, the doorbell as a wake-up, the Gateway as the work.

APScheduler only decides *when* to look (every ``CCPOR_GATEWAY_POLL_SECONDS``, and at once when the
doorbell rings); it is not a lock. Its job store is in memory and private to the process -- a job
store shared between processes runs jobs twice -- and every guarantee (one sender per message, per
order order, exactly-once effect) comes from the outbox rows: claims under row locks and leases,
guarded updates, MCNs. Any number of gateway processes may run against one PostgreSQL database.

One sender thread drains the outbox while another reads the mailbox. Under a backlog -- the last
batch was full, so more is waiting -- ``CCPOR_GATEWAY_SENDERS - 1`` helper senders join in (each
claims its own batches, so they never send the same message): sealing the next batch and the switch
working on the last one overlap instead of taking turns. Without a backlog the helpers wait, so a
steady trickle is sent in batches as large as the arrivals allow rather than split between threads
into more, smaller round trips (each costs both sides a fixed few milliseconds of CPU). Each thread
drains or reads until nothing is left, so a burst is worked off in one go.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from gateway import keys
from gateway.court import CourtSender, CourtTransport
from gateway.sealing import Channel, checked_channel
from gateway.sender import Sender
from gateway.transport import SoapSwitch, SwitchTransport, TransportError
from gateway.worker import Gateway
from hub import masterkey
from hub.audit import AuditTrail
from hub.carpos import doorbell
from hub.carpos.clets import CletsVault
from hub.clock import utcnow
from hub.db.engine import Database, redacted
from hub.dsp917.responses import Dsp917Responses
from hub.jobs import JOBS, Jobs
from hub.outbox.manager import owner_id
from hub.outbox.retry import RetryPolicy
from hub.settings import Settings

log = logging.getLogger("ccpor.gateway")

_JOB = "carpos-exchange"


def policy_of(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.carpos_max_attempts,
        base_delay=timedelta(seconds=settings.carpos_retry_base_seconds),
        max_delay=timedelta(seconds=settings.carpos_retry_max_seconds),
        answer_timeout=timedelta(seconds=settings.carpos_answer_timeout_seconds),
    )


def hub_channel(settings: Settings, key: masterkey.MasterKey) -> tuple[Channel, list[str]]:
    """The hub's end of the sealed channel: its key pair and DOJ's pinned certificate, checked for
    their validity period (KeyFileError if expired); and warnings for those close to expiry."""
    own = keys.load_pair(settings.resolved_hub_key_file, settings.resolved_hub_cert_file, key)
    doj = keys.load_certificate(settings.resolved_doj_cert_file)
    return checked_channel(own, doj, ("hub", "DOJ"), timedelta(days=settings.cert_warn_days))


def build_gateway(settings: Settings, *, db: Database | None = None) -> tuple[Gateway, list[str]]:
    """The CARPOS gateway; DOJ's answers to courts' DSP917 orders become their business responses."""
    key = masterkey.load(settings.resolved_master_key_file)
    channel, warnings = hub_channel(settings, key)
    gateway = Gateway(
        db or Database(settings.resolved_database_url),
        channel,
        SoapSwitch(settings.doj_url, timeout=settings.gateway_timeout_seconds),
        CletsVault.of(key),
        AuditTrail(key),
        policy_of(settings),
        doj_ori=settings.doj_ori,
        batch=settings.gateway_batch,
        lease_seconds=settings.gateway_lease_seconds,
        answered=Dsp917Responses(key).carpos_answered,
    )
    return gateway, warnings


def court_identity(settings: Settings, key: masterkey.MasterKey) -> tuple[keys.ClientIdentity | None, list[str]]:
    """The client certificate the gateway presents to courts (None: none configured), checked for its
    validity period (KeyFileError if expired or half configured); warnings for one close to expiry."""
    cert, private = settings.dsp917_client_cert, settings.dsp917_client_key
    if cert is None and private is None:
        return None, []
    if cert is None or private is None:
        raise keys.KeyFileError("CCPOR_DSP917_CLIENT_CERT and CCPOR_DSP917_CLIENT_KEY go together")
    identity = keys.ClientIdentity(cert, private, key)
    warning = keys.check_validity(
        identity.certificate(), "courts' TLS client", utcnow(), timedelta(days=settings.cert_warn_days)
    )
    return identity, [warning] if warning else []


def build_court_sender(settings: Settings, db: Database) -> CourtSender:
    """The courts' business responses (DSP917), on the gateway's database, retried by the same policy."""
    key = masterkey.load(settings.resolved_master_key_file)
    identity, warnings = court_identity(settings, key)
    for warning in warnings:
        log.warning("%s", warning)
    return CourtSender(
        db,
        key,
        CourtTransport(
            timeout=settings.gateway_timeout_seconds,
            ca_file=str(settings.dsp917_ca_file) if settings.dsp917_ca_file else None,
            client=identity,
        ),
        AuditTrail(key),
        policy_of(settings),
        batch=settings.gateway_batch,
        # A batch to the courts may take up to ~5 x the timeout (its calls start within the deadline,
        # 2 x the timeout, and each ends by its own deadline plus one read): the lease outlasts it,
        # or another gateway would claim and send the same responses meanwhile.
        lease_seconds=max(settings.gateway_lease_seconds, int(5 * settings.gateway_timeout_seconds) + 10),
    )


class GatewayService:
    """The timer, the doorbell and the gateway's threads, started and stopped together.

    One sender thread drains the outbox, ``senders - 1`` helpers join it while there is a backlog
    (a batch came back full), and one thread reads DOJ's mailbox. Each works until it finds nothing,
    then waits to be woken: the sender by the doorbell or the timer, the helpers by a full batch, the
    receiver by a sender that handed over a batch or by the timer. APScheduler (an interval job, its
    job store in memory, private to the process) is only that timer; no lock or guarantee depends on
    it. A new message waits at most for the batch in flight to come back.
    """

    def __init__(
        self,
        gateway: Gateway,
        poll_seconds: float,
        *,
        senders: int = 1,
        transport: Callable[[], SwitchTransport] | None = None,
        others: list[Sender] | None = None,
    ) -> None:
        self.gateway = gateway
        #: The senders of the outbox's other kinds (the courts' business responses): a thread each,
        #: woken like CARPOS's first sender.
        self.others = list(others or [])
        self.poll_seconds = poll_seconds
        # Each thread its own HTTP session (a requests.Session is not shared between threads).
        fresh = transport or (lambda: gateway.transport)
        self.senders = [gateway] + [gateway.with_transport(fresh()) for _ in range(max(1, senders) - 1)]
        self.receiver = gateway.with_transport(fresh())
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self.listener = doorbell.Listener(gateway.db.url, self.wake)
        self._due = threading.Condition()
        self._generation = 0  # counts wake-ups, so none is lost between a drain and the wait
        self._backlog = False  # the last batch was full: the helpers drain too
        self._answers = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self._rng = random.Random()  # noqa: S311 - jitter of the first tick, not secrets

    def start(self) -> GatewayService:
        self.listener.start()  # first: if the doorbell cannot be set up, no thread is left behind
        for n, sender in enumerate(self.senders, start=1):
            name = f"carpos-send-{n}"
            self._threads.append(threading.Thread(target=self._send, args=(sender, n > 1), name=name))
        for sender in self.others:
            name = f"{sender.outbox.kind.lower()}-send"
            self._threads.append(threading.Thread(target=self._send, args=(sender, False), name=name))
        self._threads.append(threading.Thread(target=self._receive, name="carpos-receive"))
        for thread in self._threads:
            thread.start()
        first = utcnow() + timedelta(seconds=self._rng.random() * min(self.poll_seconds, 1.0) / 10)
        self.scheduler.add_job(self._tick, "interval", seconds=self.poll_seconds, id=_JOB, next_run_time=first)
        self.scheduler.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (the doorbell's thread; the timer)."""
        with self._due:
            self._generation += 1
            self._due.notify_all()

    def _tick(self) -> None:
        self.wake()
        self._answers.set()  # answers delayed at DOJ, or left by a sender's crash, are read too

    def _send(self, gateway: Sender, helper: bool) -> None:
        seen = -1
        while not self._stopped.is_set():
            with self._due:
                if helper:
                    while not (self._backlog or self._stopped.is_set()):
                        self._due.wait()
                elif seen == self._generation:
                    self._due.wait()
                seen = self._generation
            try:
                while not self._stopped.is_set():
                    done = gateway.send_batch()
                    # A full claim that went through: more is waiting (refusals don't make it smaller).
                    full = done.claimed >= gateway.batch and done.sent > 0
                    self._note_backlog(full)
                    if done.sent:
                        self._answers.set()
                    if not done.sent or (helper and not full):  # a helper stops once the backlog is gone
                        break
            except Exception:
                self._note_backlog(False)
                log.exception("sending %s messages failed; trying again at the next tick", gateway.outbox.kind)

    def _note_backlog(self, full: bool) -> None:
        """What the last drain saw: a full batch (more is waiting: wake the helpers) or not (they rest)."""
        with self._due:
            if full and not self._backlog:
                self._due.notify_all()
            self._backlog = full

    def _receive(self) -> None:
        while not self._stopped.is_set():
            self._answers.wait()
            self._answers.clear()
            try:
                while not self._stopped.is_set():
                    recorded, remaining = self.receiver.poll()
                    if not (recorded and remaining):  # the mailbox said what is left: no empty read
                        break
            except TransportError as exc:
                log.warning("DOJ's mailbox could not be read: %s", exc)
            except Exception:
                log.exception("reading DOJ's mailbox failed; trying again at the next tick")

    def stop(self) -> None:
        """Stop waking, let each thread finish the batch it is on, and wait for them."""
        self._stopped.set()
        self.listener.stop()
        self.scheduler.shutdown(wait=True)
        self.wake()
        self._answers.set()
        for thread in self._threads:
            thread.join()
        for sender in self.others:
            close = getattr(sender, "close", None)
            if close is not None:
                close()


#: What ``ccpor-hub worker`` runs: the CARPOS exchange (and the courts' responses) and the hub's jobs.
WORKER_PARTS = ("carpos-exchange", *JOBS)


class JobScheduler:
    """The hub's scheduled jobs (hub.jobs) on APScheduler's timer, in this process: each fires on its
    schedule and runs only if its worker claims the run's slot (exactly one of several workers)."""

    def __init__(self, jobs: Jobs, names: list[str]) -> None:
        self.jobs = jobs
        self.schedules = {name: schedule for name, schedule in jobs.schedules().items() if name in names}
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
        )

    def start(self) -> JobScheduler:
        for name, schedule in self.schedules.items():
            self.scheduler.add_job(self.jobs.run, schedule.trigger(), args=[name, schedule], id=name)
        # Runs a dead worker left unfinished: at start, then a few times per lease.
        every = max(1.0, min(300.0, self.jobs.settings.job_lease_seconds / 4))
        self.scheduler.add_job(self._recover, "interval", seconds=every, id="recover", next_run_time=utcnow())
        self.scheduler.start()
        return self

    def _recover(self) -> None:
        try:
            self.jobs.recover(self.schedules)
        except Exception:
            log.exception("recovering unfinished job runs failed; trying again later")

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)  # a job run in progress finishes


def run_worker(settings: Settings, parts: list[str] | None = None) -> int:
    """``ccpor-hub worker``: the CARPOS exchange and every scheduled job (or the ``parts`` named),
    until SIGTERM or SIGINT (a batch or job run in flight finishes)."""
    chosen = list(parts or WORKER_PARTS)
    unknown = [p for p in chosen if p not in WORKER_PARTS]
    if unknown:
        raise ValueError(f"no such part of the worker: {', '.join(unknown)} (choose from {', '.join(WORKER_PARTS)})")
    stoppers: list[Callable[[], None]] = []
    db: Database | None = None
    if "carpos-exchange" in chosen:
        gateway, warnings = build_gateway(settings)
        for warning in warnings:
            log.warning(warning)
        db = gateway.db
        service = GatewayService(
            gateway,
            settings.gateway_poll_seconds,
            senders=settings.gateway_senders,
            transport=lambda: SoapSwitch(settings.doj_url, timeout=settings.gateway_timeout_seconds),
            others=[build_court_sender(settings, gateway.db)],
        ).start()
        stoppers.append(service.stop)
        log.info(
            "CARPOS gateway %s: %s -> %s every %.1fs (doorbell on)",
            gateway.owner,
            redacted(settings.resolved_database_url),
            settings.doj_url,
            settings.gateway_poll_seconds,
        )
    names = [p for p in chosen if p in JOBS]
    if names:
        db = db or Database(settings.resolved_database_url)
        key = masterkey.load(settings.resolved_master_key_file)
        jobs = Jobs(settings, db, AuditTrail(key), owner=owner_id())
        scheduler = JobScheduler(jobs, names).start()
        stoppers.append(scheduler.stop)
        log.info("worker %s: jobs %s", jobs.owner, ", ".join(f"{n} ({scheduler.schedules[n].text})" for n in names))
    done = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current batch or job run", signum)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
    for stop_part in reversed(stoppers):
        stop_part()
    if db is not None:
        db.dispose()
    return 0
