"""The review and analysis API (issue #4): queue, decisions, the one appeal, and who may call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hallmark.services import analysis
from tests.analysis.keyword_plugin import AI_TEXT, HUMAN_TEXT, registered
from tests.web.conftest import Web


@pytest.fixture
def rev(any_web: Web) -> Iterator[Web]:
    """The web app with the keyword detector, and rita, a reviewer."""
    inst = any_web.inst
    inst.settings = inst.settings.model_copy(update={"detectors": ["keyword"]})
    any_web.add_person("rita", role="reviewer")
    with registered():
        yield any_web
        analysis.wait_idle(inst)


def pending_work(web: Web) -> str:
    work_id = str(web.register("alice", AI_TEXT)["work_id"])
    analysis.wait_idle(web.inst)
    return work_id


def test_an_upload_is_analysed_in_the_background(rev: Web) -> None:
    work_id = str(rev.register("alice", HUMAN_TEXT)["work_id"])
    analysis.wait_idle(rev.inst)
    got = rev.client.get(f"/api/v1/works/{work_id}/analysis").json()
    assert got["analysis"]["status"] == "done"
    assert got["analysis"]["findings"][0]["detector"] == "keyword"
    assert got["review_status"] == "none"
    assert rev.client.get(f"/api/v1/works/{work_id}").json()["level"] == "analyzed"


def test_a_contradicted_upload_waits_in_the_queue(rev: Web) -> None:
    work_id = pending_work(rev)
    got = rev.client.get(f"/api/v1/works/{work_id}/analysis", headers=rev.auth("alice")).json()
    assert got["review_status"] == "pending"
    assert got["review_reasons"][0]["code"] == "detector:keyword"
    queue = rev.client.get("/api/v1/review/queue", headers=rev.auth("rita"))
    assert queue.status_code == 200
    assert [w["work_id"] for w in queue.json()] == [work_id]


@pytest.mark.parametrize(("handle", "status"), [(None, 401), ("alice", 403), ("bruno", 403)])
def test_only_reviewers_and_admins_read_the_queue(
    rev: Web, handle: str | None, status: int
) -> None:
    work_id = pending_work(rev)
    headers = rev.auth(handle) if handle else {}
    for path in ("/api/v1/review/queue", f"/api/v1/review/{work_id}"):
        answer = rev.client.get(path, headers=headers)
        assert answer.status_code == status
        assert answer.headers["content-type"].startswith("application/problem+json")
    decided = rev.client.post(
        f"/api/v1/review/{work_id}", headers=headers, json={"decision": "approved"}
    )
    assert decided.status_code == status
    assert rev.client.get("/api/v1/review/queue", headers=rev.auth("root")).status_code == 200


def test_reject_appeal_once_then_approve(rev: Web) -> None:
    work_id = pending_work(rev)
    url = f"/api/v1/review/{work_id}"
    no_reason = rev.client.post(url, headers=rev.auth("rita"), json={"decision": "rejected"})
    assert no_reason.status_code == 400
    rejected = rev.client.post(
        url, headers=rev.auth("rita"), json={"decision": "rejected", "reason": "Show drafts."}
    )
    assert rejected.status_code == 200 and rejected.json()["decision"] == "rejected"

    appeal = f"/api/v1/works/{work_id}/appeal"
    assert rev.client.post(appeal, json={"message": "x"}).status_code == 401
    assert (
        rev.client.post(appeal, headers=rev.auth("bruno"), json={"message": "x"}).status_code == 403
    )
    sent = rev.client.post(appeal, headers=rev.auth("alice"), json={"message": "My notes."})
    assert sent.status_code == 201 and sent.json()["review_status"] == "appealed"
    again = rev.client.post(appeal, headers=rev.auth("alice"), json={"message": "Again."})
    assert again.status_code == 409

    [queued] = rev.client.get("/api/v1/review/queue", headers=rev.auth("root")).json()
    assert queued["review_status"] == "appealed"
    approved = rev.client.post(url, headers=rev.auth("root"), json={"decision": "approved"})
    assert approved.status_code == 200
    work = rev.client.get(f"/api/v1/works/{work_id}").json()
    assert work["level"] == "reviewed"
    assert work["certificate_id"] == approved.json()["certificate_id"]
    evidence = rev.client.get(url, headers=rev.auth("rita")).json()
    assert [r["decision"] for r in evidence["review"]["reviews"]] == ["rejected", "approved"]


def test_a_reviewer_cannot_decide_their_own_work(rev: Web) -> None:
    work_id = str(rev.register("rita", AI_TEXT)["work_id"])
    analysis.wait_idle(rev.inst)
    own = rev.client.post(
        f"/api/v1/review/{work_id}", headers=rev.auth("rita"), json={"decision": "approved"}
    )
    assert own.status_code == 403


def test_a_private_work_analysis_is_not_found_for_others(rev: Web) -> None:
    work_id = str(rev.register("alice", HUMAN_TEXT, visibility="private")["work_id"])
    analysis.wait_idle(rev.inst)
    assert rev.client.get(f"/api/v1/works/{work_id}/analysis").status_code == 404
    mine = rev.client.get(f"/api/v1/works/{work_id}/analysis", headers=rev.auth("alice"))
    assert mine.status_code == 200
