"""DSP917: the order version a notification started from, so DOJ's answer finds its notification

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp917_notifications") as batch:
        batch.add_column(sa.Column("base_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp917_notifications") as batch:
        batch.drop_column("base_version")
