"""What one call costs the database, on SQLite and PostgreSQL, through the hub's whole WSGI app.

Each statement of the intake is a round trip on PostgreSQL (whose server shares the machine's
cores) and SQLAlchemy work on both; these tests keep the hot path from growing unnoticed. A change
that needs another statement updates the list here, on purpose. docs/PERFORMANCE.md has the figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from hub import masterkey
from hub.api.app import Services, create_app
from hub.db.engine import Database
from hub.settings import Settings
from tests.conftest import PASSWORD, make_user
from tests.support.orders import SVC, envelope, order, proof
from tests.support.statements import RoundTrips, Statement, recorded
from tests.support.wsgi import post


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Any]:
    masterkey.create(tmp_path / "master.key")
    settings = Settings(data_dir=tmp_path, database_url=db.url, dev_password_text_over_http=True)  # loopback
    services = Services.build(settings, db=db)
    make_user(db, "clerk")
    yield create_app(services)


def call(app: Any, operation: str, params: list[tuple[Any, ...]]) -> etree._Element:
    status, content = post(app, envelope(operation, params, username="clerk", password=PASSWORD))
    assert status.startswith("200"), content
    return etree.fromstring(content)


def written(app: Any, db: Database, operation: str, params: list[tuple[Any, ...]]) -> list[Statement]:
    """The statements of one call (after a first call has warmed the per-process caches)."""
    with recorded(db.engine, db.read_engine) as seen:
        call(app, operation, params)
    return seen


def shapes(statements: list[Statement]) -> list[str]:
    return [s.shape for s in statements if s.shape not in ("BEGIN", "COMMIT")]


def receipt(answer: etree._Element) -> tuple[str, int]:
    found = answer.find(f".//{{{SVC}}}Receipt")
    assert found is not None
    return found.findtext(f"{{{SVC}}}OrderId") or "", int(found.findtext(f"{{{SVC}}}Version") or 0)


def test_submit_writes_its_rows_and_event_and_reads_nothing_back(app, db, tmp_path: Path):
    with nullcontext() if db.serializes_writes else RoundTrips(db.engine, tmp_path) as trips:
        call(app, "SubmitOrder", [("Order", order())])  # warm-up: the password check is cached per process
        mark = trips.mark() if trips else 0
        seen = written(app, db, "SubmitOrder", [("Order", order())])
        if trips:  # PostgreSQL: a round trip a statement, BEGIN and COMMIT; none to check the connection
            assert trips.since(mark) == ['Query "BEGIN"', *["Sync"] * len(seen), 'Query "COMMIT"']
    assert shapes(seen) == [
        "SELECT accounts",  # the caller (PasswordText: the scrypt check itself is cached)
        "INSERT orders",
        "INSERT order_parties",  # a new order has no names to delete first
        "INSERT order_versions",
        "UPDATE audit_chain",  # advance the head (its row lock is held from here to COMMIT)
        "INSERT audit_events",
        "UPDATE audit_chain",  # the head's mac and seal
    ], [s.sql for s in seen]


def test_noting_the_privileges_used_reads_nothing_the_call_has_not_read(app, db):
    order_id, version = receipt(call(app, "SubmitOrder", [("Order", order())]))
    for operation, params in (
        ("SubmitOrder", [("Order", order())]),
        ("GetOrder", [("OrderId", order_id)]),
        ("LockOrder", [("OrderId", order_id)]),
        ("ReleaseOrder", [("OrderId", order_id)]),
        ("ModifyOrder", [("OrderId", order_id), ("Version", version), ("Order", order(CaseDocketID="M1"))]),
        ("ServeOrder", [("OrderId", order_id), ("Version", version + 1), ("ProofOfService", proof())]),
        ("CancelOrder", [("OrderId", order_id), ("Version", version + 2), ("CancelReasonCode", "TERMINATED-BY-COURT")]),
    ):
        seen = written(app, db, operation, params)
        assert [s.sql for s in seen if "_permission_note" in s.caller] == [], operation
