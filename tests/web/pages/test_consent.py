"""Consent on the pages (issue #6, items 3 and 5): the settings page and its CSRF check, the
upload form's default, the work page's consent, headers and JSON-LD, and changing a work's
consent from its page."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.web.conftest import HTML, POEM, Web, csrf_of, signup

POLICY = "https://clara.example/ai-terms"


def save_default(client: TestClient, **fields: str) -> httpx.Response:
    token = csrf_of(client.get("/settings/consent", headers=HTML))
    return client.post(
        "/settings/consent",
        headers=HTML,
        data={"csrf_token": token, **fields},
        follow_redirects=False,
    )


def upload(client: TestClient, data: bytes = POEM, **fields: str) -> str:
    token = csrf_of(client.get("/upload", headers=HTML))
    response = client.post(
        "/upload",
        headers=HTML,
        data={"csrf_token": token, "title": "Harbour", "declare": "human-made", **fields},
        files={"file": ("poem.txt", data, "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).rsplit("/", 1)[1]


def json_ld(page: httpx.Response) -> dict[str, Any]:
    [block] = re.findall(
        r'<script type="application/ld\+json">(.*?)</script>', page.text, flags=re.DOTALL
    )
    data: dict[str, Any] = json.loads(block)
    return data


def consent_of(web: Web, work_id: str) -> str:
    record = web.client.get(f"/api/v1/works/{work_id}", headers=web.auth("alice")).json()
    return str(record["consent"])


# The settings page ------------------------------------------------------------------------------


def test_the_settings_page_needs_a_login(web: Web) -> None:
    response = web.client.get("/settings/consent", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fsettings%2Fconsent"


def test_the_settings_page_refuses_a_form_without_its_token(web: Web) -> None:
    signup(web.client, "clara")
    response = web.client.post(
        "/settings/consent", headers=HTML, data={"consent": "allowed"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Form expired" in response.text
    assert (
        "Now: <strong>Not allowed</strong>"
        in web.client.get("/settings/consent", headers=HTML).text
    )


def test_the_default_is_saved_and_used_by_the_upload_form(web: Web) -> None:
    signup(web.client, "clara")
    refused = save_default(web.client, consent="constrained", consent_policy_url="")
    assert refused.status_code == 400
    assert "needs the URL of a policy" in refused.text
    assert 'id="consent-constrained" name="consent" value="constrained" checked' in refused.text

    saved = save_default(web.client, consent="constrained", consent_policy_url=POLICY)
    assert (saved.status_code, saved.headers["location"]) == (303, "/settings/consent")
    page = web.client.get("/settings/consent", headers=HTML).text
    assert "Now: <strong>Allowed with conditions</strong>" in page and POLICY in page

    form = web.client.get("/upload", headers=HTML).text
    assert '<option value="" selected>Your default: Allowed with conditions</option>' in form
    work_id = upload(web.client)
    page_response = web.client.get(f"/works/{work_id}", headers=HTML)
    assert page_response.headers["tdm-policy"] == POLICY

    # A URL left in the form counts only with "constrained".
    other = upload(web.client, b"Another.\n", consent="allowed", consent_policy_url=POLICY)
    assert web.client.get(f"/works/{other}", headers=HTML).headers["tdm-reservation"] == "0"


def test_the_upload_form_explains_a_refused_consent(web: Web) -> None:
    signup(web.client, "clara")
    token = csrf_of(web.client.get("/upload", headers=HTML))
    response = web.client.post(
        "/upload",
        headers=HTML,
        data={
            "csrf_token": token,
            "title": "Harbour",
            "declare": "human-made",
            "consent": "constrained",
            "consent_policy_url": "ftp://clara.example/terms",
        },
        files={"file": ("poem.txt", POEM, "text/plain")},
    )
    assert response.status_code == 400
    assert "not an http or https URL" in response.text
    assert 'value="ftp://clara.example/terms"' in response.text


# The work page ----------------------------------------------------------------------------------


def test_the_work_page_states_the_consent_and_carries_it(web: Web) -> None:
    title = 'Tide </script><script>alert("x")</script>'
    registered = web.register(
        "alice", title=title, consent="constrained", consent_policy_url=POLICY
    )
    work_id = registered["work_id"]
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert page.headers["tdm-reservation"] == "1"
    assert page.headers["tdm-policy"] == POLICY
    assert "<strong>Allowed with conditions.</strong>" in page.text
    assert f'<a href="{POLICY}" rel="nofollow noopener noreferrer">' in page.text
    # The title cannot end the data block early, and nothing in the page runs.
    assert '<script>alert("x")' not in page.text
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == ['<script type="application/ld+json">']
    data = json_ld(page)
    assert data["name"] == title
    assert data["@type"] == "CreativeWork" and data["creator"]["@type"] == "Person"
    assert data["license"] == data["usageInfo"] == POLICY
    # Only the creator sees the form to change it.
    assert "Change AI training for this work" not in page.text


def test_the_creator_changes_a_work_from_its_page(web: Web) -> None:
    signup(web.client, "clara")
    work_id = upload(web.client, consent="allowed")
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert "Change AI training for this work" in page.text
    token = csrf_of(page)
    refused = web.client.post(
        f"/works/{work_id}/consent", headers=HTML, data={"consent": "not-allowed"}
    )
    assert refused.status_code == 403
    changed = web.client.post(
        f"/works/{work_id}/consent",
        headers=HTML,
        data={"csrf_token": token, "consent": "not-allowed", "consent_policy_url": POLICY},
        follow_redirects=False,
    )
    assert (changed.status_code, changed.headers["location"]) == (
        303,
        f"/works/{work_id}#consent",
    )
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert page.headers["tdm-reservation"] == "1" and "tdm-policy" not in page.headers
    assert "When the work was registered the creator declared: Allowed." in page.text
    certificate = web.client.get(f"/api/v1/works/{work_id}/certificate").json()["certificate"]
    assert certificate["consent"] == {"ai_training": "allowed"}


def test_someone_else_cannot_change_a_work(web: Web) -> None:
    work_id = web.register("alice", consent="allowed")["work_id"]
    signup(web.client, "clara")
    token = csrf_of(web.client.get(f"/works/{work_id}", headers=HTML))
    response = web.client.post(
        f"/works/{work_id}/consent",
        headers=HTML,
        data={"csrf_token": token, "consent": "not-allowed"},
    )
    assert response.status_code == 403
    assert consent_of(web, work_id) == "allowed"
