"""``ccpor-hub gateway``: APScheduler as a timer, the doorbell as a wake-up, the Gateway as the work.

APScheduler only decides *when* to look (every ``CCPOR_GATEWAY_POLL_SECONDS``, and at once when the
doorbell rings); it is not a lock. Its job store is in memory and private to the process -- a job
store shared between processes runs jobs twice -- and every guarantee (one sender per message, per
order order, exactly-once effect) comes from the outbox rows: claims under row locks and leases,
guarded updates, MCNs. Any number of gateway processes may run against one PostgreSQL database.

One tick drains and polls until there is nothing left to do, so a burst is worked off in one go; a
ring that arrives while a tick runs makes that tick go round once more instead of being lost.
Within a tick, ``CCPOR_GATEWAY_SENDERS`` threads drain (each claims its own batches, so they never
send the same message) while one more reads the mailbox: sealing the next batch, the switch working
on the last one and the answers to the one before overlap instead of taking turns.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from gateway import doorbell, keys
from gateway.retry import RetryPolicy
from gateway.sealing import Channel
from gateway.transport import SoapSwitch, SwitchTransport, TransportError
from gateway.worker import Gateway
from hub import masterkey
from hub.audit import AuditTrail
from hub.carpos.clets import CletsVault
from hub.db.engine import Database
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
    now = datetime.now(UTC)
    warn = timedelta(days=settings.cert_warn_days)
    warnings = [
        w for c, what in ((own.certificate, "hub"), (doj, "DOJ")) if (w := keys.check_validity(c, what, now, warn))
    ]
    return Channel(own, doj), warnings


def build_gateway(settings: Settings, *, db: Database | None = None) -> tuple[Gateway, list[str]]:
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
    )
    return gateway, warnings


class GatewayService:
    """The scheduler, the doorbell and the gateway, started and stopped together."""

    def __init__(
        self,
        gateway: Gateway,
        poll_seconds: float,
        *,
        senders: int = 1,
        transport: Callable[[], SwitchTransport] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.poll_seconds = poll_seconds
        self.on_idle = on_idle
        # Each thread its own HTTP session (a requests.Session is not shared between threads).
        fresh = transport or (lambda: gateway.transport)
        self.senders = [gateway] + [gateway.with_transport(fresh()) for _ in range(max(1, senders) - 1)]
        self.receiver = gateway.with_transport(fresh())
        self.pool = ThreadPoolExecutor(max_workers=len(self.senders) + 1, thread_name_prefix="carpos")
        self.scheduler = BackgroundScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        self.listener = doorbell.Listener(gateway.db.url, self.wake)
        self._lock = threading.Lock()
        self._running = False
        self._rung = False
        self._stopped = threading.Event()
        self._rng = random.Random()  # noqa: S311 - jitter of the first tick, not secrets

    def start(self) -> GatewayService:
        first = datetime.now(UTC) + timedelta(seconds=self._rng.random() * min(self.poll_seconds, 1.0) / 10)
        self.scheduler.add_job(self._tick, "interval", seconds=self.poll_seconds, id=_JOB, next_run_time=first)
        self.scheduler.start()
        self.listener.start()
        return self

    def wake(self) -> None:
        """Look at the outbox now (from the doorbell's thread)."""
        with self._lock:
            self._rung = True
            if self._running or self._stopped.is_set():
                return  # the running tick goes round again
        try:
            self.scheduler.modify_job(_JOB, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the scheduler is shutting down; the ring is only a hint
            log.debug("wake ignored: scheduler not running")

    def _tick(self) -> None:
        with self._lock:
            self._running = True
        try:
            while not self._stopped.is_set():
                with self._lock:
                    self._rung = False
                worked = self._round()
                with self._lock:
                    # Round again while work is being done (more may be due) or a ring came meanwhile.
                    if not (worked or self._rung):
                        self._running = False
                        break
        except Exception:
            log.exception("the CARPOS exchange failed; it runs again at the next tick")
            with self._lock:
                self._running = False
        if self.on_idle is not None:
            self.on_idle()

    def _round(self) -> int:
        """All senders drain until nothing is due while the receiver reads the answers; work done."""
        sent = threading.Event()
        active = [len(self.senders)]

        def send(gateway: Gateway) -> int:
            total = 0
            try:
                while not self._stopped.is_set() and (n := gateway.drain()):
                    total += n
                    sent.set()
            finally:
                with self._lock:
                    active[0] -= 1
                sent.set()
            return total

        def receive() -> int:
            total = 0
            while not self._stopped.is_set():
                try:
                    got, _ = self.receiver.poll()
                except TransportError as exc:
                    log.warning("DOJ's mailbox could not be read: %s", exc)
                    return total
                total += got
                if got:
                    continue
                with self._lock:
                    if not active[0]:
                        return total
                sent.wait(0.25)  # until a sender hands over a batch (or finishes)
                sent.clear()
            return total

        futures = [self.pool.submit(send, g) for g in self.senders] + [self.pool.submit(receive)]
        return sum(f.result() for f in futures)

    def stop(self) -> None:
        self._stopped.set()
        self.listener.stop()
        self.scheduler.shutdown(wait=True)
        self.pool.shutdown(wait=True)


def run(settings: Settings) -> int:
    """The ``ccpor-hub gateway`` process: until SIGTERM or SIGINT (a batch in flight finishes)."""
    gateway, warnings = build_gateway(settings)
    for warning in warnings:
        log.warning(warning)
    service = GatewayService(
        gateway,
        settings.gateway_poll_seconds,
        senders=settings.gateway_senders,
        transport=lambda: SoapSwitch(settings.doj_url, timeout=settings.gateway_timeout_seconds),
    ).start()
    log.info(
        "CARPOS gateway %s: %s -> %s every %.1fs (doorbell on)",
        gateway.owner,
        _safe(settings.resolved_database_url),
        settings.doj_url,
        settings.gateway_poll_seconds,
    )
    done = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()
    service.stop()
    gateway.db.dispose()
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
