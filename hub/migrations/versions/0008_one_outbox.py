"""one outbox for every destination: carpos_outbox becomes outbox, with a kind

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = (
    "id, order_id, order_seq, order_version, mke, mcn, sender_ori, requested_by_id, state, attempts, "
    "next_attempt_at, lease_owner, lease_expires_at, payload_sealed, last_error, sent_at, answered_at, "
    "created_at, updated_at"
)


def _outbox_table(name: str, *, with_kind: bool) -> None:
    kind = [sa.Column("kind", sa.String(length=16), nullable=False)] if with_kind else []
    key = ("kind", "order_id", "order_seq") if with_kind else ("order_id", "order_seq")
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        *kind,
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("order_seq", sa.Integer(), nullable=True),
        sa.Column("order_version", sa.Integer(), nullable=True),
        sa.Column("mke", sa.String(length=3), nullable=False),
        sa.Column("mcn", sa.String(length=24), nullable=False),
        sa.Column("sender_ori", sa.String(length=9), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", hub.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", hub.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", hub.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f(f"fk_{name}_order_id_orders")),
        sa.ForeignKeyConstraint(["requested_by_id"], ["accounts.id"], name=op.f(f"fk_{name}_requested_by_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("mcn", name=op.f(f"uq_{name}_mcn")),
        sa.UniqueConstraint(*key, name=op.f(f"uq_{name}_{'_'.join(key)}")),
    )
    index = ("kind", "state", "next_attempt_at") if with_kind else ("state", "next_attempt_at")
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_{'_'.join(index)}"), list(index), unique=False)


def _point_inbox_at(old: str, new: str) -> None:
    with op.batch_alter_table("carpos_inbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f(f"fk_carpos_inbox_message_id_{old}"), type_="foreignkey")
        batch_op.create_foreign_key(batch_op.f(f"fk_carpos_inbox_message_id_{new}"), new, ["message_id"], ["id"])


def _restart_ids(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":  # the copied ids must not be handed out again
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Nothing may be written to the old table between the copy and the drop: a hub still running
        # the old code commits its row before the copy, or waits (and then fails) -- never lost. SQLite
        # has one writer, which this migration is.
        op.execute("LOCK TABLE carpos_outbox IN EXCLUSIVE MODE")
    _outbox_table("outbox", with_kind=True)
    op.execute(f"INSERT INTO outbox (kind, {_COLUMNS}) SELECT 'CARPOS', {_COLUMNS} FROM carpos_outbox")
    _restart_ids("outbox")
    _point_inbox_at("carpos_outbox", "outbox")
    with op.batch_alter_table("carpos_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carpos_outbox_state_next_attempt_at"))
    op.drop_table("carpos_outbox")


def downgrade() -> None:
    _outbox_table("carpos_outbox", with_kind=False)
    op.execute(f"INSERT INTO carpos_outbox ({_COLUMNS}) SELECT {_COLUMNS} FROM outbox WHERE kind = 'CARPOS'")
    _restart_ids("carpos_outbox")
    op.execute("UPDATE carpos_inbox SET message_id = NULL WHERE message_id NOT IN (SELECT id FROM carpos_outbox)")
    _point_inbox_at("outbox", "carpos_outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_kind_state_next_attempt_at"))
    op.drop_table("outbox")
