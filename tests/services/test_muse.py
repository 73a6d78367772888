"""Tests for :mod:`hallmark.services.muse`: asking the muse about a draft, what is stored, who may
see it, the draft's switches, the creator's voice, and what the certificate and report say.

The backends are the test plugins of ``tests/muse/fake_backend.py``, registered through the same
hook as the built-ins. Database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hallmark.errors import ConflictError, InputError, NotFoundError, TooLargeError
from hallmark.muse import record
from hallmark.muse.base import Mode, MuseUnavailable
from hallmark.services import drafts, muse, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import MuseSuggestion, User
from tests.conftest import get_user, make_instance, reset_postgres
from tests.muse import fake_backend
from tests.muse.fake_backend import CONTINUATION, QUESTIONS, FakeBackend, registered

T0 = 1_764_331_200_000
OPENING = "The tide went out at noon, and the gulls came down to argue over what it left."


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def inst(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """An instance whose muse is the ``fake`` test backend, on SQLite and on PostgreSQL."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    with registered():
        instance = make_instance(tmp_path / "home", database_url=url, muse_backend="fake")
        yield instance
        instance.close()


def with_backend(inst: Instance, name: str) -> Instance:
    """The same instance (same database) with another muse backend."""
    settings = inst.settings.model_copy(update={"muse_backend": name})
    return dataclasses.replace(inst, settings=settings)


def fake(inst: Instance) -> FakeBackend:
    backend = muse.backend_for(inst)
    assert isinstance(backend, FakeBackend)
    return backend


def write(inst: Instance, viewer: User, text: str = OPENING) -> str:
    """A draft holding ``text``, typed in one event."""
    draft = drafts.start_draft(inst, viewer.id, "Tide")
    drafts.append_events(
        inst, draft.draft_id, viewer, [{"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": text}]
    )
    return draft.draft_id


def stored(inst: Instance, suggestion_id: str) -> MuseSuggestion:
    with inst.db.session() as session:
        row = session.get(MuseSuggestion, suggestion_id)
        assert row is not None
        return row


def count(inst: Instance) -> int:
    with inst.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(MuseSuggestion)) or 0)


# Asking --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_every_mode_is_answered_and_kept_as_evidence(inst: Instance, mode: Mode) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    answer = muse.ask(inst, draft_id, alice, mode=mode.value, seed=5).collect()
    assert answer["mode"] == mode.value and answer["status"] == "complete"
    assert answer["text"] == fake_backend.answer_for(fake(inst).prompts[-1])
    assert (answer["backend"], answer["model"]) == ("fake", "fake-muse-1")
    assert fake(inst).seeds == [5]
    row = stored(inst, answer["id"])
    assert (row.draft_id, row.mode, row.status, row.output) == (
        draft_id,
        mode.value,
        "complete",
        answer["text"],
    )
    assert row.prompt_sha256 == fake(inst).prompts[-1].sha256() == answer["prompt_sha256"]
    assert row.finished_at is not None


def test_the_muse_reads_the_draft_as_saved_up_to_the_cursor(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice, OPENING + " Nobody looked up.")
    muse.ask(inst, draft_id, alice, mode="continue", position=len(OPENING)).collect()
    message = fake(inst).prompts[-1].messages[-1][1]
    assert OPENING in message and "Nobody" not in message


