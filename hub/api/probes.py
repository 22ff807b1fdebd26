"""``/healthz`` and ``/readyz``: the probes an orchestrator or load balancer asks.

``/healthz`` (and ``/health``, its older name): the process answers; it reads nothing. ``/readyz``:
the hub can serve -- its database answers on the reader connection, its schema is the one this
code's migrations end at (a hub started before ``db upgrade`` finished, or left behind by one, is
not ready), and its master key is loaded (a hub without one does not start). 200 with each check's
result as JSON, or 503 naming what is not ready. Neither is authenticated or audited: they read no
order, account or secret, and say nothing beyond the schema revision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.db import migrate
from hub.db.engine import Database

log = logging.getLogger("ccpor.probes")
StartResponse = Callable[..., Any]


class Readiness:
    def __init__(self, db: Database, key_loaded: bool) -> None:
        self.db = db
        self.key_loaded = key_loaded
        self.head = migrate.head()

    def checks(self) -> dict[str, str]:
        return readiness(self.db, self.head, key_loaded=self.key_loaded)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        found = self.checks()
        ready, body = verdict(found)
        start_response(
            "200 OK" if ready else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))],
        )
        return [body]


def verdict(found: dict[str, str]) -> tuple[bool, bytes]:
    """Whether every check is fine, and the checks as the JSON line a probe answers."""
    ready = all(value in ("ok", "loaded") for value in found.values())
    return ready, json.dumps({"ready": ready, **found}, sort_keys=True).encode() + b"\n"


def readiness(db: Database, head: str, *, key_loaded: bool) -> dict[str, str]:
    """The database's answer and schema, and the master key: what ``/readyz`` and ``worker --check``
    report. A SQLite file that is not there is unreachable (never created by asking)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    found: dict[str, str] = {"master_key": "loaded" if key_loaded else "missing"}
    url = make_url(db.url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_file():
            found["database"] = "unreachable"
            return found
    try:
        with db.read_engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            found["database"] = "ok"
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as exc:
        log.warning("readiness: the database did not answer (%s)", type(exc).__name__)
        if "database" not in found:
            found["database"] = "unreachable"
            return found
        revision = None  # no alembic_version table: never migrated
    found["migrations"] = (
        "ok" if revision == head else f"at {revision or 'none'}, this code needs {head}: run 'ccpor-hub db upgrade'"
    )
    return found


class QueueFigures:
    """The outbox's figures read at each scrape: messages by kind and state, the oldest waiting."""

    def __init__(self, db: Database, clock: Callable[[], Any]) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from hub.db.models import OutboxMessage
        from hub.outbox import queue

        depth = GaugeMetricFamily(
            "ccpor_outbox_messages", "Outbox messages by kind and state", labels=["kind", "state"]
        )
        oldest = GaugeMetricFamily(
            "ccpor_outbox_oldest_waiting_seconds",
            "Age of the oldest message not yet answered (QUEUED or SENT), by kind",
            labels=["kind"],
        )
        try:
            with self.db.read() as s:
                for kind, state, count in s.execute(
                    select(OutboxMessage.kind, OutboxMessage.state, func.count()).group_by(
                        OutboxMessage.kind, OutboxMessage.state
                    )
                ):
                    depth.add_metric([kind, state], count)
                for kind, first in queue.oldest_waiting(s).items():
                    oldest.add_metric([kind], max(0.0, (self.clock() - first).total_seconds()))
        except SQLAlchemyError as exc:
            log.warning("metrics: the queues could not be read (%s)", type(exc).__name__)
        yield depth
        yield oldest


class Metrics:
    """``/metrics``: the Prometheus text exposition (hub.metrics), for loopback callers or a scraper
    with the bearer token whose SHA-256 is ``CCPOR_METRICS_TOKEN_SHA256``; 403 for anyone else. No
    figure names a person, a case or a secret; scrapes are not audited (they read no record)."""

    def __init__(self, db: Database, settings: Any, clock: Callable[[], Any]) -> None:
        self.root = settings.resolved_metrics_dir
        self.token_sha256 = settings.metrics_token_sha256.strip().lower()
        self.queues = QueueFigures(db, clock)

    def allowed(self, environ: dict[str, Any]) -> bool:
        import hashlib
        import hmac
        import ipaddress

        if self.token_sha256:
            header = environ.get("HTTP_AUTHORIZATION", "")
            scheme, _, token = header.partition(" ")
            digest = hashlib.sha256(token.strip().encode()).hexdigest()
            return scheme.lower() == "bearer" and hmac.compare_digest(digest, self.token_sha256)
        try:
            return ipaddress.ip_address(environ.get("REMOTE_ADDR", "")).is_loopback
        except ValueError:
            return False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        from prometheus_client import CONTENT_TYPE_LATEST

        from hub import metrics

        if not self.allowed(environ):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"/metrics answers loopback callers, or a scraper with the configured bearer token\n"]
        body = metrics.exposition(self.root, self.queues)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]
