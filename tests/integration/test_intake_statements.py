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
from sqlalchemy import select

from hub import masterkey
from hub.api.app import Services, create_app
from hub.db.engine import Database
from hub.db.models import Account
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
        else:  # SQLite: one transaction, the writer's (the cached password check is one SELECT in it)
            assert [s.sql for s in seen if s.shape == "BEGIN"] == ["BEGIN IMMEDIATE"]
    if db.serializes_writes:
        expected = [
            "SELECT accounts",  # the caller (PasswordText: the scrypt check itself is cached)
            "INSERT orders",
            "INSERT order_parties",  # a new order has no names to delete first
            "INSERT order_versions",
            "UPDATE audit_chain",  # advance the head (the write lock is held from BEGIN IMMEDIATE anyway)
            "INSERT audit_events",
            "UPDATE audit_chain",  # the head's mac and seal
        ]
    else:  # PostgreSQL: a round trip each, so data-modifying CTEs put several writes in one
        expected = [
            "SELECT accounts",
            # the names (one array a key, unnested) and the history row take the new row's id
            "INSERT orders + INSERT order_parties + INSERT order_versions",
            "UPDATE audit_chain",  # advance the head (its row lock is held from here to COMMIT)
            "INSERT audit_events + UPDATE audit_chain",  # the event, and the head's mac and seal
        ]
    assert shapes(seen) == expected, [s.sql for s in seen]


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


def test_a_cached_password_check_that_cannot_answer_falls_back_to_the_full_one(app, db):
    call(app, "SubmitOrder", [("Order", order())])  # the password is verified, and cached
    wrong = envelope("SubmitOrder", [("Order", order())], username="clerk", password="wrong password!")  # noqa: S106
    status, _ = post(app, wrong)
    assert status.startswith("500")  # Client.Authentication, counted
    assert failed_logons(db) == 1
    # On SQLite the cache answers inside the write transaction only when there is nothing to reset:
    # this call leaves it, checks the password on its own, resets the count and then makes the change.
    order_id, version = receipt(call(app, "SubmitOrder", [("Order", order())]))
    assert version == 1 and order_id
    assert failed_logons(db) == 0


def failed_logons(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(Account.failed_logons).where(Account.username == "clerk"))
