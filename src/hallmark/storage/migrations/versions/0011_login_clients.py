"""Logins: failures counted per (account, address), and a slowing per-account ceiling

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

Until now five wrong passwords locked an account for everyone, so anyone who knew a handle
could lock its owner out. Failures are now counted in ``login_clients``, one row per account
and client address (the address stored as a keyed digest), and lock only that pair; the
account keeps a draining count of failures from everywhere (``users.login_strain``) that slows
logins from unfamiliar addresses once it passes a much higher ceiling. The old per-account
counter and lock go: running locks are forgotten, which ends them early, as the new rule
would not have set them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_clients",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "client"),
    )
    # Columns with constant defaults are added, and plain columns dropped (SQLite 3.35 and
    # later), in place: ``users`` must not be recreated (see 0005).
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("login_strain", sa.Float(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("login_strain_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("login_strain_at")
        batch_op.drop_column("login_strain")
    op.drop_table("login_clients")
