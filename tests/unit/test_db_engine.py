"""What the database layer shows of a URL in logs and messages."""

from __future__ import annotations

from hub.db.engine import redacted


def test_a_database_url_is_shown_without_its_password():
    assert redacted("postgresql+psycopg://hub:s3cret@db.example:5432/ccpor") == (
        "postgresql+psycopg://hub:***@db.example:5432/ccpor"
    )
    assert redacted("sqlite:////var/lib/ccpor/ccpor.db") == "sqlite:////var/lib/ccpor/ccpor.db"
