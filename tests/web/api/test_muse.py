"""The muse's API (issue #8, items 5 and 6): a JSON answer or a stream of server-sent events,
problem documents for every refusal (never a 500), the list of suggestions, the draft's
switches, and the muse in the authorship report. On SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hallmark.services.instance import Instance
from hallmark.web.app import create_app
from tests.conftest import make_instance, reset_postgres
from tests.muse.fake_backend import CONTINUATION, QUESTIONS, registered
from tests.web.conftest import HTML, TestClient, Web, _web, signup

API = "/api/v1"
OPENING = "The tide went out at noon, and the gulls came down to argue over what it left."
STREAM = {"Accept": "text/event-stream"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def web(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Web]:
    """The web app with the ``fake`` muse, creators alice and bruno, admin root."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
    with registered():
        inst = make_instance(tmp_path / "home", database_url=url, muse_backend="fake")
        try:
            yield from _web(inst)
        finally:
            inst.close()


def with_backend(web: Web, name: str) -> TestClient:
    """A client of an app over the same database whose muse is ``name``."""
    settings = web.inst.settings.model_copy(update={"muse_backend": name})
    inst: Instance = dataclasses.replace(web.inst, settings=settings)
    return TestClient(create_app(settings, instance=inst))


def draft(web: Web, handle: str = "alice", text: str = OPENING) -> str:
    created = web.client.post(f"{API}/drafts", json={"title": "Tide"}, headers=web.auth(handle))
    draft_id: str = created.json()["draft_id"]
    event = {"seq": 0, "t": 1_764_331_200_000, "op": "insert", "pos": 0, "text": text}
    sent = web.client.post(
        f"{API}/drafts/{draft_id}/events", json={"events": [event]}, headers=web.auth(handle)
    )
    assert sent.status_code == 200, sent.text
    return draft_id


