"""Migration 0006 (issue #7) on an instance that already holds works, on SQLite and PostgreSQL:
the gallery's indexes replace the old ones, and the search index is built for listed works,
their text included when the blob store is handed over."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from hallmark.services import listing, registry, search
from hallmark.services.instance import Instance
from hallmark.storage.migrate import alembic_config, upgrade
from tests.conftest import get_user


def found(inst: Instance, query: str) -> list[str]:
    with inst.db.session() as session:
        return [w.id for w in search.search(session, query, listing.ALL).works]


@pytest.fixture
def existing(any_instance: Instance) -> dict[str, str]:
    """Works registered, then the database taken back to before 0006."""
    vera = get_user(any_instance, "vera")

    def register(data: str, title: str, visibility: str = "public") -> str:
        return registry.register_work(
            any_instance,
            creator_id=vera.id,
            data=data.encode(),
            title=title,
            declare="human-made",
            visibility=visibility,
        ).work_id

    ids = {
        "public": register("Moss on the northern wall.\n", "Moss"),
        "private": register("Moss in a locked drawer.\n", "Drawer", "private"),
        "revoked": register("Moss that was withdrawn.\n", "Withdrawn"),
    }
    with any_instance.db.session() as session:
        cert = registry.get_work(session, ids["revoked"], vera).certificate
        assert cert is not None
        certificate_id = cert.id
    registry.revoke(any_instance, certificate_id=certificate_id, reason="test", actor=vera)
    config = alembic_config()
    with any_instance.db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    return ids


def test_upgrade_indexes_existing_works_with_their_text(
    any_instance: Instance, existing: dict[str, str]
) -> None:
    assert "work_search" not in inspect(any_instance.db.engine).get_table_names()
    upgrade(any_instance.db, blobs=any_instance.blobs)
    assert found(any_instance, "moss") == [existing["public"]]
    assert found(any_instance, "northern") == [existing["public"]]
    assert found(any_instance, "vera") == [existing["public"]]
    assert found(any_instance, "drawer") == [] and found(any_instance, "withdrawn") == []
    indexes = {ix["name"] for ix in inspect(any_instance.db.engine).get_indexes("works")}
    assert {
        "ix_works_visibility_created_id",
        "ix_works_visibility_label_created_id",
        "ix_works_creator_created_id",
    } <= indexes
    assert not {"ix_works_visibility_created", "ix_works_creator_id"} & indexes


def test_without_the_blob_store_texts_wait_for_reindex(
    any_instance: Instance, existing: dict[str, str]
) -> None:
    upgrade(any_instance.db)
    assert found(any_instance, "moss") == [existing["public"]]
    assert found(any_instance, "northern") == []
    assert search.reindex(any_instance) == 1
    assert found(any_instance, "northern") == [existing["public"]]
