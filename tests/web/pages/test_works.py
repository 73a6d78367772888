"""Tests for :mod:`hallmark.web.pages.works`: home, upload, the work page and its downloads."""

from __future__ import annotations

import io
import re

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from hallmark.core.bundle import Bundle
from hallmark.storage.models import Work
from tests.web.conftest import HTML, POEM, Web, csrf_of, login, signup


def upload_page(client: TestClient, data: bytes = POEM, **fields: str) -> httpx.Response:
    token = csrf_of(client.get("/upload", headers=HTML))
    form = {"csrf_token": token, "title": "Harbour", "declare": "human-made", **fields}
    return client.post(
        "/upload",
        headers=HTML,
        data=form,
        files={"file": ("poem.txt", data, "text/plain")},
        follow_redirects=False,
    )


def _work_id(location: str) -> str:
    found = re.fullmatch(r"/works/(w_[0-9a-z]+)", location)
    assert found, location
    return found.group(1)


def test_upload_leads_to_the_work_page_with_its_certificate(web: Web) -> None:
    signup(web.client, "clara")
    response = upload_page(
        web.client, title="Low <b>tide</b>", declare="ai-assisted", ai_share="20"
    )
    assert response.status_code == 303
    work_id = _work_id(response.headers["location"])
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "Your certificate is issued" in text
    assert "Low &lt;b&gt;tide&lt;/b&gt;" in text and "<b>tide</b>" not in text
    assert "AI-assisted" in text and "Declared" in text and "20%" in text
    assert '<pre class="work-text">The tide goes out,' in text
    assert f'href="/works/{work_id}/bundle"' in text
    assert "Log index" in text and "revoked" not in text.lower()


def test_text_with_markup_is_shown_escaped(web: Web) -> None:
    signup(web.client, "clara")
    response = upload_page(web.client, b"<script>alert('x')</script>\n", title="<script>t</script>")
    work_id = _work_id(response.headers["location"])
    text = web.client.get(f"/works/{work_id}", headers=HTML).text
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "&lt;script&gt;t&lt;/script&gt;" in text


def test_an_image_is_shown_through_the_file_route(web: Web) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (12, 12), (20, 90, 140)).save(buffer, "PNG")
    work_id = web.register("alice", buffer.getvalue(), filename="sea.png", title="Sea")["work_id"]
    text = web.client.get(f"/works/{work_id}", headers=HTML).text
    assert f'<img class="work-image" src="/works/{work_id}/file" alt="Sea">' in text
    image = web.client.get(f"/works/{work_id}/file")
    assert image.headers["content-type"] == "image/png"
    assert image.content == buffer.getvalue()


def test_bundle_download_from_the_page(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/works/{work_id}/bundle")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{work_id}.hallmark.json"'
    )
    assert Bundle.parse(response.content).certificate.work["id"] == work_id


@pytest.mark.parametrize(
    ("data", "fields", "status", "message"),
    [
        (b"", {}, 400, "The file is empty."),
        (b"\xff\xfe\x00bad", {}, 400, "not valid UTF-8"),
        (POEM, {"declare": "ai-assisted"}, 400, "must state its AI share"),
        (POEM, {"declare": "ai-assisted", "ai_share": "abc"}, 400, "is not a number"),
        (POEM, {"title": ""}, 400, "A title is required."),
    ],
)
def test_upload_errors_are_shown_in_the_form(
    web: Web, data: bytes, fields: dict[str, str], status: int, message: str
) -> None:
    signup(web.client, "clara")
    response = upload_page(web.client, data, **fields)
    assert response.status_code == status
    assert message in response.text
    assert 'role="alert"' in response.text
    assert web.work_count() == 0


def test_upload_keeps_the_title_escaped_on_error(web: Web) -> None:
    signup(web.client, "clara")
    response = upload_page(web.client, b"", title='"><script>x</script>')
    assert "<script>x</script>" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in response.text


