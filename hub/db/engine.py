"""The engine factory and the unit of work.

SQLite runs in WAL mode with a busy timeout so that several gunicorn workers can share the file
(one writer at a time, readers never blocked); foreign keys are switched on per connection.

PostgreSQL: a pooled connection is checked before use without asking the server anything
(:func:`_still_open`), not with SQLAlchemy's ``pool_pre_ping``, whose ``SELECT`` cost every call
a round trip of its own (a tenth of a SubmitOrder's time in a profile).
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def redacted(url: str) -> str:
    """A database URL fit for a log line or a message: its password, if any, shown as ``***``."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the hub's connection settings applied.

    ``hide_parameters``: SQL errors and logs never carry bound values (names, dates of birth).

    ``immediate`` (SQLite only): transactions start with BEGIN IMMEDIATE, taking the write lock
    up front; used for the writer engine, never for the reader one.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across application crashes in WAL mode; an OS crash may lose the
            # last transactions. Operators wanting more set CCPOR_DATABASE_URL to PostgreSQL.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

        @event.listens_for(engine, "begin")
        def _sqlite_begin_immediate(conn: Any) -> None:
            # Take the write lock at BEGIN: a deferred transaction that reads then writes can fail
            # with "database is locked" without waiting when another worker writes meanwhile.
            # On the driver's connection, as hub.db.prepared runs the intake's statements (every
            # call begins): SQLAlchemy's error handling, and its own path while statements are observed.
            if conn.dispatch.before_cursor_execute:
                conn.exec_driver_sql(begin)
                return
            try:
                conn.connection.driver_connection.execute(begin)
            except Exception as exc:  # noqa: BLE001 - handed to SQLAlchemy, which raises its own
                conn._handle_dbapi_exception(exc, begin, (), None, None)  # noqa: SLF001

        # pysqlite's own transaction handling must step aside for the BEGIN above.
        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_autocommit_off(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    engine = create_engine(url, hide_parameters=True, **kwargs)
    event.listen(engine, "checkout", _still_open)
    return engine


def _still_open(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled PostgreSQL connection the server has ended is replaced before it is used.

    An idle connection's socket has nothing to read: the server speaks only when asked (the hub's
    pooled connections never LISTEN). When it ends the connection -- a restart, an administrator's
    ``pg_terminate_backend``, an idle timeout, a proxy closing it -- it sends its error and closes
    the socket, which then reads. So a closed or readable socket means a dead connection, found
    without the round trip ``pool_pre_ping`` spends on every checkout; the pool opens a new one
    (``DisconnectionError``). A rare unasked message (a reported setting changed by a reload) costs
    a reconnect. What no local check sees is a server host gone without a word (no FIN): the first
    call on such a connection fails and SQLAlchemy replaces the pool's connections -- as a ping
    would have stalled on it for the TCP timeout.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    poller = select.poll()
    poller.register(dbapi_connection.pgconn.socket, select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server ended the connection")


#: Session.info key: the objects a session loaded or wrote, strongly held until it is gone.
_HELD = "ccpor.held"


def _hold_what_it_touches(factory: sessionmaker[Session]) -> None:
    """Sessions of ``factory`` keep every object they load or write until they are closed.

    SQLAlchemy's identity map holds objects weakly: a row a use case read or inserted and then let
    go of is read again by the next ``Session.get`` of the same call (the audit's note of the
    privilege a call used looks at the order it changed). A session here lives for one call, so
    holding what it touched costs little and answers those second looks from memory (SQLAlchemy's
    documented "strong reference" recipe)."""

    @event.listens_for(factory, "pending_to_persistent")
    @event.listens_for(factory, "detached_to_persistent")
    @event.listens_for(factory, "loaded_as_persistent")
    def _hold(session: Session, instance: object) -> None:
        session.info.setdefault(_HELD, []).append(instance)


class Database:
    """An engine and its session factory; ``unit_of_work()`` is the one way to change data."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.url = url
        #: SQLite has one writer at a time: callers keep work outside write transactions where
        #: they can. PostgreSQL locks rows, so one transaction per call is cheaper there.
        self.serializes_writes = url.startswith("sqlite")
        self.engine = make_engine(url, **kwargs)
        # SQLite: reads get their own engine with deferred BEGIN so they never queue for the write
        # lock; PostgreSQL uses one engine for both.
        self.read_engine = make_engine(url, immediate=False, **kwargs) if url.startswith("sqlite") else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        for factory in (self._sessions, self._read_sessions):
            _hold_what_it_touches(factory)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; it writes nothing (audit writes go through unit_of_work)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def after_commit(self, listener: Any) -> None:
        """Call ``listener(session)`` after every commit of a unit of work (e.g. to wake a worker
        about what the transaction queued; it must not raise)."""
        event.listen(self._sessions, "after_commit", listener)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
