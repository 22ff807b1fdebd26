"""Pooled PostgreSQL connections: checked before use without a round trip, replaced when the
server has ended them (hub/db/engine.py, _still_open)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.db.engine import Database
from tests.support.statements import RoundTrips
from tests.support.waiting import until

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(db: Database) -> Database:
    if db.serializes_writes:
        pytest.skip("SQLite has no connections to a server")
    return db


def backend_pid(db: Database) -> int:
    with db.unit_of_work() as s:
        return int(s.scalar(sa.text("SELECT pg_backend_pid()")))


def test_a_unit_of_work_costs_no_round_trip_to_check_its_connection(pg, tmp_path: Path):
    with RoundTrips(pg.engine, tmp_path) as trips:
        backend_pid(pg)  # a connection in the pool, traced from its checkout on
        mark = trips.mark()
        with pg.unit_of_work() as s:
            s.scalar(sa.text("SELECT 1"))
        assert trips.since(mark) == ['Query "BEGIN"', 'Query "SELECT 1"', 'Query "COMMIT"']  # no ping before BEGIN


def test_a_connection_the_server_ended_is_replaced_before_it_is_used(pg):
    first = backend_pid(pg)  # the pool keeps this connection
    # Autocommit: pg_stat_activity is a snapshot taken at a transaction's first look and held to its
    # end, so polling it inside one transaction would wait forever for a backend that already exited.
    admin = sa.create_engine(pg.url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        gone = sa.text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
        until(lambda: conn.scalar(gone, {"pid": first}), f"backend {first} to exit")
    admin.dispose()
    assert backend_pid(pg) != first  # a new connection, and no error on the way
