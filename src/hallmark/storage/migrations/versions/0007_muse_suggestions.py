"""The muse's suggestions, and each draft's muse switches (issue #8)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

``muse_suggestions`` keeps every answer the muse gave a draft's creator, as evidence of how the
draft grew. Drafts gain two switches, both on for existing drafts: whether the muse may write
prose for the draft (``continue``), and whether it may draw on the creator's earlier works.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "muse_suggestions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("draft_id", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("backend", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_sha256", sa.String(length=64), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("copies", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("muse_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_muse_suggestions_draft_created", ["draft_id", "created_at"], unique=False
        )

    # A constant default fills existing rows as the NOT NULL column is added, in place on
    # SQLite too (see 0005 for why ``drafts`` is not recreated: journal events point at it).
    with op.batch_alter_table("drafts", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("muse_continue", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("muse_personal", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("drafts", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("muse_personal")
        batch_op.drop_column("muse_continue")

    with op.batch_alter_table("muse_suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_muse_suggestions_draft_created")
    op.drop_table("muse_suggestions")
