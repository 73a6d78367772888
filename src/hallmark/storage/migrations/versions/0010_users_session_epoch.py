"""Users: a session epoch, so logging out ends the session everywhere

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

Browser sessions are signed cookies, which the server cannot delete from a copy someone kept.
Each session now carries the user's ``session_epoch`` from the moment of login, and logging out
raises it, so every cookie issued before no longer signs anyone in. Existing users start at 0;
cookies issued before this revision carry no epoch and are treated as logged out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A NOT NULL column with a constant default is added in place on SQLite, and fills the
    # existing rows on both databases (see 0005 on why ``users`` must not be recreated).
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    # SQLite 3.35 and later drop a plain column in place.
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("session_epoch")
