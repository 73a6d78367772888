"""Analysis jobs: attempts, worker, start time and lease (issue #9, item 1)

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-28

Analyses run on Celery workers or in the web process. A worker claims a job by moving its row
from ``queued`` to ``running`` with a lease that its heartbeat renews; a job whose worker died
is found by its expired lease and queued again. Rows made before this revision have no lease,
which reads as expired: whatever they were doing is taken up again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite adds nullable and defaulted columns in place; no table copy is needed.
    with op.batch_alter_table("analyses", schema=None, recreate="never") as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_analyses_status_lease_until", ["status", "lease_until"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_analyses_status_lease_until")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("started_at")
        batch_op.drop_column("worker")
        batch_op.drop_column("attempts")
