"""Run the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hallmark.storage.blobs import BlobStore
from hallmark.storage.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(db: Database, revision: str = "head", *, blobs: BlobStore | None = None) -> None:
    """Bring ``db`` up to ``revision``. ``blobs``, the instance's blob store, lets a migration
    read stored works (0006 indexes the text of text works for search)."""
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["blobs"] = blobs
        command.upgrade(config, revision)
