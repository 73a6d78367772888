"""Alembic environment: runs Hallmark's migrations on the connection it is handed.

``hallmark.storage.migrate.upgrade`` passes an open connection in ``config.attributes``, so the
same migrations run on SQLite and PostgreSQL without a separate ``alembic.ini`` URL.

The full-text search index (migration 0006) is an FTS5 table on SQLite and a ``tsvector``
table on PostgreSQL, so it is not among the ORM models; autogenerate leaves its tables alone.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from hallmark.storage.models import Base

config = context.config
connection = config.attributes.get("connection")

SEARCH_TABLES = "work_search"


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLES))


if connection is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=Base.metadata,
            render_as_batch=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
