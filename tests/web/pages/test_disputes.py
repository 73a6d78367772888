"""Prior-art pages (issue #5): matches on the work page, opening a dispute, the reviewer's
side-by-side page and decision, and the creator's dashboard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from fastapi.testclient import TestClient

from hallmark.services import analysis
from tests.similarity.perturb import make_work, replace_words
from tests.web.conftest import HTML, PASSWORD, Web, csrf_of, login

torch.set_num_threads(1)

ORIGINAL = make_work(41, words=200).text


@pytest.fixture
def sim(web: Web) -> Iterator[Web]:
    inst = web.inst
    inst.settings = inst.settings.model_copy(update={"similarity_index": "memory"})
    for handle, role in (("pia", "creator"), ("otto", "creator"), ("rita", "reviewer")):
        web.add_person(handle, role=role, password=PASSWORD)
    yield web
    analysis.wait_idle(inst)


def browser(web: Web, handle: str | None) -> TestClient:
    client = TestClient(web.client.app)
    if handle:
        assert login(client, handle).status_code == 303
    return client


def pair(web: Web) -> tuple[str, str]:
    first = str(web.register("pia", ORIGINAL.encode(), title="The <b>harbour</b>")["work_id"])
    analysis.wait_idle(web.inst)
    copy = replace_words(ORIGINAL, 0.2, seed=8).encode()
    second = str(web.register("otto", copy, title="Harbour copy")["work_id"])
    analysis.wait_idle(web.inst)
    return first, second


def open_dispute(client: TestClient, work_id: str) -> str:
    page = client.get(f"/works/{work_id}", headers=HTML)
    assert "Open a dispute" in page.text
    match_id = page.text.split('name="match_id" value="')[1].split('"')[0]
    answer = client.post(
        f"/works/{work_id}/disputes",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "match_id": match_id, "statement": "Mine first."},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/disputes/")
    return location.rsplit("/", 1)[1]


def test_the_creator_sees_the_match_and_opens_a_dispute(sim: Web) -> None:
    first, _ = pair(sim)
    pia = browser(sim, "pia")
    page = pia.get(f"/works/{first}", headers=HTML)
    assert "Similar works" in page.text and "Harbour copy" in page.text
    assert "this work is first in the log" in page.text
    # Others see no matches on the work page.
    assert "Similar works" not in browser(sim, None).get(f"/works/{first}", headers=HTML).text

    dispute_id = open_dispute(pia, first)
    shown = pia.get(f"/disputes/{dispute_id}", headers=HTML)
    assert shown.status_code == 200 and "Mine first." in shown.text
    assert "Record decision" not in shown.text

    dashboard = browser(sim, "otto").get("/dashboard", headers=HTML)
    assert "dispute-opened" in dashboard.text and "near-copy" in dashboard.text


def test_the_reviewer_compares_side_by_side_and_upholds(sim: Web) -> None:
    first, second = pair(sim)
    dispute_id = open_dispute(browser(sim, "pia"), first)
    rita = browser(sim, "rita")
    queue = rita.get("/review", headers=HTML)
    assert f"/disputes/{dispute_id}" in queue.text
    page = rita.get(f"/disputes/{dispute_id}", headers=HTML)
    assert page.status_code == 200
    assert "Claimant&#39;s work" in page.text and "Disputed work" in page.text
    assert "registered first" in page.text
    # Titles are user input: escaped, never markup.
    assert "The &lt;b&gt;harbour&lt;/b&gt;" in page.text

    missing_reason = rita.post(
        f"/disputes/{dispute_id}",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "decision": "upheld", "reason": ""},
    )
    assert missing_reason.status_code == 400 and "reason is required" in missing_reason.text

    decided = rita.post(
        f"/disputes/{dispute_id}",
        headers=HTML,
        data={"csrf_token": csrf_of(page), "decision": "upheld", "reason": "Pia was first."},
        follow_redirects=False,
    )
    assert decided.status_code == 303
    assert sim.client.get(f"/api/v1/works/{second}").json()["revoked"] is True
    dashboard = browser(sim, "pia").get("/dashboard", headers=HTML)
    assert "dispute-decided" in dashboard.text and "Pia was first." in dashboard.text


def test_who_may_open_the_dispute_page(sim: Web) -> None:
    first, _ = pair(sim)
    dispute_id = open_dispute(browser(sim, "pia"), first)
    anonymous = browser(sim, None).get(
        f"/disputes/{dispute_id}", headers=HTML, follow_redirects=False
    )
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    sim.add_person("nina", password=PASSWORD)
    assert browser(sim, "nina").get(f"/disputes/{dispute_id}", headers=HTML).status_code == 404


def test_forms_need_the_csrf_token(sim: Web) -> None:
    first, _ = pair(sim)
    pia = browser(sim, "pia")
    answer = pia.post(
        f"/works/{first}/disputes",
        headers=HTML,
        data={"match_id": "m", "statement": "x"},
        follow_redirects=False,
    )
    assert answer.status_code == 403


def test_the_dashboard_marks_notifications_read(sim: Web) -> None:
    pair(sim)
    pia = browser(sim, "pia")
    page = pia.get("/dashboard", headers=HTML)
    assert "1 new" in page.text
    pia.post("/dashboard/read", headers=HTML, data={"csrf_token": csrf_of(page)})
    assert "new</span>" not in pia.get("/dashboard", headers=HTML).text
    anonymous = browser(sim, None).get("/dashboard", headers=HTML, follow_redirects=False)
    assert anonymous.status_code == 303
