"""The intake's hot statements, run on the DBAPI cursor of the caller's connection.

SQLAlchemy spends ~40 µs of Python on each statement it executes: the compiled-cache lookup, an
execution context, every parameter through ``construct_params``, a result object. A SubmitOrder
runs seven statements, so that was ~15 % of its CPU (docs/PERFORMANCE.md, issue 10).
:class:`Prepared` compiles a Core statement once per dialect and set of keys, with SQLAlchemy's
own compiler, and keeps what an execution needs: the SQL text, the order of its parameters, each
parameter's bind processor (the column types' conversions; the result columns' are taken from
the cursor's description on the first execution, as SQLAlchemy's result takes them) and the values
the statement fixes itself (``id = 1``, a column's scalar default). A call is then one tuple of
values and one cursor call, in the connection's transaction.

What stays SQLAlchemy's:
- errors: a DBAPI error goes through the connection's own handling (the same exception classes,
  ``hide_parameters``, a dropped connection invalidated), so callers catch what they always did;
- the transaction: a connection not yet in one begins it first (the engine's ``begin`` event runs:
  BEGIN IMMEDIATE on SQLite), so nothing runs in autocommit;
- observers: while anyone listens for ``before_cursor_execute`` (the statement tests, a tracer), the
  statement runs through ``Connection.execute`` instead, so they see it as before.

Only what the hot path needs is supported, and anything else is refused, not guessed at: INSERT,
UPDATE and SELECT with bound parameters, scalar column defaults, RETURNING columns (rows come back
as named tuples, read as SQLAlchemy's rows are), executemany without RETURNING and with the same
keys in every row, the qmark (SQLite) and pyformat (psycopg) parameter styles. Connection
execution options (``schema_translate_map``, ``echo``) are not applied; the hub sets none.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import MultipleResultsFound, NoResultFound, StatementError
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the SQL takes them
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: dict[str, Any]  # parameters the statement supplies itself
    positional: bool  # qmark: a tuple of values; pyformat: a dict by name
    types: tuple[Any, ...] | None  # the result columns' types (None: the statement returns no rows)
    row: Any  # a named tuple of the result columns (``row.status``, as SQLAlchemy's Row)
    #: the result columns' processors, taken on the first execution, as SQLAlchemy's result takes
    #: them: each from its type and the driver's type code of the column (cursor.description)
    results: list[tuple[Callable[[Any], Any] | None, ...]] = field(default_factory=list)


class Prepared:
    """A Core statement run directly on the DBAPI cursor (module docstring)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}

    def rows(self, connection: Connection, params: dict[str, Any]) -> list[Any]:
        """Execute with one set of parameters; the rows it returns, as named tuples (none without
        RETURNING -- except that on PostgreSQL SQLAlchemy's compiler gives a single-row INSERT its
        primary key's RETURNING, as it does for its own execution)."""
        plan = self._plan(connection.dialect, params)
        if connection.dispatch.before_cursor_execute:  # observed: SQLAlchemy's own path
            result = connection.execute(self.statement, params)
            return [plan.row._make(r) for r in result] if result.returns_rows else []
        values = self._bound(plan, params)
        cursor = _cursor(connection)
        try:
            cursor.execute(plan.sql, values)
            if plan.types is None:
                return []
            rows = cursor.fetchall()
            if not plan.results:
                plan.results.append(_result_processors(connection.dialect, plan.types, cursor.description))
        except Exception as exc:  # noqa: BLE001 - handed to SQLAlchemy, which raises its own
            _failed(connection, exc, plan.sql, values, cursor)
        finally:
            cursor.close()
        processors = plan.results[0]
        if not any(processors):
            return [plan.row._make(row) for row in rows]
        return [plan.row._make(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in rows]

    def one(self, connection: Connection, params: dict[str, Any]) -> Any:
        """Execute; the one row it returns (as ``Result.one``, with its exceptions)."""
        rows = self.rows(connection, params)
        if not rows:
            raise NoResultFound("No row was found when one was required")
        if len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when exactly one was required")
        return rows[0]

    def one_or_none(self, connection: Connection, params: dict[str, Any]) -> Any:
        """Execute; its one row, or None (as ``Result.one_or_none``, with its exception)."""
        rows = self.rows(connection, params)
        if len(rows) > 1:
            raise MultipleResultsFound("Multiple rows were found when one or none was required")
        return rows[0] if rows else None

    def many(self, connection: Connection, params: Sequence[dict[str, Any]]) -> None:
        """executemany (SQLite); elsewhere SQLAlchemy's own executemany, which on psycopg folds the
        rows into one multi-row INSERT (one round trip, not one per row)."""
        if not params:
            return
        if connection.dialect.paramstyle != "qmark" or connection.dispatch.before_cursor_execute:
            connection.execute(self.statement, list(params))
            return
        plan = self._plan(connection.dialect, params[0])
        if plan.types is not None:
            raise TypeError("executemany with RETURNING is not supported here")
        keys = params[0].keys()
        if any(p.keys() != keys for p in params):
            raise TypeError("executemany with rows of different keys is not supported here")
        values = [self._bound(plan, p) for p in params]
        cursor = _cursor(connection)
        try:
            cursor.executemany(plan.sql, values)
        except Exception as exc:  # noqa: BLE001 - as in rows()
            _failed(connection, exc, plan.sql, values, cursor)
        finally:
            cursor.close()

    @staticmethod
    def _bound(plan: _Plan, params: dict[str, Any]) -> Any:
        """The DBAPI's parameters: each value through its type's bind processor. A value the type
        refuses (a naive datetime for a UTC column) raises StatementError, as SQLAlchemy would."""
        merged = plan.fixed | params if plan.fixed else params
        try:
            values = [p(merged[n]) if p else merged[n] for n, p in zip(plan.names, plan.processors, strict=True)]
        except Exception as exc:
            problem = f"({type(exc).__module__}.{type(exc).__name__}) {exc}"
            raise StatementError(problem, plan.sql, None, exc) from exc  # type: ignore[arg-type]
        return tuple(values) if plan.positional else dict(zip(plan.names, values, strict=True))

    def _plan(self, dialect: Dialect, params: dict[str, Any]) -> _Plan:
        key = (dialect.name, dialect.driver, tuple(sorted(params)))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _compile(self.statement, dialect, key[2])
        return plan


def _cursor(connection: Connection) -> Any:
    """A cursor of ``connection``'s DBAPI connection, in a transaction: a connection not yet in one
    begins it first (as ``Connection.execute``'s autobegin: the engine's ``begin`` event runs)."""
    if not connection.in_transaction():
        connection.begin()
    return connection.connection.cursor()


def _failed(connection: Connection, exc: Exception, sql: str, values: Any, cursor: Any) -> NoReturn:
    """A statement failed: SQLAlchemy's error handling raises the usual exception
    (hide_parameters; a dropped connection invalidated)."""
    try:
        connection._handle_dbapi_exception(exc, sql, values, cursor, None)  # noqa: SLF001
    finally:
        with suppress(Exception):
            cursor.close()


def _compile(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Plan:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys))
    if dialect.paramstyle not in ("qmark", "pyformat"):
        raise TypeError(f"parameter style {dialect.paramstyle} is not supported here")
    if getattr(compiled, "escaped_bind_names", None) or compiled.literal_execute_params or compiled.post_compile_params:
        raise TypeError("escaped or expanding parameters are not supported here")
    positional = dialect.paramstyle == "qmark"
    names = tuple(compiled.positiontup) if positional else tuple(dict.fromkeys(compiled.bind_names.values()))
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    fixed: dict[str, Any] = {}
    for column in getattr(compiled, "insert_prefetch", ()) + getattr(compiled, "update_prefetch", ()):
        default = column.default if compiled.isinsert else column.onupdate
        if default is None or not default.is_scalar:
            raise TypeError(f"{column}: only scalar defaults are supported here")
        fixed[column.key] = default.arg
    for name in names:
        if name not in keys and name not in fixed:
            bind = by_name[name]
            if bind.required or bind.callable is not None:
                raise TypeError(f"parameter {name} has no value")
            fixed[name] = bind.value
    processors = compiled._bind_processors  # noqa: SLF001 - SQLAlchemy's own, per bind name
    types, row = None, None
    dml = compiled.isinsert or compiled.isupdate or compiled.isdelete
    if compiled.returning or not dml:
        entries = compiled._result_columns  # noqa: SLF001 - what a result object reads
        types = tuple(entry.type for entry in entries)
        row = namedtuple("Row", [entry.keyname for entry in entries], rename=True)  # noqa: PYI024
    return _Plan(
        sql=compiled.string,
        names=names,
        processors=tuple(processors.get(n) for n in names),
        fixed=fixed,
        positional=positional,
        types=types,
        row=row,
    )


def _result_processors(dialect: Dialect, types: tuple[Any, ...], description: Any) -> tuple[Any, ...]:
    """Each result column's processor, from its type and the driver's type code for it -- as
    SQLAlchemy's cursor result takes them (a PostgreSQL NUMERIC's depends on the code)."""
    codes = [column[1] for column in description] if description else [None] * len(types)
    return tuple(t._cached_result_processor(dialect, code) for t, code in zip(types, codes, strict=True))  # noqa: SLF001
