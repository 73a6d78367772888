"""Gallery indexes and the full-text search index (issue #7, items 1 and 2)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

The gallery and the creator pages list works newest first and page with a (created_at, id)
cursor, so each listing walks one index in order: (visibility, created_at, id) for all labels,
(visibility, label, created_at, id) for the default human-made view, and (creator_id,
created_at, id) for a creator's page. They replace the (visibility, created_at) and
(creator_id) indexes, which are their prefixes.

The search index holds the listed works (public, current certificate not revoked): title,
creator handle and display name, and the opening ``TEXT_CHARS`` characters of a text work.
Its shape differs by database, so it lives outside the ORM models (``env.py`` leaves tables
named ``work_search*`` out of autogenerate):

- SQLite: an FTS5 table ``work_search`` whose rowid is ``work_search_rows.id``, a plain table
  that maps it to the work (FTS5 rows need integer ids; works have string ids).
- PostgreSQL: ``work_search`` with a ``tsvector`` per work and a GIN index on it.

Existing works are indexed here. The text of text works is in the blob store, which only the
caller knows: ``hallmark.storage.migrate.upgrade(db, blobs=...)`` hands it over (``hallmark init
--if-missing`` does), and without it titles and creators are indexed and texts are left out,
with a warning; ``hallmark reindex`` fills them in later.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from hallmark.errors import HallmarkError

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

#: How much of a text work is indexed; the same limit as ``hallmark.services.search``.
TEXT_CHARS = 100_000

_LISTED = """
    works.visibility = 'public'
    AND NOT EXISTS (
        SELECT 1 FROM certificates JOIN revocations
            ON revocations.certificate_id = certificates.id
        WHERE certificates.work_id = works.id AND certificates.superseded = false
    )
"""


def upgrade() -> None:
    with op.batch_alter_table("works", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_works_visibility_created")
        batch_op.drop_index("ix_works_creator_id")
        batch_op.create_index(
            "ix_works_visibility_created_id", ["visibility", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_works_visibility_label_created_id",
            ["visibility", "label", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_works_creator_created_id", ["creator_id", "created_at", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        _create_postgres()
    else:
        _create_sqlite()
    _backfill_texts()


def _create_sqlite() -> None:
    op.execute(
        "CREATE TABLE work_search_rows ("
        " id INTEGER PRIMARY KEY,"
        " work_id VARCHAR(32) NOT NULL UNIQUE REFERENCES works (id) ON DELETE CASCADE)"
    )
    op.execute(
        "CREATE VIRTUAL TABLE work_search USING fts5("
        "title, creator, body, tokenize = 'unicode61 remove_diacritics 2')"
    )
    op.execute(f"INSERT INTO work_search_rows (work_id) SELECT works.id FROM works WHERE {_LISTED}")
    op.execute(
        "INSERT INTO work_search (rowid, title, creator, body)"
        " SELECT work_search_rows.id, works.title,"
        " users.handle || ' ' || users.display_name, ''"
        " FROM work_search_rows JOIN works ON works.id = work_search_rows.work_id"
        " JOIN users ON users.id = works.creator_id"
    )


def _create_postgres() -> None:
    op.execute(
        "CREATE TABLE work_search ("
        " work_id VARCHAR(32) PRIMARY KEY REFERENCES works (id) ON DELETE CASCADE,"
        " document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_work_search_document ON work_search USING gin (document)")
    op.execute(
        "INSERT INTO work_search (work_id, document)"
        " SELECT works.id, to_tsvector('simple', works.title)"
        " || to_tsvector('simple', users.handle || ' ' || users.display_name)"
        f" FROM works JOIN users ON users.id = works.creator_id WHERE {_LISTED}"
    )


def _backfill_texts() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            f"SELECT works.id, works.blob_key FROM works WHERE works.kind = 'text' AND {_LISTED}"
        )
    ).all()
    if not rows:
        return
    blobs: Any = context.config.attributes.get("blobs")
    if blobs is None:
        logger.warning(
            "%d text works were indexed without their text (no blob store was given to the "
            "migration); run 'hallmark reindex' to add it",
            len(rows),
        )
        return
    if conn.dialect.name == "postgresql":
        update = sa.text(
            "UPDATE work_search SET document = document"
            " || to_tsvector('simple', CAST(:body AS text)) WHERE work_id = :work_id"
        )
    else:
        update = sa.text(
            "UPDATE work_search SET body = :body WHERE rowid ="
            " (SELECT id FROM work_search_rows WHERE work_id = :work_id)"
        )
    for done, (work_id, blob_key) in enumerate(rows, start=1):
        try:
            data = blobs.get(blob_key)
        except HallmarkError as exc:
            # A lost blob is the operator's to restore; the rest of the index is still built.
            logger.warning("the text of work %s was not indexed: %s", work_id, exc)
            continue
        body = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        conn.execute(update, {"work_id": work_id, "body": body[:TEXT_CHARS].replace("\x00", "")})
        if done % 10_000 == 0:
            logger.info("indexed the text of %d of %d works", done, len(rows))


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS work_search")
    op.execute("DROP TABLE IF EXISTS work_search_rows")
    with op.batch_alter_table("works", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_works_creator_created_id")
        batch_op.drop_index("ix_works_visibility_label_created_id")
        batch_op.drop_index("ix_works_visibility_created_id")
        batch_op.create_index("ix_works_creator_id", ["creator_id"], unique=False)
        batch_op.create_index(
            "ix_works_visibility_created", ["visibility", "created_at"], unique=False
        )
