"""Tests for :mod:`hallmark.web.api.drafts`: the editor's HTTP contract (issue #3, item 3).

Covers the round trip (start, batches, resend, read, submit, report, journal) on both
databases, the error answers (400, 404, 409, 413, each a problem document), and the two ways to
sign in: a bearer token, or the browser session with its CSRF token in ``X-CSRF-Token``; a
session without that header is refused on every write.
"""

from __future__ import annotations

from typing import Any

import httpx

from hallmark.core import journal
from hallmark.core.bundle import Bundle
from tests.core.test_journal import Writer, human_like
from tests.web.conftest import HTML, Web, csrf_of, signup

API = "/api/v1"


def start(web: Web, handle: str = "alice", title: str | None = "Harbour") -> str:
    response = web.client.post(f"{API}/drafts", json={"title": title}, headers=web.auth(handle))
    assert response.status_code == 201, response.text
    draft_id: str = response.json()["draft_id"]
    return draft_id


def send(web: Web, draft_id: str, events: list[dict[str, Any]], handle: str = "alice") -> Any:
    return web.client.post(
        f"{API}/drafts/{draft_id}/events", json={"events": events}, headers=web.auth(handle)
    )


def submit(web: Web, draft_id: str, text: str, handle: str = "alice", **fields: Any) -> Any:
    body = {"title": "Harbour", "declare": "human-made", "text": text, **fields}
    return web.client.post(f"{API}/drafts/{draft_id}/submit", json=body, headers=web.auth(handle))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_write_and_submit_round_trip(any_web: Web) -> None:
    web = any_web
    writer = human_like(3, 400)
    created = web.client.post(f"{API}/drafts", json={"title": "Harbour"}, headers=web.auth("alice"))
    assert created.status_code == 201
    assert created.json() == {
        "draft_id": created.json()["draft_id"],
        "title": "Harbour",
        "next_seq": 0,
        "length": 0,
    }
    draft_id = created.json()["draft_id"]
    assert created.headers["location"] == f"{API}/drafts/{draft_id}"

    half = len(writer.events) // 2
    first = send(web, draft_id, writer.events[:half])
    assert first.status_code == 200
    assert set(first.json()) == {"accepted", "next_seq", "length", "head"}
    assert first.json()["accepted"] == half and first.json()["next_seq"] == half
    resent = send(web, draft_id, writer.events[:half])
    assert resent.json() == {**first.json(), "accepted": 0}
    rest = send(web, draft_id, writer.events[half - 3 :])
    assert rest.json()["accepted"] == len(writer.events) - half
    assert rest.json()["length"] == len(writer.text)

    draft = web.client.get(f"{API}/drafts/{draft_id}", headers=web.auth("alice")).json()
    assert draft["text"] == writer.text and draft["status"] == "open"
    assert draft["next_seq"] == len(writer.events) and draft["work_id"] is None
    assert draft["stats"]["shares"]["typed"] == 100.0 and "timeline" not in draft["stats"]
    listed = web.client.get(f"{API}/drafts", headers=web.auth("alice")).json()
    assert [d["draft_id"] for d in listed] == [draft_id] and "text" not in listed[0]

    response = submit(web, draft_id, writer.text, report_public=False)
    assert response.status_code == 201, response.text
    body = response.json()
    for key in ("work_id", "certificate_id", "label", "level", "log_index", "ai_share", "bundle"):
        assert key in body
    assert (body["label"], body["level"], body["ai_share"]) == ("human-made", "process-verified", 0)
    assert body["review"] == {"status": "none", "reasons": []}
    root = journal.journal_root(writer.events, draft_id=draft_id).hex()
    assert body["authorship"]["journal_root"] == root == draft["head"]
    assert response.headers["location"] == f"{API}/works/{body['work_id']}"
    bundle = Bundle.from_json(body["bundle"])
    assert bundle.certificate.body["authorship"]["journal_root"] == root
    work_id = body["work_id"]

    # The report is private until the creator makes it public; the journal stays private.
    assert web.client.get(f"{API}/works/{work_id}/authorship").status_code == 404
    own = web.client.get(f"{API}/works/{work_id}/authorship", headers=web.auth("alice"))
    report = own.json()
    assert set(report["shares"]) == {"typed", "pasted", "muse", "imported"}
    assert report["shares"]["typed"] == 100.0 and report["flags"] == []
    for key in (
        "counts",
        "ai_share",
        "deleted_chars",
        "longest_paste",
        "active_seconds",
        "sessions",
        "keystrokes",
        "timeline",
        "journal_root",
        "public",
    ):
        assert key in report, key
    assert report["public"] is False and report["journal_root"] == root
    assert report["deleted_chars"] > 0 and report["timeline"][-1]["typed"] == len(writer.text)

    made_public = web.client.post(
        f"{API}/works/{work_id}/authorship/visibility",
        json={"public": True},
        headers=web.auth("alice"),
    )
    assert made_public.json() == {"work_id": work_id, "public": True}
    assert web.client.get(f"{API}/works/{work_id}/authorship").json()["public"] is True

    raw = web.client.get(f"{API}/works/{work_id}/journal", headers=web.auth("alice"))
    assert raw.json()["events"] == writer.events and raw.json()["journal_root"] == root
    problem(web.client.get(f"{API}/works/{work_id}/journal", headers=web.auth("bruno")), 404)
    problem(web.client.get(f"{API}/works/{work_id}/journal"), 401)

    problem(send(web, draft_id, writer.events[-1:]), 409)


