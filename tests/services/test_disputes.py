"""Disputes over near-copies: who may open, see and decide one, and what a decision does
(issue #5, item 5)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from sqlalchemy import select

from hallmark.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hallmark.services import analysis, disputes, notifications, registry
from hallmark.services import log as log_service
from hallmark.services.instance import Instance
from hallmark.storage.models import Revocation, SimilarityMatch, User, Work
from tests.conftest import get_user
from tests.similarity.perturb import make_work, replace_words

torch.set_num_threads(1)

ORIGINAL = make_work(21, words=200).text


@pytest.fixture
def inst(any_instance: Instance) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(update={"similarity_index": "memory"})
    yield any_instance


def person(inst: Instance, handle: str, role: str = "creator") -> User:
    return get_user(inst, handle, role)


@pytest.fixture
def people(inst: Instance) -> dict[str, User]:
    return {
        "alice": person(inst, "alice"),
        "bruno": person(inst, "bruno"),
        "carla": person(inst, "carla"),
        "rita": person(inst, "rita", "reviewer"),
    }


@pytest.fixture
def pair(inst: Instance, people: dict[str, User]) -> tuple[str, str, str]:
    """Alice's original, Bruno's later near-copy, and the match between them."""
    ids = []
    for who, data in (("alice", ORIGINAL), ("bruno", replace_words(ORIGINAL, 0.2, seed=1))):
        reg = registry.register_work(
            inst, creator_id=people[who].id, data=data.encode(), title=who, declare="human-made"
        )
        analysis.analyze_now(inst, reg.work_id)
        ids.append(reg.work_id)
    with inst.db.session() as session:
        [match] = session.scalars(select(SimilarityMatch))
        return ids[0], ids[1], match.id


def open_one(inst: Instance, people: dict[str, User], match_id: str) -> dict:
    return disputes.open_dispute(
        inst, people["alice"], match_id=match_id, statement="I published it in 2019."
    )


def test_the_earlier_creator_opens_a_dispute_and_the_other_is_told(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    original, copy, match_id = pair
    opened = open_one(inst, people, match_id)
    assert opened["status"] == "open"
    assert (opened["claimant_work_id"], opened["respondent_work_id"]) == (original, copy)
    assert opened["first_work_id"] == original
    kinds = [n["kind"] for n in notifications.for_user(inst, people["bruno"])["notifications"]]
    assert "dispute-opened" in kinds
    assert [d["dispute_id"] for d in disputes.list_open(inst, people["rita"])] == [
        opened["dispute_id"]
    ]


def test_only_a_party_may_open_and_only_once(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    _, _, match_id = pair
    with pytest.raises(NotFoundError):
        disputes.open_dispute(inst, people["carla"], match_id=match_id, statement="mine")
    with pytest.raises(PermissionDeniedError):
        disputes.open_dispute(inst, None, match_id=match_id, statement="mine")
    with pytest.raises(InputError, match="why"):
        disputes.open_dispute(inst, people["alice"], match_id=match_id, statement="  ")
    with pytest.raises(NotFoundError):
        disputes.open_dispute(inst, people["alice"], match_id="m-nope", statement="mine")
    open_one(inst, people, match_id)
    with pytest.raises(ConflictError):
        open_one(inst, people, match_id)


def test_who_sees_a_dispute(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    original, copy, match_id = pair
    dispute_id = open_one(inst, people, match_id)["dispute_id"]
    seen = disputes.get(inst, people["rita"], dispute_id)
    assert seen["can_decide"] is True
    assert seen["claimant_evidence"]["work"]["work_id"] == original
    assert seen["respondent_evidence"]["work"]["work_id"] == copy
    assert seen["log"][original]["log_index"] < seen["log"][copy]["log_index"]
    for party in ("alice", "bruno"):
        mine = disputes.get(inst, people[party], dispute_id)
        assert mine["can_decide"] is False and "claimant_evidence" not in mine
    with pytest.raises(NotFoundError):
        disputes.get(inst, people["carla"], dispute_id)


def test_upholding_revokes_the_later_certificate_in_the_log(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    original, copy, match_id = pair
    dispute_id = open_one(inst, people, match_id)["dispute_id"]
    decided = disputes.decide(
        inst, people["rita"], dispute_id, decision="upheld", reason="Alice's is first."
    )
    assert decided["status"] == "upheld"
    with inst.db.session() as session:
        later = session.get(Work, copy)
        earlier = session.get(Work, original)
        assert later is not None and earlier is not None
        assert later.certificate is not None and later.certificate.revocation is not None
        assert earlier.certificate is not None and earlier.certificate.revocation is None
        revocation = session.scalar(select(Revocation))
        assert revocation is not None and f"work {original} was registered first" in (
            revocation.reason
        )
        assert decided["revoked_certificate_id"] == later.certificate.id
    report = log_service.audit(inst)
    assert report.ok, report.problems
    for party in ("alice", "bruno"):
        kinds = [n["kind"] for n in notifications.for_user(inst, people[party])["notifications"]]
        assert "dispute-decided" in kinds
    with pytest.raises(ConflictError):
        disputes.decide(inst, people["rita"], dispute_id, decision="dismissed", reason="again")


def test_dismissing_keeps_both_certificates(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    original, copy, match_id = pair
    dispute_id = open_one(inst, people, match_id)["dispute_id"]
    decided = disputes.decide(
        inst, people["rita"], dispute_id, decision="dismissed", reason="Common phrases."
    )
    assert decided["status"] == "dismissed" and decided["revoked_certificate_id"] is None
    with inst.db.session() as session:
        for work_id in (original, copy):
            work = session.get(Work, work_id)
            assert work is not None and work.certificate is not None
            assert work.certificate.revocation is None
        assert session.scalar(select(Revocation)) is None


def test_deciding_needs_a_reviewer_who_is_not_a_party_and_a_reason(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    _, _, match_id = pair
    dispute_id = open_one(inst, people, match_id)["dispute_id"]
    with pytest.raises(PermissionDeniedError):
        disputes.decide(inst, people["carla"], dispute_id, decision="upheld", reason="x")
    with pytest.raises(InputError):
        disputes.decide(inst, people["rita"], dispute_id, decision="maybe", reason="x")
    with pytest.raises(InputError):
        disputes.decide(inst, people["rita"], dispute_id, decision="upheld", reason=" ")
    # A reviewer whose own work is disputed does not decide it.
    with inst.db.session() as session:
        bruno = session.get(User, people["bruno"].id)
        assert bruno is not None
        bruno.role = "reviewer"
    with pytest.raises(PermissionDeniedError):
        disputes.decide(inst, people["bruno"], dispute_id, decision="dismissed", reason="no")


def test_matches_on_the_work_page_for_its_creator_only(
    inst: Instance, people: dict[str, User], pair: tuple[str, str, str]
) -> None:
    original, copy, _ = pair
    [mine] = disputes.matches_for(inst, people["alice"], original)
    assert mine["other_work_id"] == copy and mine["this_first"] is True
    assert mine["can_dispute"] is True
    assert disputes.matches_for(inst, people["carla"], original) == []
    assert disputes.matches_for(inst, None, original) == []
    [theirs] = disputes.matches_for(inst, people["bruno"], copy)
    assert theirs["this_first"] is False
