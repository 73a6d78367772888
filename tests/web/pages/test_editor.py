"""Tests for the editor and authorship report pages (:mod:`hallmark.web.pages.editor` and
:mod:`hallmark.web.pages.report`): who may open them, escaping, and public or private reports.

Works are written through the drafts API the way the editor's script does it: with the browser
session's cookie and the page's CSRF token in the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from tests.web.conftest import HTML, Web, csrf_of, signup

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

T0 = 1_795_000_000_000
TEXT = "Low tide <b>at noon</b> & the gulls."


def typed(text: str, *, start: int = 0, seq: int = 0, t: int = T0) -> list[dict[str, Any]]:
    """One insert per character, 150 ms apart, as the editor records typing."""
    return [
        {
            "seq": seq + i,
            "t": t + 150 * i,
            "op": "insert",
            "pos": start + i,
            "text": c,
            "src": "key",
        }
        for i, c in enumerate(text)
    ]


def page_csrf(client: TestClient) -> str:
    page = client.get("/write", headers=HTML)
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found, "the editor page hands its script no CSRF token"
    return found.group(1)


def write_work(
    client: TestClient,
    *,
    title: str = "Harbour",
    text: str = TEXT,
    events: list[dict[str, Any]] | None = None,
    **submit: Any,
) -> dict[str, Any]:
    """Write ``text`` in a draft through the API and submit it; return the submission."""
    headers = {"X-CSRF-Token": page_csrf(client)}
    created = client.post("/api/v1/drafts", json={}, headers=headers)
    assert created.status_code == 201, created.text
    draft_id = created.json()["draft_id"]
    sent = client.post(
        f"/api/v1/drafts/{draft_id}/events",
        json={"events": events if events is not None else typed(text)},
        headers=headers,
    )
    assert sent.status_code == 200, sent.text
    body = {"title": title, "declare": "human-made", "text": text, **submit}
    done = client.post(f"/api/v1/drafts/{draft_id}/submit", json=body, headers=headers)
    assert done.status_code == 201, done.text
    result: dict[str, Any] = done.json()
    result["draft_id"] = draft_id
    return result


def other_client(web: Web, handle: str | None = None) -> TestClient:
    """A second browser, signed up as ``handle`` or anonymous."""
    client = TestClient(web.client.app)
    if handle is not None:
        assert signup(client, handle).status_code == 303
    return client


def set_public(client: TestClient, work_id: str, public: bool) -> httpx.Response:
    token = csrf_of(client.get(f"/works/{work_id}/authorship", headers=HTML))
    response: httpx.Response = client.post(
        f"/works/{work_id}/authorship/visibility",
        headers=HTML,
        data={"csrf_token": token, "public": "1" if public else "0"},
        follow_redirects=False,
    )
    return response


# The editor page -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/write", "/write/d_abc"])
def test_the_editor_sends_anonymous_visitors_to_log_in(web: Web, path: str) -> None:
    response = web.client.get(path, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")


def test_the_editor_page_hands_its_script_what_it_needs_without_inline_code(web: Web) -> None:
    signup(web.client, "clara")
    page = web.client.get("/write", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'data-csrf="' in text and 'data-user="clara"' in text and 'data-draft-id=""' in text
    assert '<script src="/static/editor.js" defer></script>' in text
    # The CSP forbids inline script and style: every script has a src, nothing has style="".
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert "style=" not in text
    assert '<a href="/write" aria-current="page">Write</a>' in text
    assert "No open drafts yet" in text
    assert "Finish and certify" in text


def test_the_csrf_token_in_the_page_is_the_one_the_api_wants(web: Web) -> None:
    signup(web.client, "clara")
    refused = web.client.post("/api/v1/drafts", json={}, headers={"X-CSRF-Token": "forged"})
    assert refused.status_code == 403
    created = web.client.post(
        "/api/v1/drafts", json={}, headers={"X-CSRF-Token": page_csrf(web.client)}
    )
    assert created.status_code == 201


def test_open_drafts_are_listed_escaped_and_resumable(web: Web) -> None:
    signup(web.client, "clara")
    headers = {"X-CSRF-Token": page_csrf(web.client)}
    draft_id = web.client.post(
        "/api/v1/drafts", json={"title": "<i>Tide</i>"}, headers=headers
    ).json()["draft_id"]
    web.client.post(
        f"/api/v1/drafts/{draft_id}/events", json={"events": typed("Hello")}, headers=headers
    )
    listing = web.client.get("/write", headers=HTML).text
    assert f'<a href="/write/{draft_id}">&lt;i&gt;Tide&lt;/i&gt;</a>' in listing
    assert "<i>Tide</i>" not in listing
    assert "5 characters" in listing

    resumed = web.client.get(f"/write/{draft_id}", headers=HTML)
    assert resumed.status_code == 200
    assert f'data-draft-id="{draft_id}"' in resumed.text
    assert 'value="&lt;i&gt;Tide&lt;/i&gt;"' in resumed.text
    assert '<li aria-current="true">' in resumed.text


def test_someone_elses_draft_is_not_found(web: Web) -> None:
    signup(web.client, "clara")
    draft_id = web.client.post(
        "/api/v1/drafts", json={}, headers={"X-CSRF-Token": page_csrf(web.client)}
    ).json()["draft_id"]
    dora = other_client(web, "dora")
    response = dora.get(f"/write/{draft_id}", headers=HTML)
    assert response.status_code == 404
    assert draft_id not in dora.get("/write", headers=HTML).text


def test_a_submitted_draft_leads_to_its_work(web: Web) -> None:
    signup(web.client, "clara")
    result = write_work(web.client)
    response = web.client.get(f"/write/{result['draft_id']}", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/works/{result['work_id']}"
    assert result["draft_id"] not in web.client.get("/write", headers=HTML).text


# The authorship report -----------------------------------------------------------------------


def test_the_owner_sees_the_report_with_charts_tables_and_the_player(web: Web) -> None:
    signup(web.client, "clara")
    paste = "A pasted line of tide times."
    pasted = {"seq": len(TEXT), "t": T0 + 60_000, "op": "paste", "pos": len(TEXT), "text": paste}
    events = [*typed(TEXT), pasted]
    result = write_work(web.client, text=TEXT + paste, events=events)
    work_id = result["work_id"]
    page = web.client.get(f"/works/{work_id}/authorship", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert text.count('<svg role="img"') == 2
    share = round(100 * len(paste) / len(TEXT + paste), 2)
    assert f'<tr><th scope="row">Pasted</th><td>{len(paste)}</td><td>{share:g}%</td></tr>' in text
    assert "The timeline as a table" in text
    assert result["authorship"]["journal_root"] in text
    assert "Active writing time" in text and "Longest paste" in text
    assert f'data-journal-url="/api/v1/works/{work_id}/journal"' in text
    assert '<script src="/static/report.js" defer></script>' in text
    assert "Make the report public" in text and "private report" in text
    for flag in result["authorship"]["flags"]:
        assert flag["code"] in text
    # The work page links the owner to the report.
    assert f'href="/works/{work_id}/authorship"' in web.client.get(f"/works/{work_id}").text


def test_the_report_escapes_what_people_wrote(web: Web) -> None:
    signup(web.client, "clara")
    result = write_work(web.client, title="<script>alert(1)</script>")
    page = web.client.get(f"/works/{result['work_id']}/authorship", headers=HTML).text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The report shows figures, not the text; the SVG charts hold numbers and fixed names only.
    assert "<b>at noon</b>" not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)


def test_a_private_report_is_not_found_for_anyone_else(web: Web) -> None:
    signup(web.client, "clara")
    work_id = write_work(web.client)["work_id"]
    for client in (other_client(web), other_client(web, "dora")):
        response = client.get(f"/works/{work_id}/authorship", headers=HTML)
        assert response.status_code == 404
        # The work itself is public; only its report is private.
        assert client.get(f"/works/{work_id}", headers=HTML).status_code == 200


def test_a_public_report_shows_the_hash_but_not_the_journal(web: Web) -> None:
    signup(web.client, "clara")
    result = write_work(web.client)
    work_id = result["work_id"]
    made = set_public(web.client, work_id, True)
    assert made.status_code == 303
    assert made.headers["location"] == f"/works/{work_id}/authorship"
    owner_page = web.client.get(f"/works/{work_id}/authorship", headers=HTML).text
    assert "now public" in owner_page and "Make the report private" in owner_page

    for client in (other_client(web), other_client(web, "dora")):
        page = client.get(f"/works/{work_id}/authorship", headers=HTML)
        assert page.status_code == 200
        assert result["authorship"]["journal_root"] in page.text
        assert "is private to the writer" in page.text
        assert 'id="replay"' not in page.text and "report.js" not in page.text
        assert "Make the report" not in page.text
        journal = client.get(f"/api/v1/works/{work_id}/journal")
        assert journal.status_code in (401, 404)

    assert set_public(web.client, work_id, False).status_code == 303
    assert other_client(web).get(f"/works/{work_id}/authorship").status_code == 404


def test_a_public_report_of_a_private_work_stays_hidden(web: Web) -> None:
    signup(web.client, "clara")
    work_id = write_work(web.client, visibility="private", report_public=True)["work_id"]
    assert web.client.get(f"/works/{work_id}/authorship", headers=HTML).status_code == 200
    assert other_client(web, "dora").get(f"/works/{work_id}/authorship").status_code == 404


def test_only_the_creator_changes_the_reports_visibility(web: Web) -> None:
    signup(web.client, "clara")
    work_id = write_work(web.client, report_public=True)["work_id"]
    dora = other_client(web, "dora")
    token = csrf_of(dora.get("/write", headers=HTML))
    response = dora.post(
        f"/works/{work_id}/authorship/visibility",
        headers=HTML,
        data={"csrf_token": token, "public": "0"},
    )
    assert response.status_code == 403
    assert dora.get(f"/works/{work_id}/authorship").status_code == 200


def test_changing_the_reports_visibility_needs_the_csrf_token(web: Web) -> None:
    signup(web.client, "clara")
    work_id = write_work(web.client)["work_id"]
    response = web.client.post(
        f"/works/{work_id}/authorship/visibility", headers=HTML, data={"public": "1"}
    )
    assert response.status_code == 403
    assert other_client(web).get(f"/works/{work_id}/authorship").status_code == 404


def test_a_work_not_written_in_the_editor_has_no_report(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/works/{work_id}/authorship", headers=HTML)
    assert response.status_code == 404
    assert f'href="/works/{work_id}/authorship"' not in web.client.get(f"/works/{work_id}").text