def test_a_mismatch_is_a_409_and_registers_nothing(any_web: Web) -> None:
    web = any_web
    writer = Writer()
    writer.type("The tide goes out.")
    draft_id = start(web)
    send(web, draft_id, writer.events)
    body = problem(submit(web, draft_id, "The tide goes out!"), 409)
    assert "first differ at character 17" in body["detail"]
    assert web.work_count() == 0


def test_ai_text_and_flags_show_in_the_answer(web: Web) -> None:
    writer = Writer()
    writer.type("Mine. ", dt=250)
    writer.insert("Pasted from a chat window. " * 50, op="paste", src="ai")
    writer.insert("And from somewhere else entirely. " * 20, op="paste")
    draft_id = start(web)
    send(web, draft_id, writer.events)
    body = submit(web, draft_id, writer.text).json()
    assert body["label"] == "ai-assisted" and body["level"] == "declared"
    assert body["ai_share"] == body["authorship"]["ai_share"] > 0
    assert body["review"]["status"] == "pending"
    assert [flag["code"] for flag in body["review"]["reasons"]] == ["large-paste"]
    assert body["authorship"]["flags"] == body["review"]["reasons"]


def test_bad_batches_are_problems_naming_the_event(web: Web) -> None:
    writer = Writer()
    writer.type("abc")
    draft_id = start(web)
    body = problem(send(web, draft_id, writer.events[1:]), 400)
    assert body["detail"] == "Event 1: skips events; the next event is 0."
    send(web, draft_id, writer.events)
    changed = {**writer.events[2], "text": "X"}
    body = problem(send(web, draft_id, [changed]), 409)
    assert body["detail"] == "Event 2 differs from the one already recorded."
    assert "seq 3" in body["hint"]
    many = Writer()
    many.type("y" * 5_001, dt=200)
    body = problem(send(web, draft_id, many.events), 413)
    assert "at most 5,000" in body["detail"]
    body = problem(
        web.client.post(
            f"{API}/drafts/{draft_id}/events", json={"evts": []}, headers=web.auth("alice")
        ),
        400,
    )
    assert body["errors"][0]["field"] == "events"


def test_other_creators_see_no_draft(web: Web) -> None:
    writer = Writer()
    writer.type("mine")
    draft_id = start(web)
    send(web, draft_id, writer.events)
    more = Writer()
    more.type("mine!")
    for response in (
        web.client.get(f"{API}/drafts/{draft_id}", headers=web.auth("bruno")),
        send(web, draft_id, more.events[4:], handle="bruno"),
        submit(web, draft_id, "mine", handle="bruno"),
    ):
        assert problem(response, 404)["detail"] == f"There is no draft '{draft_id}'."
    assert web.client.get(f"{API}/drafts", headers=web.auth("bruno")).json() == []


def test_the_editor_routes_need_a_sign_in(web: Web) -> None:
    problem(web.client.post(f"{API}/drafts", json={}), 401)
    problem(web.client.get(f"{API}/drafts"), 401)
    wrong = {"Authorization": "Bearer hm_not-a-real-token"}
    problem(web.client.post(f"{API}/drafts", json={}, headers=wrong), 401)


def test_the_browser_session_works_with_its_csrf_header(web: Web) -> None:
    client = web.client
    assert signup(client, "carla").status_code == 303
    token = csrf_of(client.get("/", headers=HTML))
    header = {"X-CSRF-Token": token}

    # Without the header, or with another token, every write is refused.
    body = problem(client.post(f"{API}/drafts", json={"title": "x"}), 403)
    assert "X-CSRF-Token" in body["detail"]
    problem(client.post(f"{API}/drafts", json={}, headers={"X-CSRF-Token": "forged"}), 403)

    created = client.post(f"{API}/drafts", json={"title": None}, headers=header)
    assert created.status_code == 201 and created.json()["title"] == ""
    draft_id = created.json()["draft_id"]
    writer = Writer()
    writer.type("By hand.")
    events = {"events": writer.events}
    problem(client.post(f"{API}/drafts/{draft_id}/events", json=events), 403)
    accepted = client.post(f"{API}/drafts/{draft_id}/events", json=events, headers=header)
    assert accepted.json()["accepted"] == len(writer.events)
    # Reads need no header: another site cannot read the answer without CORS.
    assert client.get(f"{API}/drafts/{draft_id}").json()["text"] == "By hand."
    submit_body = {"title": "By hand", "declare": "human-made", "text": "By hand."}
    problem(client.post(f"{API}/drafts/{draft_id}/submit", json=submit_body), 403)
    done = client.post(f"{API}/drafts/{draft_id}/submit", json=submit_body, headers=header)
    assert done.status_code == 201, done.text
    work_id = done.json()["work_id"]
    visibility = f"{API}/works/{work_id}/authorship/visibility"
    problem(client.post(visibility, json={"public": True}), 403)
    assert client.post(visibility, json={"public": True}, headers=header).json()["public"]

    # The session is not an API token for the other routes (issue #2): those ignore it.
    problem(client.post(f"{API}/works", files={"file": ("a.txt", b"x")}, headers=header), 401)


def test_the_openapi_document_lists_the_editor_routes(web: Web) -> None:
    paths = web.client.get(f"{API}/openapi.json").json()["paths"]
    for path in (
        f"{API}/drafts",
        f"{API}/drafts/{{draft_id}}",
        f"{API}/drafts/{{draft_id}}/events",
        f"{API}/drafts/{{draft_id}}/submit",
        f"{API}/works/{{work_id}}/authorship",
        f"{API}/works/{{work_id}}/authorship/visibility",
        f"{API}/works/{{work_id}}/journal",
    ):
        assert path in paths, path