def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of a stream, as (name, data) pairs."""
    found = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((lines["event"], json.loads(lines["data"])))
    return found


def assert_problem(response: httpx.Response, status: int, detail: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status and detail in doc["detail"]
    return doc


def test_a_json_request_gets_the_whole_suggestion(web: Web) -> None:
    draft_id = draft(web)
    answer = web.client.post(
        f"{API}/drafts/{draft_id}/muse", json={"mode": "questions"}, headers=web.auth("alice")
    )
    assert answer.status_code == 200, answer.text
    (suggestion,) = answer.json()["suggestions"]
    assert suggestion["mode"] == "questions" and suggestion["text"] == QUESTIONS
    assert suggestion["id"].startswith("m_") and suggestion["status"] == "complete"
    assert (suggestion["backend"], suggestion["model"]) == ("fake", "fake-muse-1")


def test_an_event_stream_request_gets_the_suggestion_as_it_is_written(web: Web) -> None:
    draft_id = draft(web)
    answer = web.client.post(
        f"{API}/drafts/{draft_id}/muse",
        json={"mode": "continue", "position": 10},
        headers={**web.auth("alice"), **STREAM},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-store"
    found = events(answer)
    names = [name for name, _ in found]
    assert names[0] == "start" and names[-1] == "suggestion"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    start, final = found[0][1], found[-1][1]
    assert start["id"] == final["id"] and start["mode"] == "continue"
    assert "".join(data["text"] for name, data in found if name == "token") == CONTINUATION
    assert final["text"] == CONTINUATION and final["status"] == "complete"
    listed = web.client.get(f"{API}/drafts/{draft_id}/muse", headers=web.auth("alice")).json()
    assert [s["id"] for s in listed["suggestions"]] == [final["id"]]


@pytest.mark.parametrize("accept", [{}, STREAM])
def test_refusals_are_problem_documents_whatever_the_accept(
    web: Web, accept: dict[str, str]
) -> None:
    draft_id = draft(web)
    url = f"{API}/drafts/{draft_id}/muse"
    headers = {**web.auth("alice"), **accept}
    doc = assert_problem(
        web.client.post(url, json={"mode": "sonnet"}, headers=headers), 400, "not a muse mode"
    )
    assert doc["hint"] == "Use one of: questions, ideas, critique, continue."
    assert_problem(web.client.post(url, json={}, headers=headers), 400, "'mode' is required")
    assert_problem(
        web.client.post(url, json={"mode": "ideas"}, headers={**web.auth("bruno"), **accept}),
        404,
        "no draft",
    )
    assert web.client.post(url, json={"mode": "ideas"}, headers=accept).status_code == 401
    off = web.client.post(f"{url}/settings", json={"continue": False}, headers=web.auth("alice"))
    assert off.json() == {"continue": False, "personal": True}
    assert_problem(
        web.client.post(url, json={"mode": "continue"}, headers=headers),
        409,
        "Prose from the muse is switched off for this draft.",
    )
    with with_backend(web, "fake-down") as down:
        doc = assert_problem(
            down.post(url, json={"mode": "ideas"}, headers=headers),
            503,
            "The muse's model server cannot be reached.",
        )
        assert doc["title"] == "Muse unavailable"
    with with_backend(web, "") as off_client:
        assert_problem(off_client.post(url, json={"mode": "ideas"}, headers=headers), 503, "off")
    with with_backend(web, "openai") as unset:
        assert_problem(
            unset.post(url, json={"mode": "ideas"}, headers=headers), 503, "not set up correctly"
        )


def test_suggestions_are_limited_per_user(web: Web) -> None:
    settings = web.inst.settings.model_copy(update={"muse_suggestions_per_minute": 2})
    inst: Instance = dataclasses.replace(web.inst, settings=settings)
    alices, brunos = draft(web, "alice"), draft(web, "bruno")
    ask = {"mode": "questions"}
    with TestClient(create_app(settings, instance=inst)) as client:
        # Requests refused for what they ask (no such draft, too long a selection) cost nothing.
        missing = client.post(f"{API}/drafts/d_nosuch/muse", json=ask, headers=web.auth("alice"))
        assert missing.status_code == 404, missing.text
        too_long = {"mode": "critique", "selection": "x" * 100_000}
        refused = client.post(
            f"{API}/drafts/{alices}/muse", json=too_long, headers=web.auth("alice")
        )
        assert refused.status_code == 413, refused.text
        for _ in range(2):
            answer = client.post(f"{API}/drafts/{alices}/muse", json=ask, headers=web.auth("alice"))
            assert answer.status_code == 200, answer.text
        # Alice's budget is spent, whichever draft and whichever Accept she asks with.
        for headers in ({}, STREAM):
            refused = client.post(
                f"{API}/drafts/{alices}/muse", json=ask, headers={**web.auth("alice"), **headers}
            )
            doc = assert_problem(refused, 429, "asked the muse for suggestions too often")
            seconds = int(refused.headers["retry-after"])
            assert 1 <= seconds <= 30 and doc["retry_after"] == seconds
        # Bruno's is his own.
        answer = client.post(f"{API}/drafts/{brunos}/muse", json=ask, headers=web.auth("bruno"))
        assert answer.status_code == 200, answer.text
    # A refused ask ran nothing and stored nothing.
    listed = web.client.get(f"{API}/drafts/{alices}/muse", headers=web.auth("alice")).json()
    assert len(listed["suggestions"]) == 2


def test_a_backend_that_breaks_off_midway_ends_the_stream_with_an_error(web: Web) -> None:
    draft_id = draft(web)
    with with_backend(web, "fake-broken") as broken:
        answer = broken.post(
            f"{API}/drafts/{draft_id}/muse",
            json={"mode": "continue"},
            headers={**web.auth("alice"), **STREAM},
        )
        assert answer.status_code == 200
        found = events(answer)
        assert [name for name, _ in found] == ["start", "token", "token", "token", "error"]
        problem = found[-1][1]
        assert problem["status"] == 503 and "cannot be reached" in problem["detail"]
        json_answer = broken.post(
            f"{API}/drafts/{draft_id}/muse", json={"mode": "continue"}, headers=web.auth("alice")
        )
        assert_problem(json_answer, 503, "cannot be reached")
    listed = web.client.get(f"{API}/drafts/{draft_id}/muse", headers=web.auth("alice")).json()
    assert [s["status"] for s in listed["suggestions"]] == ["failed", "failed"]
    assert listed["suggestions"][0]["text"] == " ".join(CONTINUATION.split(" ")[:3])


def test_the_list_switches_and_copies_are_the_creators_alone(web: Web) -> None:
    draft_id = draft(web)
    url = f"{API}/drafts/{draft_id}/muse"
    suggestion = web.client.post(url, json={"mode": "ideas"}, headers=web.auth("alice")).json()[
        "suggestions"
    ][0]
    copied = web.client.post(f"{url}/{suggestion['id']}/copied", headers=web.auth("alice"))
    assert copied.json() == {"id": suggestion["id"], "copies": 1}
    listed = web.client.get(url, headers=web.auth("alice")).json()
    assert listed["settings"] == {"continue": True, "personal": True}
    assert listed["suggestions"][0]["copies"] == 1
    for handle in ("bruno", "root"):
        assert web.client.get(url, headers=web.auth(handle)).status_code == 404
        assert (
            web.client.post(f"{url}/settings", json={"personal": False}, headers=web.auth(handle))
        ).status_code == 404
        assert (
            web.client.post(f"{url}/{suggestion['id']}/copied", headers=web.auth(handle))
        ).status_code == 404
    assert web.client.get(url).status_code == 401
    assert_problem(
        web.client.post(f"{url}/m_nonesuch/copied", headers=web.auth("alice")), 404, "m_nonesuch"
    )


def test_the_editor_page_calls_with_its_session_and_csrf_header(web: Web) -> None:
    assert signup(web.client, "carla").status_code == 303
    page = web.client.get("/write", headers=HTML)
    token = page.text.split('data-csrf="', 1)[1].split('"', 1)[0]
    created = web.client.post(f"{API}/drafts", json={}, headers={"X-CSRF-Token": token})
    url = f"{API}/drafts/{created.json()['draft_id']}/muse"
    refused = web.client.post(url, json={"mode": "questions"})
    assert_problem(refused, 403, "X-CSRF-Token")
    answer = web.client.post(url, json={"mode": "questions"}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and answer.json()["suggestions"][0]["text"] == QUESTIONS


def test_the_authorship_report_lists_the_suggestions(web: Web) -> None:
    draft_id = draft(web)
    url = f"{API}/drafts/{draft_id}/muse"
    prose = web.client.post(url, json={"mode": "continue"}, headers=web.auth("alice")).json()[
        "suggestions"
    ][0]
    inserted = " " + prose["text"]
    event = {
        "seq": 1,
        "t": 1_764_331_202_000,
        "op": "muse",
        "pos": len(OPENING),
        "text": inserted,
        "ref": prose["id"],
    }
    web.client.post(
        f"{API}/drafts/{draft_id}/events", json={"events": [event]}, headers=web.auth("alice")
    )
    submitted = web.client.post(
        f"{API}/drafts/{draft_id}/submit",
        json={"title": "Tide", "declare": "human-made", "text": OPENING + inserted},
        headers=web.auth("alice"),
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["label"] == "ai-assisted"
    work_id = submitted.json()["work_id"]
    report = web.client.get(f"{API}/works/{work_id}/authorship", headers=web.auth("alice"))
    muse = report.json()["muse"]
    assert (muse["offered"], muse["used"]) == (1, 1)
    assert muse["share"] == report.json()["shares"]["muse"] > 0
    assert muse["suggestions"][0]["id"] == prose["id"]
    assert "text" not in muse["suggestions"][0]
