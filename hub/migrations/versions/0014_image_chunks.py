"""Images in the database: contents by SHA-256 and their 1 MiB chunks (CCPOR_IMAGE_STORE=database)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_contents",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_at", hub.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_image_contents")),
    )
    op.create_table(
        "image_chunks",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"], ["image_contents.sha256"], name=op.f("fk_image_chunks_sha256_image_contents")
        ),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_image_chunks")),
    )


def downgrade() -> None:
    op.drop_table("image_chunks")
    op.drop_table("image_contents")
