"""hub.db.prepared on both databases: a statement run on the DBAPI cursor stores and returns what
SQLAlchemy's own execution would, in the connection's transaction, with SQLAlchemy's errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import Boolean, Column, Integer, MetaData, Numeric, String, Table, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, NoResultFound, OperationalError, StatementError

from hub.db.engine import Database
from hub.db.prepared import Prepared
from hub.db.types import UTCDateTime
from tests.support.statements import recorded

_meta = MetaData()
_probe = Table(
    "prepared_probe",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("flag", Boolean, nullable=False),
    Column("count", Integer, nullable=False, default=7),
    Column("amount", Numeric(8, 2), nullable=True),
)
_INSERT = Prepared(insert(_probe).returning(_probe.c.id))
_INSERT_MANY = Prepared(insert(_probe))
_FLIP = Prepared(
    update(_probe)
    .where(_probe.c.name == bindparam("b_name"))
    .values(flag=bindparam("b_flag"))
    .returning(_probe.c.id, _probe.c.flag, _probe.c.at)
)
_BY_NAME = Prepared(select(_probe.c.id, _probe.c.name, _probe.c.flag).where(_probe.c.name == bindparam("b_name")))
AT = datetime(2026, 12, 8, 7, 30, tzinfo=UTC)


@pytest.fixture
def probe(db: Database) -> Iterator[sa.Engine]:
    _meta.create_all(db.engine)
    yield db.engine
    _meta.drop_all(db.engine)


def _stored(engine: sa.Engine) -> list[tuple[object, ...]]:
    """The rows as the database keeps them (no result processing): what each path wrote."""
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.exec_driver_sql("SELECT name, at, flag, count FROM prepared_probe ORDER BY name")
        ]


def test_a_row_is_stored_as_sqlalchemys_own_insert_stores_it(probe: sa.Engine) -> None:
    with probe.begin() as conn:
        (new_id,) = _INSERT.one(conn, {"name": "direct", "at": AT, "flag": True})
        conn.execute(insert(_probe), {"name": "through sqlalchemy", "at": AT, "flag": True})
    direct, ours = _stored(probe)
    assert direct[1:] == ours[1:]  # the datetime as the UTC type stores it, the boolean, the default 7
    assert direct[3] == 7
    with probe.connect() as conn:
        assert conn.scalar(select(_probe.c.name).where(_probe.c.id == new_id)) == "direct"


def test_returned_rows_are_named_and_typed_as_sqlalchemys(probe: sa.Engine) -> None:
    with probe.begin() as conn:
        _INSERT.one(conn, {"name": "a", "at": AT, "flag": False})
        row = _FLIP.one(conn, {"b_name": "a", "b_flag": True})
        assert row.flag is True  # SQLite keeps 1: the Boolean's result processor ran
        assert row.at == AT and row.at.tzinfo is not None  # the UTC type's result processor
        assert _BY_NAME.one_or_none(conn, {"b_name": "a"}) == (row.id, "a", True)
        assert _BY_NAME.one_or_none(conn, {"b_name": "nobody"}) is None
        assert _FLIP.rows(conn, {"b_name": "nobody", "b_flag": True}) == []
        with pytest.raises(NoResultFound):
            _FLIP.one(conn, {"b_name": "nobody", "b_flag": True})


def test_executemany_stores_every_row(probe: sa.Engine) -> None:
    rows = [{"name": f"n{i}", "at": AT, "flag": bool(i % 2)} for i in range(5)]
    with probe.begin() as conn:
        _INSERT_MANY.many(conn, rows)
        _INSERT_MANY.many(conn, [])
    assert [r[0] for r in _stored(probe)] == [f"n{i}" for i in range(5)]
    assert [bool(r[2]) for r in _stored(probe)] == [False, True, False, True, False]


def test_it_runs_in_the_connections_transaction(probe: sa.Engine) -> None:
    """A connection not yet in a transaction begins one first: rolled back, nothing stays (on
    SQLite, whose driver runs in autocommit here, a bare cursor would have kept the row)."""
    with probe.connect() as conn:
        assert not conn.in_transaction()
        _INSERT.one(conn, {"name": "gone", "at": AT, "flag": True})
        assert conn.in_transaction()
        conn.rollback()
    assert _stored(probe) == []


def test_a_refused_row_raises_sqlalchemys_error_without_its_values(probe: sa.Engine) -> None:
    with probe.begin() as conn:
        _INSERT.one(conn, {"name": "twice", "at": AT, "flag": True})
    with probe.connect() as conn, pytest.raises(IntegrityError) as refused:
        _INSERT.one(conn, {"name": "twice", "at": AT, "flag": False})
    assert "parameters hidden" in str(refused.value)  # the engine's hide_parameters holds here too
    with probe.connect() as conn, pytest.raises(IntegrityError):
        _INSERT_MANY.many(conn, [{"name": "once", "at": AT, "flag": True}, {"name": "once", "at": AT, "flag": True}])
    assert [r[0] for r in _stored(probe)] == ["twice"]


def test_a_value_its_type_refuses_raises_statement_error(probe: sa.Engine) -> None:
    with probe.connect() as conn, pytest.raises(StatementError, match="naive datetime"):
        _INSERT.one(conn, {"name": "naive", "at": datetime(2026, 12, 8, 7, 30), "flag": True})  # noqa: DTZ001


def test_observers_see_the_statement(probe: sa.Engine) -> None:
    """While anyone listens for statements, they run through SQLAlchemy, so the listener sees them."""
    with recorded(probe) as seen, probe.begin() as conn:
        _INSERT.one(conn, {"name": "seen", "at": AT, "flag": True})
        assert _FLIP.one(conn, {"b_name": "seen", "b_flag": False}).flag is False
    assert [s.shape for s in seen if s.shape != "BEGIN"] == ["INSERT prepared_probe", "UPDATE prepared_probe"]


def test_what_it_cannot_run_is_refused_when_compiled(probe: sa.Engine) -> None:
    callable_default = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("n", Integer, default=lambda: 1)
    )
    expanding = select(_probe.c.id).where(_probe.c.name.in_(bindparam("names", expanding=True)))
    with probe.connect() as conn:
        with pytest.raises(TypeError, match="scalar defaults"):
            Prepared(insert(callable_default)).rows(conn, {"id": 1})
        with pytest.raises(TypeError, match="expanding"):
            Prepared(expanding).rows(conn, {"names": ["a"]})
        with pytest.raises(TypeError, match="no value"):
            _BY_NAME.rows(conn, {"name": "x"})  # b_name: required, not given


@pytest.mark.postgres
def test_a_connection_the_server_ended_is_invalidated(db: Database, probe: sa.Engine) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL server's connection")
    with probe.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        conn.rollback()
        with probe.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(DBAPIError) as ended:
            _INSERT.one(conn, {"name": "late", "at": AT, "flag": True})
        assert ended.value.connection_invalidated
    with probe.begin() as conn:  # the pool gave out a new connection
        _INSERT.one(conn, {"name": "later", "at": AT, "flag": True})
    assert [r[0] for r in _stored(probe)] == ["later"]


def _sqlite_file(db: Database) -> str:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write lock")
    return db.engine.url.database or ""


def test_a_write_transaction_holds_sqlites_write_lock_from_its_begin(db: Database) -> None:
    """BEGIN IMMEDIATE, run on the driver's connection: another writer cannot start meanwhile."""
    path = _sqlite_file(db)
    with db.unit_of_work() as s:
        s.connection()
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # released at the end of the unit of work
    other.execute("ROLLBACK")
    other.close()


