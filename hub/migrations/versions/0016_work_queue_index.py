"""The sheriffs' work queue: an index on orders (owner, status, created, id) for ListAwaitingCompletion

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_owner_org_id_status_created_at_id", "orders", ["owner_org_id", "status", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_owner_org_id_status_created_at_id", table_name="orders")
