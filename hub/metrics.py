"""The hub's Prometheus metrics: one place that names them (``ccpor_...``, base units).

Every process that counts (the gunicorn workers, the worker) writes its figures to files in
``PROMETHEUS_MULTIPROC_DIR`` -- prometheus_client's multi-process mode, set by ``ccpor-hub serve``,
``worker`` from ``CCPOR_METRICS_DIR`` before prometheus_client is imported
(``hub.cli.processes.count_into``) -- and ``/metrics``
adds them up at each scrape, so a scrape answered by any gunicorn worker shows the whole machine's
counts, and a worker that gunicorn restarted loses none of them. There are counters and histograms
only (the queues' gauges are read from the database at each scrape), so a process's files need no
cleaning when it exits. Without the variable (tests in process, tools) the metrics live in this
process's default registry.

The figures are counts and durations: no name, case number, account password or CLETS text is
ever a label. Labels are bounded sets (services, operations, fault codes, states, kinds).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess

#: Latency buckets for SOAP calls and for the gateway's exchanges (seconds).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: DOJ's answer arrives seconds to hours after the send.
_ANSWER_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

SOAP_CALLS = Counter(
    "ccpor_soap_calls_total",
    "SOAP calls answered, by service, operation and outcome (OK or the fault code)",
    ["service", "operation", "outcome"],
)
SOAP_DURATION = Histogram(
    "ccpor_soap_call_duration_seconds",
    "Time from the call's admission to its answer, by service and operation",
    ["service", "operation"],
    buckets=_BUCKETS,
)
LOGON_FAILURES = Counter(
    "ccpor_logon_failures_total",
    "Failed logons to existing accounts (wrong password or digest), counted for the lockout",
)
LOCKOUTS = Counter("ccpor_account_lockouts_total", "Accounts locked by repeated logon failures (CJIS AC-7)")
IMAGE_BYTES = Counter("ccpor_image_bytes_total", "Order image bytes taken in and handed out", ["direction"])
GATEWAY_SEND_DURATION = Histogram(
    "ccpor_gateway_send_duration_seconds",
    "Time of one batch's exchange with its destination, by outbox kind (CARPOS: the DOJ switch; DSP917: courts)",
    ["kind"],
    buckets=_BUCKETS,
)
CARPOS_ANSWER_SECONDS = Histogram(
    "ccpor_carpos_answer_latency_seconds",
    "Time from a CARPOS transaction's send to DOJ's answer being recorded",
    buckets=_ANSWER_BUCKETS,
)
CARPOS_ANSWERS = Counter(
    "ccpor_carpos_answers_total",
    "DOJ's answers recorded, by kind (ACK, REJ) and, for rejects, the reason's class",
    ["kind", "reason_class"],
)


@dataclass
class Observed:
    """One call as its summary knows it, once it ended."""

    outcome: str = "Server.Internal"
    seconds: float = 0.0


def outcome_of(exc: BaseException) -> str:
    """The fault code a failed call answers with (a HubError's code, a Spyne fault's), else Server.Internal."""
    return str(getattr(exc, "code", None) or getattr(exc, "faultcode", None) or "Server.Internal")


@contextmanager
def soap_call(service: str, operation: str) -> Iterator[Observed]:
    """Count and time one call: its outcome is OK, or the code of the fault it ends in."""
    start, seen = time.perf_counter(), Observed()
    try:
        yield seen
        seen.outcome = "OK"
    except Exception as exc:
        seen.outcome = outcome_of(exc)
        raise
    finally:
        seen.seconds = time.perf_counter() - start
        SOAP_CALLS.labels(service, operation, seen.outcome).inc()
        SOAP_DURATION.labels(service, operation).observe(seen.seconds)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _Machine:
    """Every counting process's files under the metrics directory, added up at each scrape."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def collect(self) -> Iterable[Any]:
        return _multiprocess.MultiProcessCollector.merge(
            sorted(str(p) for p in self.root.glob("*/*.db")), accumulate=True
        )


def exposition(root: Path | None, *collectors: object) -> bytes:
    """The text exposition of every process's metrics on this machine (their files under ``root``),
    or of this process's alone when it counts in memory, and of ``collectors`` (figures read at
    scrape time, such as the queues from the database)."""
    from prometheus_client import REGISTRY

    registry = CollectorRegistry()
    if multiprocess() and root is not None:
        registry.register(_Machine(root))  # type: ignore[arg-type]
    else:
        for collector in list(REGISTRY._collector_to_names):  # this process's own metrics
            registry.register(collector)
    for collector in collectors:
        registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry)


#: DOJ's reject reasons are CLETS data: a label carries only which of these known classes a reason
#: falls in (NCIC-style texts, DOMAIN.md section 3), never its text.
REJECT_CLASSES = (
    "MANDATORY FIELD MISSING",
    "INVALID DATE",
    "INVALID ORI",
    "NOT ON FILE",
    "ON FILE",
    "INVALID",
    "UNREADABLE",
)


def reason_class(reason: str) -> str:
    """The class of DOJ's reject ``reason`` for a label: the first of :data:`REJECT_CLASSES` it
    contains, else OTHER."""
    text = " ".join(reason.upper().split())
    return next((c.replace(" ", "_") for c in REJECT_CLASSES if c in text), "OTHER")


__all__ = [
    "CARPOS_ANSWERS",
    "CARPOS_ANSWER_SECONDS",
    "GATEWAY_SEND_DURATION",
    "IMAGE_BYTES",
    "LOCKOUTS",
    "LOGON_FAILURES",
    "SOAP_CALLS",
    "SOAP_DURATION",
    "exposition",
    "multiprocess",
    "reason_class",
    "soap_call",
]
