"""Migration 0005 (issue #6): works registered before it get the consent their certificate
declares, and creators the former default, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from hallmark.services import registry
from hallmark.services.instance import Instance
from hallmark.storage.migrate import alembic_config, upgrade
from tests.conftest import add_user

POLICY = "https://ines.example/ai-terms"


def test_existing_works_keep_their_declared_consent(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    declared = {
        "allowed": {"consent": "allowed"},
        "not-allowed": {"consent": "not-allowed"},
        "constrained": {"consent": "constrained", "consent_policy_url": POLICY},
    }
    ids = {
        name: registry.register_work(
            any_instance,
            creator_id=creator,
            data=f"A work that is {name}.".encode(),
            title=name,
            declare="human-made",
            **fields,  # type: ignore[arg-type]
        ).work_id
        for name, fields in declared.items()
    }
    db = any_instance.db
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    upgrade(db)
    with db.engine.connect() as conn:
        works = dict(
            (row.id, (row.consent, row.consent_policy_url))
            for row in conn.execute(text("SELECT id, consent, consent_policy_url FROM works"))
        )
        users = conn.execute(text("SELECT consent_default, consent_policy_url FROM users")).all()
    assert works == {
        ids["allowed"]: ("allowed", None),
        ids["not-allowed"]: ("not-allowed", None),
        ids["constrained"]: ("constrained", POLICY),
    }
    assert [tuple(row) for row in users] == [("not-allowed", None)]
