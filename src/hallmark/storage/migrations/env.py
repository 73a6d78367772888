"""Alembic environment: runs Hallmark's migrations on the connection it is handed.

``hallmark.storage.migrate.upgrade`` passes an open connection in ``config.attributes``, so the
same migrations run on SQLite and PostgreSQL without a separate ``alembic.ini`` URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hallmark.storage.models import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