def test_a_begin_that_waits_too_long_raises_sqlalchemys_operational_error(db: Database) -> None:
    path = _sqlite_file(db)
    with db.engine.connect() as conn:
        conn.connection.driver_connection.execute("PRAGMA busy_timeout=20")  # type: ignore[union-attr]
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(OperationalError, match="locked"):
                conn.begin()
        finally:
            holder.execute("ROLLBACK")
            holder.close()


def test_a_column_whose_conversion_depends_on_the_driver_type_reads_as_sqlalchemys(probe: sa.Engine) -> None:
    """A NUMERIC's result processor depends on the column's type code (PostgreSQL): taken from
    the cursor's description on the first execution, as SQLAlchemy's result takes it."""
    amount = Prepared(
        update(_probe).where(_probe.c.name == bindparam("b_name")).values(flag=True).returning(_probe.c.amount)
    )
    with probe.begin() as conn:
        conn.execute(insert(_probe), {"name": "paid", "at": AT, "flag": False, "amount": Decimal("1.50")})
        ours = amount.one(conn, {"b_name": "paid"}).amount
        theirs = conn.execute(amount.statement, {"b_name": "paid"}).one().amount
    assert ours == theirs == Decimal("1.50")
    assert type(ours) is type(theirs) is Decimal


def test_executemany_refuses_rows_of_different_keys(probe: sa.Engine) -> None:
    rows = [{"name": "a", "at": AT, "flag": True}, {"name": "b", "at": AT, "flag": True, "count": 9}]
    with probe.connect() as conn:
        if conn.dialect.name == "sqlite":  # elsewhere SQLAlchemy's own executemany runs them
            with pytest.raises(TypeError, match="different keys"):
                _INSERT_MANY.many(conn, rows)
    assert _stored(probe) == []