def test_the_list_shows_each_suggestion_with_its_digests(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    first = muse.ask(inst, draft_id, alice, mode="questions").collect()
    second = muse.ask(inst, draft_id, alice, mode="critique", selection="the gulls").collect()
    listed = muse.list_suggestions(inst, draft_id, alice)
    assert listed["settings"] == {"continue": True, "personal": True}
    assert [s["id"] for s in listed["suggestions"]] == [first["id"], second["id"]]
    entry = listed["suggestions"][0]
    assert entry["text"] == QUESTIONS
    assert entry["output_sha256"] == hashlib.sha256(QUESTIONS.encode()).hexdigest()
    assert (entry["used"], entry["inserted_chars"], entry["copies"]) == (False, 0, 0)


def test_drafts_and_suggestions_are_their_creators_alone(inst: Instance) -> None:
    alice, bruno = get_user(inst, "alice"), get_user(inst, "bruno")
    admin = get_user(inst, "root", role="admin")
    draft_id = write(inst, alice)
    answer = muse.ask(inst, draft_id, alice, mode="ideas").collect()
    for other in (bruno, admin):
        with pytest.raises(NotFoundError):
            muse.ask(inst, draft_id, other, mode="ideas")
        with pytest.raises(NotFoundError):
            muse.list_suggestions(inst, draft_id, other)
        with pytest.raises(NotFoundError):
            muse.set_switches(inst, draft_id, other, allow_continue=False)
        with pytest.raises(NotFoundError):
            muse.record_copy(inst, draft_id, answer["id"], other)
    # A suggestion of another draft is not found through this one.
    own = write(inst, bruno)
    with pytest.raises(NotFoundError):
        muse.record_copy(inst, own, answer["id"], bruno)
    assert len(fake(inst).prompts) == 1


def test_a_bad_request_is_refused_before_the_backend_is_asked(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    with pytest.raises(InputError, match="'sonnet' is not a muse mode"):
        muse.ask(inst, draft_id, alice, mode="sonnet")
    with pytest.raises(TooLargeError):
        muse.ask(inst, draft_id, alice, mode="critique", selection="x" * 20_001)
    empty = drafts.start_draft(inst, alice.id).draft_id
    with pytest.raises(InputError, match="no text to continue"):
        muse.ask(inst, empty, alice, mode="continue")
    assert fake(inst).prompts == [] and count(inst) == 0


def test_prose_switched_off_is_refused_while_questions_still_come(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    switches = muse.set_switches(inst, draft_id, alice, allow_continue=False)
    assert switches.to_json() == {"continue": False, "personal": True}
    with pytest.raises(ConflictError) as caught:
        muse.ask(inst, draft_id, alice, mode="continue")
    assert caught.value.detail == "Prose from the muse is switched off for this draft."
    assert muse.ask(inst, draft_id, alice, mode="questions").collect()["text"] == QUESTIONS
    assert muse.switches(inst, draft_id, alice).allow_continue is False
    muse.set_switches(inst, draft_id, alice, allow_continue=True)
    assert muse.ask(inst, draft_id, alice, mode="continue").collect()["text"] == CONTINUATION


def test_a_submitted_draft_takes_no_more_questions(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    drafts.submit_draft(inst, draft_id, alice, title="Tide", declare="human-made", text=OPENING)
    with pytest.raises(ConflictError, match="submitted"):
        muse.ask(inst, draft_id, alice, mode="questions")
    with pytest.raises(ConflictError, match="submitted"):
        muse.set_switches(inst, draft_id, alice, personal=False)


def test_a_muse_turned_off_or_down_says_so_and_stores_nothing(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    with pytest.raises(MuseUnavailable, match="turned off"):
        muse.ask(with_backend(inst, ""), draft_id, alice, mode="questions")
    with pytest.raises(MuseUnavailable) as caught:
        muse.ask(with_backend(inst, "fake-down"), draft_id, alice, mode="questions")
    assert caught.value.detail == "The muse's model server cannot be reached."
    with pytest.raises(MuseUnavailable, match="not set up correctly"):
        muse.ask(with_backend(inst, "openai"), draft_id, alice, mode="questions")
    assert count(inst) == 0


def test_a_backend_that_breaks_off_keeps_what_it_wrote(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    run = muse.ask(with_backend(inst, "fake-broken"), draft_id, alice, mode="continue")
    with pytest.raises(MuseUnavailable):
        run.collect()
    row = stored(inst, run.id)
    assert row.status == "failed"
    assert row.output == " ".join(CONTINUATION.split(" ")[:3])


def test_stopping_a_suggestion_keeps_it_as_cancelled(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    slow = with_backend(inst, "fake-slow")
    run = muse.ask(slow, draft_id, alice, mode="continue")
    pieces = iter(run)
    assert next(pieces) == "The"
    assert stored(inst, run.id).status == "streaming"
    run.close()
    row = stored(inst, run.id)
    assert (row.status, row.output) == ("cancelled", "The")
    assert fake(slow).closed == 1
    # A run closed before it was read is stored as cancelled too.
    unread = muse.ask(slow, draft_id, alice, mode="ideas")
    unread.close()
    assert stored(inst, unread.id).status == "cancelled"
    assert fake(slow).closed == 2


def test_copies_are_counted(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    answer = muse.ask(inst, draft_id, alice, mode="ideas").collect()
    muse.record_copy(inst, draft_id, answer["id"], alice)
    assert muse.record_copy(inst, draft_id, answer["id"], alice) == {
        "id": answer["id"],
        "copies": 2,
    }


# The creator's voice -------------------------------------------------------------------------

HARBOUR = (
    b"The harbour lights came on one by one while the fishermen mended their nets, "
    b"and the tide turned quietly under the old stone pier at dusk.\n"
)
ORBIT = (
    b"The orbital station rotated slowly, its solar arrays catching light from a distant "
    b"star while the crew slept in their narrow bunks.\n"
)


def register(inst: Instance, viewer: User, data: bytes, declare: str = "human-made") -> str:
    return registry.register_work(
        inst, creator_id=viewer.id, data=data, title="Earlier", declare=declare
    ).work_id


@pytest.mark.slow
def test_suggestions_draw_on_the_creators_own_earlier_works(inst: Instance) -> None:
    import torch

    torch.set_num_threads(1)
    alice, bruno = get_user(inst, "alice"), get_user(inst, "bruno")
    harbour = register(inst, alice, HARBOUR)
    register(inst, alice, ORBIT)
    register(inst, alice, HARBOUR.replace(b"lights", b"lamps"), declare="ai-generated")
    register(inst, bruno, HARBOUR.replace(b"harbour", b"harbor"))
    draft_id = write(inst, alice, "The fishing boats came back to the harbour as the tide rose.")
    answer = muse.ask(inst, draft_id, alice, mode="ideas").collect()
    message = fake(inst).prompts[-1].messages[-1][1]
    assert "mended their nets" in message
    # Never another creator's words, nor text an AI generated, nor what does not fit.
    assert "harbor" not in message and "lamps" not in message and "orbital" not in message
    assert answer["sources"] == [harbour] == stored(inst, answer["id"]).sources

    muse.set_switches(inst, draft_id, alice, personal=False)
    plain = muse.ask(inst, draft_id, alice, mode="ideas").collect()
    assert "earlier work" not in fake(inst).prompts[-1].messages[-1][1]
    assert plain["sources"] == []
    muse.ask(inst, draft_id, alice, mode="ideas", personal=True).collect()
    assert "mended their nets" in fake(inst).prompts[-1].messages[-1][1]


# What the certificate and the report say -----------------------------------------------------


def events_with(suggestion_id: str, text: str) -> list[dict[str, Any]]:
    return [
        {
            "seq": 1,
            "t": T0 + 2_000,
            "op": "muse",
            "pos": len(OPENING),
            "text": text,
            "ref": suggestion_id,
        },
    ]


def test_inserted_prose_makes_the_work_ai_assisted_and_is_reported(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    question = muse.ask(inst, draft_id, alice, mode="questions").collect()
    prose = muse.ask(inst, draft_id, alice, mode="continue").collect()
    muse.record_copy(inst, draft_id, question["id"], alice)
    inserted = " " + prose["text"]
    drafts.append_events(inst, draft_id, alice, events_with(prose["id"], inserted))
    listed = muse.list_suggestions(inst, draft_id, alice)["suggestions"]
    assert [s["used"] for s in listed] == [False, True]
    assert listed[1]["inserted_chars"] == len(inserted)

    submission = drafts.submit_draft(
        inst, draft_id, alice, title="Tide", declare="human-made", text=OPENING + inserted
    )
    certificate = submission.registration.bundle["certificate"]
    share = round(100 * len(inserted) / len(OPENING + inserted), 2)
    assert certificate["label"] == "ai-assisted" and certificate["ai_share"] == share
    assert certificate["authorship"]["shares"]["muse"] == share
    evidence = [item for item in certificate["evidence"] if item["kind"] == "muse"]
    report = drafts.authorship_report(inst, submission.registration.work_id, alice)["muse"]
    assert evidence == [
        {"kind": "muse", "sha256": report["record_sha256"], "suggestions": 2, "used": 1}
    ]
    assert (report["share"], report["offered"], report["used"]) == (share, 2, 1)
    assert [s["mode"] for s in report["suggestions"]] == ["questions", "continue"]
    assert report["suggestions"][0]["copies"] == 1

    # Anyone holding the suggestions (their creator) recomputes the digest the certificate
    # states, as docs/muse.md describes.
    fields = ("id", "mode", "backend", "model", "created_at", "prompt_sha256", "output_sha256")
    recorded = [{**{k: s[k] for k in fields}, "status": s["status"]} for s in listed]
    encoded = json.dumps(recorded, separators=(",", ":"), sort_keys=True).encode()
    assert hashlib.sha256(encoded).hexdigest() == report["record_sha256"]
    texts = muse.texts_for_work(inst, submission.registration.work_id, alice)
    assert texts[prose["id"]] == prose["text"]
    assert muse.texts_for_work(inst, submission.registration.work_id, get_user(inst, "bruno")) == {}


def test_questions_alone_leave_a_work_human_made(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    for mode in ("questions", "ideas", "critique"):
        muse.ask(inst, draft_id, alice, mode=mode).collect()
    submission = drafts.submit_draft(
        inst, draft_id, alice, title="Tide", declare="human-made", text=OPENING
    )
    certificate = submission.registration.bundle["certificate"]
    assert certificate["label"] == "human-made" and certificate["ai_share"] == 0
    evidence = next(item for item in certificate["evidence"] if item["kind"] == "muse")
    assert (evidence["suggestions"], evidence["used"]) == (3, 0)
    report = drafts.authorship_report(inst, submission.registration.work_id, alice)["muse"]
    assert (report["share"], report["offered"], report["used"]) == (0.0, 3, 0)


def test_a_draft_without_the_muse_has_no_muse_evidence(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    submission = drafts.submit_draft(
        inst, draft_id, alice, title="Tide", declare="human-made", text=OPENING
    )
    certificate = submission.registration.bundle["certificate"]
    assert [item["kind"] for item in certificate["evidence"]] == ["declaration", "journal"]
    assert "muse" not in drafts.authorship_report(inst, submission.registration.work_id, alice)


def test_submitting_ends_a_suggestion_still_being_written(inst: Instance) -> None:
    alice = get_user(inst, "alice")
    draft_id = write(inst, alice)
    run = muse.ask(with_backend(inst, "fake-slow"), draft_id, alice, mode="ideas")
    pieces = iter(run)
    next(pieces)
    submission = drafts.submit_draft(
        inst, draft_id, alice, title="Tide", declare="human-made", text=OPENING
    )
    report = drafts.authorship_report(inst, submission.registration.work_id, alice)["muse"]
    assert [s["status"] for s in report["suggestions"]] == ["cancelled"]
    # The run goes on in the panel, but the record the certificate states stays as it was.
    assert list(pieces)
    row = stored(inst, run.id)
    assert (row.status, row.output) == ("cancelled", "")
    with inst.db.session() as session:
        records = drafts.muse_records(session, draft_id)
    assert record.record_sha256(records) == report["record_sha256"]
