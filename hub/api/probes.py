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
        found: dict[str, str] = {"master_key": "loaded" if self.key_loaded else "missing"}
        try:
            with self.db.read_engine.connect() as connection:
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
            "ok"
            if revision == self.head
            else f"at {revision or 'none'}, this code needs {self.head}: run 'ccpor-hub db upgrade'"
        )
        return found

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        found = self.checks()
        ready = all(value in ("ok", "loaded") for value in found.values())
        body = json.dumps({"ready": ready, **found}, sort_keys=True).encode() + b"\n"
        start_response(
            "200 OK" if ready else "503 Service Unavailable",
            [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Content-Length", str(len(body)))],
        )
        return [body]
