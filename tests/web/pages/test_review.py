"""The review pages (issue #4, item 5): queue, evidence, decisions, the appeal on the work page,
and who may see what (anonymous, creator, other creator, reviewer, admin)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from hallmark.services import analysis
from tests.analysis.keyword_plugin import AI_TEXT, registered
from tests.web.conftest import HTML, PASSWORD, Web, csrf_of, login


@pytest.fixture
def rev(any_web: Web) -> Iterator[Web]:
    inst = any_web.inst
    inst.settings = inst.settings.model_copy(update={"detectors": ["keyword"]})
    for handle, role in (("pia", "creator"), ("otto", "creator"), ("rita", "reviewer")):
        any_web.add_person(handle, role=role, password=PASSWORD)
    with registered():
        yield any_web
        analysis.wait_idle(inst)


def browser(web: Web, handle: str | None) -> TestClient:
    client = TestClient(web.client.app)
    if handle:
        assert login(client, handle).status_code == 303
    return client


def pending_work(web: Web, handle: str = "pia") -> str:
    work_id = str(web.register(handle, AI_TEXT, title="Gull <i>song</i>")["work_id"])
    analysis.wait_idle(web.inst)
    return work_id


def post_form(client: TestClient, page: str, action: str, **fields: str) -> httpx.Response:
    token = csrf_of(client.get(page, headers=HTML))
    return client.post(
        action, headers=HTML, data={"csrf_token": token, **fields}, follow_redirects=False
    )


def test_anonymous_visitors_are_asked_to_log_in(rev: Web) -> None:
    work_id = pending_work(rev)
    client = browser(rev, None)
    for path in ("/review", f"/review/{work_id}"):
        answer = client.get(path, headers=HTML, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


@pytest.mark.parametrize("handle", ["pia", "otto"])
def test_creators_get_the_403_page(rev: Web, handle: str) -> None:
    work_id = pending_work(rev)
    client = browser(rev, handle)
    for path in ("/review", f"/review/{work_id}"):
        answer = client.get(path, headers=HTML)
        assert answer.status_code == 403 and "text/html" in answer.headers["content-type"]
    assert 'href="/review"' not in client.get("/", headers=HTML).text
    refused = post_form(client, "/", f"/review/{work_id}", decision="approved", reason="")
    assert refused.status_code == 403


@pytest.mark.parametrize("handle", ["rita", "root"])
def test_reviewers_and_admins_see_the_queue_and_the_evidence(rev: Web, handle: str) -> None:
    if handle == "root":
        rev.add_person("boss", role="admin", password=PASSWORD)
        handle = "boss"
    work_id = pending_work(rev)
    client = browser(rev, handle)
    queue = client.get("/review", headers=HTML)
    assert queue.status_code == 200
    assert f'href="/review/{work_id}"' in queue.text
    assert "Gull &lt;i&gt;song&lt;/i&gt;" in queue.text
    assert "chatbots write about themselves" in queue.text
    assert 'href="/review"' in client.get("/", headers=HTML).text
    page = client.get(f"/review/{work_id}", headers=HTML)
    assert page.status_code == 200
    for seen in ("Declaration", "Automated findings", "keyword", "As an AI language model"):
        assert seen in page.text
    assert 'name="csrf_token"' in page.text and 'name="decision"' in page.text


def test_a_form_without_the_csrf_token_is_refused(rev: Web) -> None:
    work_id = pending_work(rev)
    client = browser(rev, "rita")
    answer = client.post(
        f"/review/{work_id}", headers=HTML, data={"decision": "approved"}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_reject_then_the_creator_appeals_once_then_approve(rev: Web) -> None:
    work_id = pending_work(rev)
    rita = browser(rev, "rita")
    page = f"/review/{work_id}"
    missing = post_form(rita, page, page, decision="rejected", reason="")
    assert missing.status_code == 400 and "needs a reason" in missing.text
    done = post_form(rita, page, page, decision="rejected", reason="Please add your drafts.")
    assert done.status_code == 303 and done.headers["location"] == "/review"

    pia = browser(rev, "pia")
    work_page = pia.get(f"/works/{work_id}", headers=HTML).text
    assert "Please add your drafts." in work_page
    assert f'action="/works/{work_id}/appeal"' in work_page
    otto_view = browser(rev, "otto").get(f"/works/{work_id}", headers=HTML).text
    assert "Please add your drafts." not in otto_view and "/appeal" not in otto_view

    sent = post_form(
        pia, f"/works/{work_id}", f"/works/{work_id}/appeal", message="They are in my notebook."
    )
    assert sent.status_code == 303
    after = pia.get(f"/works/{work_id}", headers=HTML).text
    assert "appeal is in the review queue" in after and 'name="message"' not in after

    queue = rita.get("/review", headers=HTML).text
    assert "appealed" in queue
    assert "They are in my notebook." in rita.get(page, headers=HTML).text
    approved = post_form(rita, page, page, decision="approved", reason="Notebook seen.")
    assert approved.status_code == 303
    final = pia.get(f"/works/{work_id}", headers=HTML).text
    assert "Reviewed" in final or "reviewed" in final
    history = rita.get(page, headers=HTML).text
    assert "Please add your drafts." in history and "Notebook seen." in history


def test_a_reviewer_sees_no_decision_form_on_their_own_work(rev: Web) -> None:
    work_id = pending_work(rev, "rita")
    page = browser(rev, "rita").get(f"/review/{work_id}", headers=HTML).text
    assert "your own work" in page and 'name="decision"' not in page


def test_the_work_page_shows_the_analysis_status(rev: Web) -> None:
    work_id = pending_work(rev)
    text = browser(rev, None).get(f"/works/{work_id}", headers=HTML).text
    assert "Automated analysis" in text and "Analysis done" in text
