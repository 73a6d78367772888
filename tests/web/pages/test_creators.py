"""Tests for :mod:`hallmark.web.pages.creators`: a creator's public page (issue #7, item 3)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from hallmark.services import accounts
from tests.web.conftest import HTML, PASSWORD, Web, csrf_of, login


def test_profile_counts_and_works(any_web: Web) -> None:
    with any_web.inst.db.session() as session:
        alice = accounts.get_user(session, "alice")
        alice.display_name = "Alice <Quill>"
        alice.consent_default = "allowed"
    first = any_web.register("alice", title="Dune")["work_id"]
    second = any_web.register(
        "alice", b"A sketch with help.\n", title="Sketch", declare="ai-assisted", ai_share="25"
    )["work_id"]
    any_web.register("alice", b"Kept to myself.\n", title="Diary", visibility="private")
    any_web.register("bruno", b"Not hers.\n", title="Elsewhere")
    page = any_web.client.get("/creators/alice", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert '<h1 id="creator-heading">Alice &lt;Quill&gt;</h1>' in text
    assert "@alice · joined" in text
    assert "2 public works." in text
    assert re.search(r'label=human-made">Human-made</a></th><td>1</td>', text)
    assert re.search(r'label=ai-assisted">AI-assisted</a></th><td>1</td>', text)
    assert re.search(r'level=declared">Declared</a></th><td>2</td>', text)
    assert "<strong>Allowed</strong>" in text
    assert re.findall(r'<article aria-labelledby="card-(w_[0-9a-z]+)">', text) == [second, first]
    assert "Diary" not in text and "Elsewhere" not in text
    # Every label by default; a label filter narrows, and its links keep it.
    narrowed = any_web.client.get("/creators/alice?label=human-made", headers=HTML).text
    assert "Sketch" not in narrowed and "Dune" in narrowed
    assert "This is your public page" not in text


def test_an_unknown_creator_is_a_404_page(web: Web) -> None:
    page = web.client.get("/creators/nobody-here", headers=HTML)
    assert page.status_code == 404 and "There is no creator" in page.text
    assert web.client.get("/creators/%3Cscript%3E", headers=HTML).status_code == 404


def test_the_work_page_links_to_its_creator(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    page = web.client.get(f"/works/{work_id}", headers=HTML).text
    assert 'by <a href="/creators/alice">alice</a>' in page
    home = web.client.get("/", headers=HTML).text
    assert 'by <a href="/creators/alice">alice</a>' in home


def test_the_creator_sees_their_dashboard_on_their_own_page(web: Web) -> None:
    web.add_person("pam", password=PASSWORD)
    web.register("pam")
    assert login(web.client, "pam").status_code == 303
    page = web.client.get("/creators/pam", headers=HTML).text
    assert "This is your public page" in page and 'href="/dashboard"' in page
    assert "0 drafts in the editor" in page and "0 works under review" in page


def test_the_creator_changes_visibility_from_the_work_page(web: Web) -> None:
    web.add_person("pam", password=PASSWORD)
    work_id = web.register("pam")["work_id"]
    assert login(web.client, "pam").status_code == 303
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert 'action="/works/' + work_id + '/visibility"' in page.text
    changed = web.client.post(
        f"/works/{work_id}/visibility",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "visibility": "private"},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "only you" in web.client.get(f"/works/{work_id}", headers=HTML).text
    anonymous = TestClient(web.client.app)
    assert work_id not in anonymous.get("/creators/pam", headers=HTML).text
    assert work_id not in anonymous.get("/gallery", headers=HTML).text
    refused = web.client.post(
        f"/works/{work_id}/visibility",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "visibility": "everyone"},
    )
    assert refused.status_code == 400 and "is not a visibility" in refused.text
    no_token = web.client.post(f"/works/{work_id}/visibility", data={"visibility": "public"})
    assert no_token.status_code == 403
