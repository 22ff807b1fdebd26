"""Scheduled jobs: one row per job run, claimed by the worker that runs it

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(40), nullable=False),
        sa.Column("slot", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("started_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", hub.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "slot", name=op.f("uq_job_runs_job_slot")),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
