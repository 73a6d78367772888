"""Migrations: the same Alembic scripts build the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from hallmark.services.instance import Instance
from hallmark.storage.migrate import alembic_config, upgrade
from hallmark.storage.models import Base


def test_migrations_match_the_models(any_instance: Instance) -> None:
    config = alembic_config()
    with any_instance.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        # Raises if autogenerate would find any difference between models and database.
        command.check(config)


def test_downgrade_to_nothing_and_back(any_instance: Instance) -> None:
    db = any_instance.db
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert not set(Base.metadata.tables) & set(inspect(db.engine).get_table_names())
    upgrade(db)
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())
