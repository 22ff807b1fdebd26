"""Console sessions: the web console's signed-in administrators (the cookie's token kept hashed);
the outbox indexed by its last change (the console's activity figures)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer, nullable=False),
        sa.Column("created_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_console_sessions_account_id_accounts")),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_account_id"), "console_sessions", ["account_id"])
    op.create_index(op.f("ix_console_sessions_active_at"), "console_sessions", ["active_at"])
    op.create_index(op.f("ix_outbox_updated_at"), "outbox", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_updated_at"), table_name="outbox")
    op.drop_index(op.f("ix_console_sessions_active_at"), table_name="console_sessions")
    op.drop_index(op.f("ix_console_sessions_account_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
