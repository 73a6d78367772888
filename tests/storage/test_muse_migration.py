"""Migration 0007 (issue #8): drafts written before it keep every muse switch on, and the
suggestions table comes and goes with it, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from hallmark.services import drafts
from hallmark.services.instance import Instance
from hallmark.storage.migrate import alembic_config, upgrade
from tests.conftest import get_user


def test_drafts_from_before_keep_the_muse_switched_on(any_instance: Instance) -> None:
    alice = get_user(any_instance, "alice")
    draft_id = drafts.start_draft(any_instance, alice.id, "Before the muse").draft_id
    db = any_instance.db
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
    tables = inspect(db.engine)
    assert "muse_suggestions" not in tables.get_table_names()
    assert "muse_continue" not in {column["name"] for column in tables.get_columns("drafts")}

    upgrade(db)
    with db.engine.connect() as conn:
        row = conn.execute(
            text("SELECT muse_continue, muse_personal FROM drafts WHERE id = :id"),
            {"id": draft_id},
        ).one()
    assert (bool(row.muse_continue), bool(row.muse_personal)) == (True, True)
    assert "muse_suggestions" in inspect(db.engine).get_table_names()
