"""The muse on the pages (issue #8): its panel in the editor, and the muse in the authorship
report and on the certificate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_instance
from tests.muse.fake_backend import CONTINUATION, registered
from tests.web.conftest import HTML, TestClient, Web, _web, signup

API = "/api/v1"
OPENING = "The tide went out at noon, and the gulls came down to argue over what it left."


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    with registered():
        inst = make_instance(tmp_path / "home", muse_backend="fake")
        try:
            yield from _web(inst)
        finally:
            inst.close()


def csrf(client: TestClient) -> dict[str, str]:
    page = client.get("/write", headers=HTML)
    return {"X-CSRF-Token": page.text.split('data-csrf="', 1)[1].split('"', 1)[0]}


def write_with_muse(web: Web, *, insert: bool) -> tuple[str, str, str]:
    """carla writes a draft in her session, asks for ideas and a continuation, and inserts the
    continuation when ``insert``; returns the draft, the continuation's and the ideas' ids."""
    assert signup(web.client, "carla").status_code == 303
    headers = csrf(web.client)
    draft_id = web.client.post(f"{API}/drafts", json={}, headers=headers).json()["draft_id"]
    event = {"seq": 0, "t": 1_764_331_200_000, "op": "insert", "pos": 0, "text": OPENING}
    web.client.post(f"{API}/drafts/{draft_id}/events", json={"events": [event]}, headers=headers)
    url = f"{API}/drafts/{draft_id}/muse"
    ideas = web.client.post(url, json={"mode": "ideas"}, headers=headers).json()
    prose = web.client.post(url, json={"mode": "continue"}, headers=headers).json()
    prose_id, ideas_id = prose["suggestions"][0]["id"], ideas["suggestions"][0]["id"]
    if insert:
        muse_event = {
            "seq": 1,
            "t": 1_764_331_203_000,
            "op": "muse",
            "pos": len(OPENING),
            "text": " " + CONTINUATION,
            "ref": prose_id,
        }
        web.client.post(
            f"{API}/drafts/{draft_id}/events", json={"events": [muse_event]}, headers=headers
        )
    return draft_id, prose_id, ideas_id


def test_the_editor_offers_the_muse_panel_and_its_script(web: Web) -> None:
    assert signup(web.client, "carla").status_code == 303
    page = web.client.get("/write", headers=HTML)
    assert 'id="muse"' in page.text and 'data-continue="on"' in page.text
    assert '<script src="/static/muse.js" defer></script>' in page.text
    assert 'data-mode="continue">Continue</button>' in page.text
    assert web.client.get("/static/muse.js").status_code == 200


def test_with_prose_switched_off_the_panel_offers_none(web: Web) -> None:
    draft_id, _, _ = write_with_muse(web, insert=False)
    web.client.post(
        f"{API}/drafts/{draft_id}/muse/settings",
        json={"continue": False},
        headers=csrf(web.client),
    )
    page = web.client.get(f"/write/{draft_id}", headers=HTML)
    assert 'data-continue="off"' in page.text
    assert 'data-mode="continue" hidden>Continue</button>' in page.text
    assert 'id="muse-allow-continue">' in page.text  # unchecked


def test_without_a_muse_the_editor_has_no_panel(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "plain")
    webs = _web(inst)
    try:
        web = next(webs)
        assert signup(web.client, "carla").status_code == 303
        page = web.client.get("/write", headers=HTML)
        assert page.status_code == 200
        assert 'id="muse"' not in page.text and "muse.js" not in page.text
    finally:
        webs.close()
        inst.close()


def test_the_report_and_certificate_show_the_muse(web: Web) -> None:
    draft_id, _, _ = write_with_muse(web, insert=True)
    submitted = web.client.post(
        f"{API}/drafts/{draft_id}/submit",
        json={
            "title": "Tide",
            "declare": "human-made",
            "text": OPENING + " " + CONTINUATION,
            "report_public": True,
        },
        headers=csrf(web.client),
    )
    assert submitted.status_code == 201, submitted.text
    work_id = submitted.json()["work_id"]
    share = submitted.json()["authorship"]["shares"]["muse"]

    work_page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert "AI-assisted" in work_page.text
    assert f"from the muse {share:g}%" in work_page.text
    assert "made 2\n      suggestions while it was written; the text of\n      1 went" in (
        work_page.text
    )

    report = web.client.get(f"/works/{work_id}/authorship", headers=HTML)
    assert report.status_code == 200
    assert f"{share:g}% of the final text came from the muse" in report.text
    assert "<td>continue</td>" in report.text and "<td>yes</td>" in report.text
    assert "What the muse said (only you see this)" in report.text
    assert CONTINUATION in report.text

    # The public sees what was asked and used, not what the muse said.
    web.client.cookies.clear()
    public = web.client.get(f"/works/{work_id}/authorship", headers=HTML)
    assert public.status_code == 200
    assert "<td>continue</td>" in public.text
    assert "What the muse said" not in public.text
    assert CONTINUATION not in public.text
