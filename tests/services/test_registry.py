"""Registration rules: validation before storage, nothing half-stored, visibility of works."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from hallmark.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hallmark.services import accounts, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import Certificate, LogEntry, Work
from tests.conftest import add_user


def _counts(inst: Instance) -> tuple[int, int, int, int]:
    with inst.db.session() as session:
        works = session.scalar(select(func.count()).select_from(Work)) or 0
        certs = session.scalar(select(func.count()).select_from(Certificate)) or 0
        entries = session.scalar(select(func.count()).select_from(LogEntry)) or 0
    blobs = sum(1 for p in Path(inst.settings.blob_path).rglob("*") if p.is_file())
    return works, certs, entries, blobs


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "  "}, "title is required"),
        ({"title": "x" * 301}, "longer than 300"),
        ({"declare": "machine"}, "not an origin label"),
        ({"declare": "ai-assisted"}, "must state its AI share"),
        ({"declare": "human-made", "ai_share": 30}, "no AI-generated share"),
        ({"visibility": "secret"}, "not a visibility"),
        ({"data": b"\xff\xfe\x00"}, "UTF-8"),
    ],
)
def test_invalid_registrations_store_nothing(
    instance: Instance, fields: dict[str, object], message: str
) -> None:
    creator = add_user(instance, "ola")
    args: dict[str, object] = {"data": b"a text", "title": "T", "declare": "human-made"}
    args.update(fields)
    with pytest.raises(InputError, match=message):
        registry.register_work(instance, creator_id=creator, **args)  # type: ignore[arg-type]
    assert _counts(instance) == (0, 0, 0, 0)


def test_a_copy_is_refused_and_its_blob_is_kept_once(instance: Instance) -> None:
    first, second = add_user(instance, "pia"), add_user(instance, "quin")
    registry.register_work(
        instance, creator_id=first, data=b"mine\n", title="A", declare="human-made"
    )
    with pytest.raises(ConflictError, match="another creator"):
        registry.register_work(
            instance, creator_id=second, data=b"mine  \r\n", title="B", declare="human-made"
        )
    assert _counts(instance) == (1, 1, 1, 1)


def test_titles_lose_control_characters(instance: Instance) -> None:
    creator = add_user(instance, "rae")
    reg = registry.register_work(
        instance, creator_id=creator, data=b"t", title="A\u202etitle\x07", declare="human-made"
    )
    with instance.db.session() as session:
        assert registry.get_work(session, reg.work_id, None).title == "Atitle"


def test_private_and_unlisted_works_are_hidden_from_others(instance: Instance) -> None:
    owner, other, admin = (
        add_user(instance, "sam"),
        add_user(instance, "tay"),
        add_user(instance, "root", role="admin"),
    )
    ids = {
        vis: registry.register_work(
            instance,
            creator_id=owner,
            data=vis.encode(),
            title=vis,
            declare="human-made",
            visibility=vis,
        ).work_id
        for vis in ("public", "unlisted", "private")
    }
    with instance.db.session() as session:
        users = {u: session.get(accounts.User, u) for u in (owner, other, admin)}
        stranger = users[other]
        with pytest.raises(NotFoundError):
            registry.get_work(session, ids["private"], stranger)
        with pytest.raises(NotFoundError):
            registry.get_work(session, ids["private"], None)
        assert registry.get_work(session, ids["private"], users[owner]).id == ids["private"]
        assert registry.get_work(session, ids["private"], users[admin]).id == ids["private"]
        assert registry.get_work(session, ids["unlisted"], None).id == ids["unlisted"]
        listed = {w.id for w in registry.list_works(session, stranger)}
        assert listed == {ids["public"]}
        own = {w.id for w in registry.list_works(session, users[owner], creator=users[owner])}
        assert own == set(ids.values())


def test_only_creator_or_admin_may_revoke(instance: Instance) -> None:
    owner, other = add_user(instance, "uma"), add_user(instance, "vic")
    reg = registry.register_work(
        instance, creator_id=owner, data=b"r", title="R", declare="human-made"
    )
    with instance.db.session() as session:
        stranger = session.get(accounts.User, other)
        author = session.get(accounts.User, owner)
    with pytest.raises(PermissionDeniedError):
        registry.revoke(instance, certificate_id=reg.certificate_id, reason="x", actor=stranger)
    registry.revoke(instance, certificate_id=reg.certificate_id, reason="mine", actor=author)
    with pytest.raises(ConflictError, match="already revoked"):
        registry.revoke(instance, certificate_id=reg.certificate_id, reason="again", actor=None)
