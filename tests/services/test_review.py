"""The review queue's use cases: decisions, the one appeal, who may do what (issue #4, item 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from hallmark.errors import AuthError, ConflictError, InputError, PermissionDeniedError
from hallmark.services import analysis, registry, review
from hallmark.services import log as log_service
from hallmark.services.instance import Instance
from hallmark.storage.models import Certificate, Review, User, Work
from tests.analysis.keyword_plugin import AI_TEXT, registered
from tests.conftest import add_user


@pytest.fixture
def inst(any_instance: Instance) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(update={"detectors": ["keyword"]})
    with registered():
        yield any_instance


def user(inst: Instance, handle: str, role: str = "creator") -> User:
    user_id = add_user(inst, handle, role)
    with inst.db.session() as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


@pytest.fixture
def people(inst: Instance) -> dict[str, User]:
    return {
        "alice": user(inst, "alice"),
        "bruno": user(inst, "bruno"),
        "rita": user(inst, "rita", "reviewer"),
        "root": user(inst, "root", "admin"),
    }


@pytest.fixture
def pending(inst: Instance, people: dict[str, User]) -> str:
    """A human-made work a detector contradicted: in the queue."""
    reg = registry.register_work(
        inst, creator_id=people["alice"].id, data=AI_TEXT, title="Gulls", declare="human-made"
    )
    analysis.analyze_now(inst, reg.work_id)
    return reg.work_id


def status(inst: Instance, work_id: str) -> str:
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        return work.review_status


def test_the_queue_lists_pending_works_oldest_first_with_reasons(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    later = registry.register_work(
        inst,
        creator_id=people["bruno"].id,
        data=AI_TEXT + b"And the gulls.\n",
        title="B",
        declare="human-made",
    )
    analysis.analyze_now(inst, later.work_id)
    listed = review.queue(inst, people["rita"])
    assert [w["work_id"] for w in listed] == [pending, later.work_id]
    assert listed[0]["reasons"][0]["code"] == "detector:keyword"


def test_approval_reissues_the_certificate_at_reviewed_and_records_it(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    result = review.decide(inst, pending, people["rita"], decision="approved", reason="Fine.")
    with inst.db.session() as session:
        work = session.get(Work, pending)
        assert work is not None and work.review_status == "approved" and work.level == "reviewed"
        current = work.certificate
        assert current is not None and current.id == result["certificate_id"]
        body = json.loads(current.body)
        assert body["level"] == "reviewed"
        assert any(item["kind"] == "review" for item in body["evidence"])
        superseded = session.scalars(
            select(Certificate).where(Certificate.work_id == pending, Certificate.superseded)
        ).all()
        assert len(superseded) == 1 and superseded[0].revocation is not None
        [row] = session.scalars(select(Review)).all()
        assert (row.decision, row.reviewer_id, row.certificate_id) == (
            "approved",
            people["rita"].id,
            current.id,
        )
    assert review.queue(inst, people["rita"]) == []
    assert log_service.audit(inst).ok


def test_rejection_keeps_the_certificate_and_the_creator_sees_the_reason(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    with pytest.raises(InputError, match="needs a reason"):
        review.decide(inst, pending, people["rita"], decision="rejected", reason=" ")
    review.decide(inst, pending, people["rita"], decision="rejected", reason="Drafts please.")
    with inst.db.session() as session:
        work = session.get(Work, pending)
        assert work is not None and work.level == "declared"
        told = review.status_for(session, work)
    assert told["status"] == "rejected" and told["rejection"]["reason"] == "Drafts please."
    assert told["may_appeal"]


def test_the_creator_can_appeal_once_and_the_work_goes_back_to_the_queue(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    with pytest.raises(ConflictError, match="rejected"):
        review.appeal(inst, pending, people["alice"], message="Too early.")
    review.decide(inst, pending, people["rita"], decision="rejected", reason="No.")
    with pytest.raises(PermissionDeniedError):
        review.appeal(inst, pending, people["root"], message="Not mine.")
    review.appeal(inst, pending, people["alice"], message="I wrote it; see my notes.")
    assert status(inst, pending) == "appealed"
    [queued] = review.queue(inst, people["rita"])
    assert queued["review_status"] == "appealed"
    review.decide(inst, pending, people["root"], decision="rejected", reason="Still no.")
    with pytest.raises(ConflictError, match="once"):
        review.appeal(inst, pending, people["alice"], message="Again!")
    with inst.db.session() as session:
        past = review.history(session, pending)
    assert [r["decision"] for r in past["reviews"]] == ["rejected", "rejected"]
    assert past["appeal"]["answered"]


def test_who_may_review(inst: Instance, people: dict[str, User], pending: str) -> None:
    with pytest.raises(AuthError):
        review.queue(inst, None)
    for creator in ("alice", "bruno"):
        with pytest.raises(PermissionDeniedError):
            review.queue(inst, people[creator])
        with pytest.raises(PermissionDeniedError):
            review.decide(inst, pending, people[creator], decision="approved", reason="")
    assert review.queue(inst, people["root"])
    assert review.evidence(inst, pending, people["rita"])["analysis"]["status"] == "done"


def test_nobody_reviews_their_own_work(inst: Instance, people: dict[str, User]) -> None:
    reg = registry.register_work(
        inst, creator_id=people["rita"].id, data=AI_TEXT, title="Mine", declare="human-made"
    )
    analysis.analyze_now(inst, reg.work_id)
    with pytest.raises(PermissionDeniedError, match="own work"):
        review.decide(inst, reg.work_id, people["rita"], decision="approved", reason="")
    review.decide(inst, reg.work_id, people["root"], decision="approved", reason="")


def test_a_decided_work_cannot_be_decided_again(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    review.decide(inst, pending, people["rita"], decision="approved", reason="")
    with pytest.raises(ConflictError, match="not waiting"):
        review.decide(inst, pending, people["root"], decision="rejected", reason="No.")


def test_the_creator_is_notified_of_decisions_and_of_the_appeal_answer(
    inst: Instance, people: dict[str, User], pending: str
) -> None:
    from hallmark.services import notifications

    [waiting] = review.for_creator(inst, people["alice"])
    assert waiting["work_id"] == pending and waiting["reasons"]
    review.decide(inst, pending, people["rita"], decision="rejected", reason="Show drafts.")
    assert review.for_creator(inst, people["alice"]) == []
    review.appeal(inst, pending, people["alice"], message="Here they are.")
    assert [w["review_status"] for w in review.for_creator(inst, people["alice"])] == ["appealed"]
    review.decide(inst, pending, people["root"], decision="approved", reason="Convincing.")
    told = notifications.for_user(inst, people["alice"])
    kinds = [n["kind"] for n in reversed(told["notifications"])]
    assert kinds == ["review-decided", "appeal-answered"]
    first, second = reversed(told["notifications"])
    assert "rejected" in first["message"] and "Show drafts." in first["message"]
    assert "appeal" in first["message"] and first["work_id"] == pending
    assert "approved" in second["message"] and "Convincing." in second["message"]
    assert told["unread"] == 2
    # Reviewers are not told of their own decisions.
    assert notifications.for_user(inst, people["rita"])["notifications"] == []
