"""Reading a hub database's audit trail from tests."""

from __future__ import annotations

import sqlalchemy as sa


def head(url: str) -> int:
    """The chain head's seq: the number of the last audit event written."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select seq from audit_chain")).scalar_one())
    finally:
        engine.dispose()


def events_after(url: str, seq: int) -> list[sa.Row]:
    """The audit events after ``seq``, in chain order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("select * from audit_events where seq > :s order by seq"), {"s": seq}).all()
    finally:
        engine.dispose()