def test_upload_without_choosing_a_file(web: Web) -> None:
    signup(web.client, "clara")
    token = csrf_of(web.client.get("/upload", headers=HTML))
    response = web.client.post(
        "/upload",
        headers=HTML,
        data={"csrf_token": token, "title": "t", "declare": "human-made"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert response.status_code == 400
    assert "Choose the file of your work." in response.text


def test_upload_needs_a_login(web: Web) -> None:
    response = web.client.get("/upload", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fupload"


def test_upload_without_csrf_is_refused(web: Web) -> None:
    signup(web.client, "clara")
    response = web.client.post(
        "/upload",
        headers=HTML,
        data={"title": "t", "declare": "human-made"},
        files={"file": ("poem.txt", POEM)},
    )
    assert response.status_code == 403
    assert web.work_count() == 0


def test_home_lists_public_works_only(web: Web) -> None:
    web.register("alice", b"public\n", title="Open sea")
    web.register("alice", b"unlisted\n", title="Side street", visibility="unlisted")
    private = web.register("alice", b"private\n", title="Locked room", visibility="private")
    signup(web.client, "clara")
    text = web.client.get("/", headers=HTML).text
    assert "Open sea" in text
    assert "Side street" not in text and "Locked room" not in text
    assert web.client.get(f"/works/{private['work_id']}", headers=HTML).status_code == 404


@pytest.mark.parametrize("suffix", ["", "/file", "/bundle"])
def test_a_private_work_page_is_not_found_for_others(web: Web, suffix: str) -> None:
    signup(web.client, "clara")
    upload_page(web.client, visibility="private")
    (work_id,) = _all_work_ids(web)
    assert web.client.get(f"/works/{work_id}{suffix}", headers=HTML).status_code == 200
    web.client.cookies.clear()
    signup(web.client, "dana")
    response = web.client.get(f"/works/{work_id}{suffix}", headers=HTML)
    assert response.status_code == 404
    assert "Harbour" not in response.text


def test_own_private_works_are_listed_for_their_creator(web: Web) -> None:
    signup(web.client, "clara")
    upload_page(web.client, title="Diary", visibility="private")
    text = web.client.get("/", headers=HTML).text
    assert "Your works" in text and "Diary" in text and "private" in text


def test_revoking_from_the_work_page_shows_the_banner(web: Web) -> None:
    signup(web.client, "clara")
    location = upload_page(web.client).headers["location"]
    page = web.client.get(location, headers=HTML)
    assert "Revoke this certificate" in page.text
    response = web.client.post(
        f"{location}/revoke",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "reason": "Uploaded the wrong draft."},
        follow_redirects=False,
    )
    assert response.status_code == 303
    text = web.client.get(location, headers=HTML).text
    assert "This certificate was revoked" in text
    assert "Uploaded the wrong draft." in text
    assert "Revoke this certificate" not in text


def test_others_cannot_revoke_from_the_page(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    signup(web.client, "clara")
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert "Revoke this certificate" not in page.text
    response = web.client.post(
        f"/works/{work_id}/revoke",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "reason": "Not mine."},
    )
    assert response.status_code == 403


def _all_work_ids(web: Web) -> list[str]:
    with web.inst.db.session() as session:
        return list(session.scalars(select(Work.id)))


def test_the_whole_path_sign_up_log_in_upload_and_verify(any_web: Web) -> None:
    client = any_web.client
    assert signup(client, "clara").status_code == 303
    home = client.get("/", headers=HTML)
    client.post("/logout", headers=HTML, data={"csrf_token": csrf_of(home)})
    assert login(client, "clara").status_code == 303

    response = upload_page(client, title="Harbour at dawn")
    work_page = client.get(response.headers["location"], headers=HTML)
    assert "Harbour at dawn" in work_page.text and "Human-made" in work_page.text

    token = csrf_of(client.get("/verify", headers=HTML))
    verdict = client.post(
        "/verify",
        headers=HTML,
        data={"csrf_token": token},
        files={"file": ("poem.txt", POEM)},
    )
    assert '<h1 id="verdict-heading" class="verdict-heading">Valid</h1>' in verdict.text
