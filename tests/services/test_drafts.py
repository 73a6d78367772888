"""Tests for :mod:`hallmark.services.drafts`: writing a draft's journal, resending, submitting it
as a certified work, and who may see what. Database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from hallmark.core import journal
from hallmark.core.labels import OriginLabel
from hallmark.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
)
from hallmark.services import drafts, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import (
    Authorship,
    Certificate,
    Draft,
    JournalEvent,
    LogEntry,
    User,
    Work,
)
from tests.conftest import add_user
from tests.core.test_journal import Writer, human_like

ROOT = Path(__file__).resolve().parents[2]


def user(inst: Instance, handle: str, role: str = "creator") -> User:
    add_user(inst, handle, role)
    with inst.db.session() as session:
        found = session.scalar(select(User).where(User.handle == handle))
        assert found is not None
        return found


def counts(inst: Instance) -> dict[str, int]:
    with inst.db.session() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Work, Certificate, LogEntry, Authorship, JournalEvent)
        }


def stored_events(inst: Instance, draft_id: str) -> list[dict[str, Any]]:
    with inst.db.session() as session:
        return drafts.load_events(session, draft_id)


def written(inst: Instance, owner: User, writer: Writer, batch: int = 100) -> str:
    draft = drafts.start_draft(inst, owner.id, "Harbour")
    for start in range(0, len(writer.events), batch):
        drafts.append_events(inst, draft.draft_id, owner, writer.events[start : start + batch])
    return draft.draft_id


def certificate_body(inst: Instance, certificate_id: str) -> dict[str, Any]:
    with inst.db.session() as session:
        body: dict[str, Any] = json.loads(registry.find_certificate(session, certificate_id).body)
        return body


def test_write_resend_and_submit(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = human_like(1, 600)
    events = writer.events
    draft = drafts.start_draft(inst, alice.id, "  Harbour\x07 ")
    assert draft.title == "Harbour" and draft.next_seq == 0 and draft.text == ""
    first = drafts.append_events(inst, draft.draft_id, alice, events[:200])
    assert first.accepted == 200 and first.next_seq == 200
    # The answer was lost: the same batch again changes nothing.
    again = drafts.append_events(inst, draft.draft_id, alice, events[:200])
    assert again.accepted == 0 and again.next_seq == 200 and again.head == first.head
    # A batch overlapping what is recorded: the old part is checked and skipped.
    overlap = drafts.append_events(inst, draft.draft_id, alice, events[150:400])
    assert overlap.accepted == 200 and overlap.next_seq == 400
    drafts.append_events(inst, draft.draft_id, alice, events[400:])
    assert drafts.append_events(inst, draft.draft_id, alice, []).accepted == 0

    view = drafts.get_draft(inst, draft.draft_id, alice)
    assert view.text == writer.text and view.next_seq == len(events)
    assert view.head == journal.journal_root(events, draft_id=draft.draft_id).hex()
    assert view.stats is not None and view.stats["flags"] == []
    assert "timeline" not in view.stats
    assert stored_events(inst, draft.draft_id) == events
    assert [d.draft_id for d in drafts.list_drafts(inst, alice)] == [draft.draft_id]

    submission = drafts.submit_draft(
        inst, draft.draft_id, alice, title="Harbour", declare="human-made", text=writer.text
    )
    reg = submission.registration
    assert (reg.label, reg.level, reg.ai_share) == ("human-made", "process-verified", 0.0)
    assert submission.to_json()["review"] == {"status": "none", "reasons": []}
    root = journal.journal_root(events, draft_id=draft.draft_id).hex()
    body = certificate_body(inst, reg.certificate_id)
    assert {"kind": "journal", "sha256": root, "events": len(events)} in body["evidence"]
    assert body["authorship"] == {
        "journal_root": root,
        "shares": {"typed": 100, "pasted": 0, "muse": 0, "imported": 0},
        "ai_share": 0,
    }
    assert body["level"] == "process-verified"

    closed = drafts.get_draft(inst, draft.draft_id, alice, stats=False)
    assert (closed.status, closed.work_id) == ("submitted", reg.work_id)
    assert drafts.list_drafts(inst, alice) == []
    with inst.db.session() as session:
        work = session.get(Work, reg.work_id)
        assert work is not None and work.review_status == "none"
        authorship = session.get(Authorship, reg.work_id)
        assert authorship is not None and authorship.public is False
        assert authorship.journal_root == root and authorship.draft_id == draft.draft_id

    report = drafts.authorship_report(inst, reg.work_id, alice)
    assert report["shares"]["typed"] == 100.0 and report["flags"] == []
    assert report["length"] == len(writer.text) and report["timeline"]
    assert drafts.journal_for(inst, reg.work_id, alice)["events"] == events

    with pytest.raises(ConflictError, match="submitted"):
        drafts.append_events(inst, draft.draft_id, alice, events[-1:])
    with pytest.raises(ConflictError, match="already submitted"):
        drafts.submit_draft(
            inst, draft.draft_id, alice, title="Again", declare="human-made", text=writer.text
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda ev: ev[1:], r"^Event 1: skips events; the next event is 0"),
        (lambda ev: [ev[0], ev[2], ev[1], *ev[3:]], r"^Event 2: skips"),
        (lambda ev: [ev[0], ev[1], ev[1], *ev[2:]], r"^Event 1: repeats or reorders"),
        (
            lambda ev: [*ev[:5], {**ev[5], "pos": 999}],
            r"^Event 5: 'pos' 999 is outside the text",
        ),
    ],
    ids=["gap", "reorder", "repeat", "outside"],
)
def test_bad_batches_are_refused_and_store_nothing(
    any_instance: Instance, change: Any, message: str
) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("steady words")
    draft = drafts.start_draft(inst, alice.id)
    before = counts(inst)
    with pytest.raises(InputError, match=message):
        drafts.append_events(inst, draft.draft_id, alice, change(writer.events))
    assert counts(inst) == before
    view = drafts.get_draft(inst, draft.draft_id, alice)
    assert (view.text, view.next_seq, view.head) == ("", 0, draft.head)


def test_a_resent_batch_out_of_order_is_refused(instance: Instance) -> None:
    alice = user(instance, "alice")
    writer = Writer()
    writer.type("abcdef")
    draft_id = written(instance, alice, writer)
    with pytest.raises(InputError, match=r"^Event 1: repeats or reorders"):
        drafts.append_events(instance, draft_id, alice, [writer.events[2], writer.events[1]])


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"text": "X"}, False),
        ({"t": 0}, False),
        ({"pos": True}, False),
        ({"src": "key"}, False),
        ({"ref": None, "src": None}, True),
        ({}, True),
    ],
    ids=["text", "time", "bool-for-int", "added-src", "nulls", "identical"],
)
def test_a_resent_event_must_be_identical(
    any_instance: Instance, change: dict[str, Any], same: bool
) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("ab")
    writer.type("cd")
    draft_id = written(inst, alice, writer)
    resent = [writer.events[0], {**writer.events[1], **change}]
    before = counts(inst)
    if same:
        assert drafts.append_events(inst, draft_id, alice, resent).accepted == 0
    else:
        with pytest.raises(ConflictError, match=r"^Event 1 differs from the one already recorded"):
            drafts.append_events(inst, draft_id, alice, [*resent, *writer.events[2:]])
    assert counts(inst) == before


def test_batch_and_journal_limits(instance: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = user(instance, "alice")
    draft = drafts.start_draft(instance, alice.id)
    writer = Writer()
    writer.type("x" * (drafts.MAX_BATCH_EVENTS + 1), dt=200)
    with pytest.raises(TooLargeError, match="at most 5,000"):
        drafts.append_events(instance, draft.draft_id, alice, writer.events)
    with pytest.raises(InputError, match="must be a list"):
        drafts.append_events(instance, draft.draft_id, alice, {"seq": 0})
    monkeypatch.setattr(drafts, "MAX_JOURNAL_EVENTS", 10)
    with pytest.raises(TooLargeError, match="at most 10 events"):
        drafts.append_events(instance, draft.draft_id, alice, writer.events[:11])
    assert drafts.append_events(instance, draft.draft_id, alice, writer.events[:10]).accepted == 10


def test_the_schema_states_the_batch_limit() -> None:
    schema = json.loads((ROOT / "docs" / "journal.schema.json").read_text("utf-8"))
    assert schema["properties"]["events"]["maxItems"] == drafts.MAX_BATCH_EVENTS
    assert f"at most {drafts.MAX_BATCH_EVENTS:,} events" in (
        ROOT / "docs" / "journal.md"
    ).read_text("utf-8")


def test_a_mismatch_is_refused_and_nothing_is_registered(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("The tide goes out.")
    draft_id = written(inst, alice, writer)
    before = counts(inst)
    with pytest.raises(ConflictError) as caught:
        drafts.submit_draft(
            inst, draft_id, alice, title="T", declare="human-made", text="The tide goes in."
        )
    assert "18 characters" in caught.value.detail and "17" in caught.value.detail
    assert "first differ at character 14" in caught.value.detail
    assert counts(inst) == before
    assert drafts.get_draft(inst, draft_id, alice, stats=False).status == "open"


def test_an_empty_text_is_refused(instance: Instance) -> None:
    alice = user(instance, "alice")
    draft = drafts.start_draft(instance, alice.id)
    with pytest.raises(InputError, match="The text is empty"):
        drafts.submit_draft(
            instance, draft.draft_id, alice, title="T", declare="human-made", text=" \n"
        )


def test_an_altered_journal_is_refused(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("abc")
    draft_id = written(inst, alice, writer)
    with inst.db.session() as session:
        session.execute(
            update(JournalEvent)
            .where(JournalEvent.draft_id == draft_id, JournalEvent.seq == 1)
            .values(t=JournalEvent.t + 1)
        )
    before = counts(inst)
    with pytest.raises(ConflictError, match="altered"):
        drafts.submit_draft(inst, draft_id, alice, title="T", declare="human-made", text="abc")
    assert counts(inst) == before


def test_a_flagged_journal_is_declared_and_sent_to_review(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = human_like(2, 200)
    writer.insert("A long passage from somewhere else. " * 30, op="paste")
    draft_id = written(inst, alice, writer)
    submission = drafts.submit_draft(
        inst, draft_id, alice, title="T", declare="human-made", text=writer.text
    )
    assert submission.registration.level == "declared"
    assert submission.registration.label == "human-made"
    reasons = submission.to_json()["review"]
    assert reasons["status"] == "pending"
    assert [flag["code"] for flag in reasons["reasons"]] == ["mostly-pasted"]
    with inst.db.session() as session:
        work = session.get(Work, submission.registration.work_id)
        assert work is not None
        assert work.review_status == "pending" and work.review_reasons == reasons["reasons"]


def test_ai_text_in_the_journal_sets_the_label_and_share(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("Mine, " * 10, dt=200)
    writer.insert("the muse's words.", op="muse", ref="s_1")
    draft_id = written(inst, alice, writer)
    submission = drafts.submit_draft(
        inst, draft_id, alice, title="T", declare="human-made", text=writer.text
    )
    share = round(100 * 17 / 77, 2)
    reg = submission.registration
    assert (reg.label, reg.ai_share) == ("ai-assisted", share)
    body = certificate_body(inst, reg.certificate_id)
    assert body["label"] == "ai-assisted" and body["ai_share"] == share
    assert body["authorship"]["shares"]["muse"] == share


@pytest.mark.parametrize(
    ("computed", "declare", "declared_share", "expected"),
    [
        (0.0, "human-made", None, ("human-made", None)),
        (12.5, "human-made", None, ("ai-assisted", 12.5)),
        (100.0, "human-made", None, ("ai-generated", None)),
        (0.0, "ai-assisted", 30.0, ("ai-assisted", 30.0)),
        (12.5, "ai-assisted", 30.0, ("ai-assisted", 30.0)),
        (40.0, "ai-assisted", 30.0, ("ai-assisted", 40.0)),
        (40.0, "ai-assisted", None, ("ai-assisted", 40.0)),
        (0.0, "ai-assisted", None, ("ai-assisted", None)),
        (12.5, "ai-generated", None, ("ai-generated", None)),
    ],
)
def test_the_stricter_of_journal_and_declaration_wins(
    computed: float,
    declare: str,
    declared_share: float | None,
    expected: tuple[str, float | None],
) -> None:
    label, share = drafts.decide_label(computed, declare, declared_share)
    assert (label.value, share) == expected
    assert isinstance(label, OriginLabel)


def test_a_contradictory_declaration_is_refused(instance: Instance) -> None:
    with pytest.raises(InputError, match="no AI-generated share"):
        drafts.decide_label(0.0, "human-made", 20.0)
    alice = user(instance, "alice")
    writer = Writer()
    writer.type("only mine")
    draft_id = written(instance, alice, writer)
    with pytest.raises(InputError, match="must state its AI share"):
        drafts.submit_draft(
            instance, draft_id, alice, title="T", declare="ai-assisted", text=writer.text
        )


def test_drafts_and_journals_are_their_creators_alone(any_instance: Instance) -> None:
    inst = any_instance
    alice, bruno, root = user(inst, "alice"), user(inst, "bruno"), user(inst, "root", "admin")
    writer = Writer()
    writer.type("a private draft")
    draft_id = written(inst, alice, writer)
    more = Writer()
    more.type("x")
    for attempt in (
        lambda: drafts.get_draft(inst, draft_id, bruno),
        lambda: drafts.append_events(inst, draft_id, bruno, more.events),
        lambda: drafts.submit_draft(
            inst, draft_id, bruno, title="Mine", declare="human-made", text=writer.text
        ),
    ):
        with pytest.raises(NotFoundError, match="no draft"):
            attempt()
    assert drafts.list_drafts(inst, bruno) == []
    assert drafts.get_draft(inst, draft_id, alice).next_seq == len(writer.events)

    work_id = drafts.submit_draft(
        inst, draft_id, alice, title="T", declare="human-made", text=writer.text
    ).registration.work_id
    for viewer in (bruno, None):
        with pytest.raises(NotFoundError, match="no authorship report"):
            drafts.authorship_report(inst, work_id, viewer)
        with pytest.raises(NotFoundError, match="no journal"):
            drafts.journal_for(inst, work_id, viewer)
    with pytest.raises(NotFoundError):
        drafts.set_report_public(inst, work_id, bruno, True)
    assert drafts.authorship_report(inst, work_id, root)["public"] is False
    assert drafts.journal_for(inst, work_id, root)["events"] == writer.events

    assert drafts.set_report_public(inst, work_id, alice, True) == {
        "work_id": work_id,
        "public": True,
    }
    assert drafts.authorship_report(inst, work_id, None)["shares"]["typed"] == 100.0
    with pytest.raises(NotFoundError):
        drafts.journal_for(inst, work_id, bruno)
    with pytest.raises(PermissionDeniedError):
        drafts.set_report_public(inst, work_id, bruno, False)


def test_a_public_report_of_a_private_work_stays_hidden(instance: Instance) -> None:
    alice, bruno = user(instance, "alice"), user(instance, "bruno")
    writer = Writer()
    writer.type("quiet")
    draft_id = written(instance, alice, writer)
    work_id = drafts.submit_draft(
        instance,
        draft_id,
        alice,
        title="T",
        declare="human-made",
        text=writer.text,
        visibility="private",
        report_public=True,
    ).registration.work_id
    assert drafts.authorship_report(instance, work_id, alice)["public"] is True
    with pytest.raises(NotFoundError):
        drafts.authorship_report(instance, work_id, bruno)


def test_a_failed_registration_leaves_the_draft_open(instance: Instance) -> None:
    alice = user(instance, "alice")
    registry.register_work(
        instance, creator_id=alice.id, data=b"copied", title="First", declare="human-made"
    )
    writer = Writer()
    writer.type("copied")
    draft_id = written(instance, alice, writer)
    before = counts(instance)
    with pytest.raises(ConflictError, match="already registered"):
        drafts.submit_draft(
            instance, draft_id, alice, title="T", declare="human-made", text="copied"
        )
    assert counts(instance) == before
    assert drafts.get_draft(instance, draft_id, alice, stats=False).status == "open"


def test_events_arriving_during_a_submission_abort_it(
    any_instance: Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    writer = Writer()
    writer.type("almost done")
    draft_id = written(inst, alice, writer)
    late = Writer()
    late.type("almost done!")
    replay = journal.replay

    def replay_then_type(*args: Any, **kwargs: Any) -> journal.Report:
        # Another tab sends a key while the server is replaying for the submission.
        report = replay(*args, **kwargs)
        drafts.append_events(inst, draft_id, alice, late.events[-1:])
        return report

    monkeypatch.setattr(journal, "replay", replay_then_type)
    before = counts(inst)
    with pytest.raises(ConflictError, match="changed while it was being submitted"):
        drafts.submit_draft(
            inst, draft_id, alice, title="T", declare="human-made", text="almost done"
        )
    after = counts(inst)
    assert after["journal_events"] == before["journal_events"] + 1
    assert {k: v for k, v in after.items() if k != "journal_events"} == {
        k: v for k, v in before.items() if k != "journal_events"
    }
    assert drafts.get_draft(inst, draft_id, alice, stats=False).status == "open"


def _race(inst: Instance, draft_id: str, owner: User, batches: list[list[Any]]) -> list[str]:
    """Send the batches from as many threads at once; return each one's outcome."""
    barrier = threading.Barrier(len(batches))
    outcomes: list[str] = []

    def send(batch: list[Any]) -> None:
        barrier.wait()
        try:
            drafts.append_events(inst, draft_id, owner, batch)
            outcomes.append("ok")
        except ConflictError as exc:
            assert "differs" in exc.detail or "Resend" in (exc.hint or "")
            outcomes.append("conflict")

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_batches_never_both_win(any_instance: Instance) -> None:
    inst = any_instance
    alice = user(inst, "alice")
    draft = drafts.start_draft(inst, alice.id)
    rounds, size = 8, 20
    for round_ in range(rounds):
        racing = []
        for char in "LR":
            # Both continue the journal from the same seq, with different text.
            writer = Writer()
            writer.events = stored_events(inst, draft.draft_id)
            writer.text = drafts.get_draft(inst, draft.draft_id, alice, stats=False).text
            writer.type(char * size)
            racing.append(writer.events[round_ * size :])
        assert sorted(_race(inst, draft.draft_id, alice, racing)) == ["conflict", "ok"]
    view = drafts.get_draft(inst, draft.draft_id, alice)
    assert view.next_seq == rounds * size
    events = stored_events(inst, draft.draft_id)
    assert view.head == journal.journal_root(events, draft_id=draft.draft_id).hex()
    assert journal.replay(events).text == view.text


def test_draft_titles_follow_the_work_rules(instance: Instance) -> None:
    alice = user(instance, "alice")
    assert drafts.start_draft(instance, alice.id, None).title == ""
    with pytest.raises(InputError, match="longer than 300"):
        drafts.start_draft(instance, alice.id, "x" * 301)
    with instance.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 1
