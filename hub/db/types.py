"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones: values are stored as naive UTC and come back tagged as UTC.
    PostgreSQL stores ``timestamptz``. Naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def search_key(length: int) -> String:
    """A normalized (upper-case) search column that orders bytewise on every database.

    PostgreSQL's default collation is linguistic, which breaks prefix ranges and LIKE index use;
    the "C" collation makes ``col >= 'SMI' AND col < 'SMJ'`` an index range scan there, as SQLite's
    default BINARY collation already does.
    """
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]
