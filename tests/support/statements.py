"""What a call costs the database: the SQL statements it runs and, on PostgreSQL, its round trips.

``recorded(engine, ...)`` lists every statement SQLAlchemy sends meanwhile, with the hub function
that issued it. ``RoundTrips`` traces psycopg's wire protocol (libpq's trace of the messages the
client sends), so it also sees what never reaches SQLAlchemy's events -- BEGIN, COMMIT, the pool's
liveness ping: one round trip is one Sync (extended protocol) or one simple Query. Used by the
tests that keep the intake's statements from growing unnoticed and by bench/submit_statements.py.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Statement:
    sql: str  # whitespace folded
    many: bool  # executemany
    caller: str  # the innermost frame of the hub's own code: "package/module.py:line function"

    @property
    def shape(self) -> str:
        """``VERB table``: ``INSERT orders``, ``SELECT accounts``, ``BEGIN``."""
        return shape(self.sql)


_DML = re.compile(r"\b(INSERT) INTO (\w+)|\b(UPDATE) (\w+) SET|\b(DELETE) FROM (\w+)", re.IGNORECASE)


def shape(sql: str) -> str:
    """A data-modifying ``WITH`` is its writes in order: ``INSERT audit_events + UPDATE audit_chain``."""
    verb = sql.split(None, 1)[0].upper() if sql.strip() else ""
    writes = [(v, t) for found in _DML.findall(sql) for v, t in zip(found[::2], found[1::2], strict=True) if v]
    if verb == "WITH" and writes:
        return " + ".join(f"{v.upper()} {table}" for v, table in writes)
    pattern = {"INSERT": r"INSERT INTO (\w+)", "UPDATE": r"UPDATE (\w+)", "DELETE": r"DELETE FROM (\w+)"}.get(
        verb, r"\bFROM (\w+)"
    )
    found = re.search(pattern, sql, re.IGNORECASE)
    return f"{verb} {found.group(1)}" if found else verb


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()):
        if frame.filename.endswith(f"{os.sep}db{os.sep}prepared.py"):  # the statement's runner, not its caller
            continue
        if f"{os.sep}hub{os.sep}" in frame.filename or f"{os.sep}gateway{os.sep}" in frame.filename:
            return f"{Path(frame.filename).parent.name}/{Path(frame.filename).name}:{frame.lineno} {frame.name}"
    return "?"


@contextmanager
def recorded(*engines: Engine) -> Iterator[list[Statement]]:
    """Every statement run on ``engines`` while the block runs, in order."""
    seen: list[Statement] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(Statement(" ".join(statement.split()), executemany, _caller()))

    unique = list(dict.fromkeys(engines))
    for engine in unique:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        for engine in unique:
            event.remove(engine, "before_cursor_execute", before)


class RoundTrips:
    """libpq's trace of every psycopg connection ``engine`` checks out while it is open (PostgreSQL);
    a context manager. A connection is traced from its first checkout on, after the pool's own
    work at that checkout: measure from a :meth:`mark` taken once the connection was used."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.engine = engine
        self.path = directory / "wire.trace"
        self._file = self.path.open("w")
        self._traced: dict[int, Any] = {}
        event.listen(engine, "checkout", self._attach)

    def __enter__(self) -> RoundTrips:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        event.remove(self.engine, "checkout", self._attach)
        for pgconn in self._traced.values():
            pgconn.untrace()
        self._file.close()

    def _attach(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        pgconn = dbapi_connection.pgconn
        if id(pgconn) not in self._traced:
            self._traced[id(pgconn)] = pgconn
            pgconn.trace(self._file.fileno())
            pgconn.set_trace_flags(0)

    def mark(self) -> int:
        """A position in the trace: what follows is what :meth:`since` returns."""
        self._file.flush()
        return self.path.stat().st_size

    def since(self, mark: int) -> list[str]:
        """The round trips after ``mark``: ``Query <text>`` or ``Sync``, one per round trip."""
        self._file.flush()
        with self.path.open() as trace:
            trace.seek(mark)
            sent = [line.rstrip("\n").split("\t") for line in trace]
        trips = [m[3:] for m in sent if len(m) > 3 and m[1] == "F" and m[3] in ("Sync", "Query")]
        return [" ".join(part.strip() for part in trip if part.strip()) for trip in trips]
