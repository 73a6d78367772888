"""AI-training consent on works, and each creator's default (issue #6, item 3)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Works registered before this revision declared their consent only in their certificate. The
new ``works.consent`` column starts at ``not-allowed`` (the former default) and is then filled
from each work's current certificate, so what the site publishes agrees with what was signed.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_CHOICES = ("allowed", "not-allowed", "constrained")


def upgrade() -> None:
    # A plain string default is rendered as a quoted literal (DEFAULT 'not-allowed') on
    # PostgreSQL and SQLite alike, and fills existing rows as the NOT NULL column is added.
    # SQLite adds such a column in place; recreating the table instead, as batch mode does
    # for an expression default, would drop ``users`` and ``works`` while other tables'
    # foreign keys point at their rows, which SQLite refuses once the instance holds any.
    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "consent_default",
                sa.String(length=16),
                server_default="not-allowed",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("consent_policy_url", sa.String(length=2000), nullable=True))

    with op.batch_alter_table("works", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "consent",
                sa.String(length=16),
                server_default="not-allowed",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("consent_policy_url", sa.String(length=2000), nullable=True))

    _copy_declared_consents()


def _copy_declared_consents() -> None:
    """Set each existing work's consent to the one its current certificate declares."""
    works = sa.table(
        "works",
        sa.column("id", sa.String),
        sa.column("consent", sa.String),
        sa.column("consent_policy_url", sa.String),
    )
    certificates = sa.table(
        "certificates",
        sa.column("work_id", sa.String),
        sa.column("body", sa.Text),
        sa.column("superseded", sa.Boolean),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(certificates.c.work_id, certificates.c.body).where(
            certificates.c.superseded == sa.false()
        )
    )
    for work_id, body in rows.all():
        try:
            consent = json.loads(body).get("consent") or {}
        except (ValueError, AttributeError):
            continue
        value = consent.get("ai_training") if isinstance(consent, dict) else None
        if value not in _CHOICES or value == "not-allowed":
            continue
        policy = consent.get("policy_url") if value == "constrained" else None
        conn.execute(
            works.update()
            .where(works.c.id == work_id)
            .values(consent=value, consent_policy_url=policy if isinstance(policy, str) else None)
        )


def downgrade() -> None:
    # SQLite 3.35 and later drop a plain column in place; see upgrade() for why the tables
    # are not recreated.
    with op.batch_alter_table("works", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("consent_policy_url")
        batch_op.drop_column("consent")

    with op.batch_alter_table("users", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("consent_policy_url")
        batch_op.drop_column("consent_default")
