"""Historical loads: each batch's checkpoint and counts, and its rejects (ccpor-hub etl load)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "etl_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(100), nullable=False),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_record_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("records_done", sa.Integer(), nullable=False),
        sa.Column("loaded", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("started_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", hub.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_etl_loads_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_etl_loads_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_loads")),
        sa.UniqueConstraint("organization_id", "batch_id", name=op.f("uq_etl_loads_organization_id_batch_id")),
    )
    op.create_table(
        "etl_rejects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.Column("record_number", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("field", sa.String(400), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["etl_loads.id"], name=op.f("fk_etl_rejects_load_id_etl_loads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etl_rejects")),
    )
    op.create_index(op.f("ix_etl_rejects_load_id"), "etl_rejects", ["load_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_etl_rejects_load_id"), table_name="etl_rejects")
    op.drop_table("etl_rejects")
    op.drop_table("etl_loads")
