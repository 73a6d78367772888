"""The prior-art API (issue #5): ``POST /api/v1/similar``, a work's matches, disputes and
notifications, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from hallmark.services import analysis
from tests.similarity.perturb import encode, make_image, make_work, mirror, replace_words
from tests.web.conftest import Web

torch.set_num_threads(1)

ORIGINAL = make_work(31, words=200).text
COPY = replace_words(ORIGINAL, 0.2, seed=2)


@pytest.fixture
def sim(any_web: Web) -> Iterator[Web]:
    inst = any_web.inst
    inst.settings = inst.settings.model_copy(update={"similarity_index": "memory"})
    any_web.add_person("rita", role="reviewer")
    yield any_web
    analysis.wait_idle(inst)


def similar(web: Web, data: bytes, filename: str = "query.txt", **params: int) -> dict:
    answer = web.client.post(
        "/api/v1/similar",
        files={"file": (filename, data, "application/octet-stream")},
        params=params,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_similar_answers_matches_at_or_above_the_threshold(sim: Web) -> None:
    first = sim.register("alice", ORIGINAL.encode(), title="Harbour")["work_id"]
    analysis.wait_idle(sim.inst)
    got = similar(sim, COPY.encode())
    [match] = got["matches"]
    assert match["work_id"] == first
    assert match["kind"] == "near-copy" and 0 < match["score"] <= 1
    assert match["creator"] == "alice" and match["log_index"] == 0 and match["logged_at"]
    assert similar(sim, make_work(77, words=200).text.encode()) == {"matches": []}


def test_similar_finds_a_mirrored_image(sim: Web) -> None:
    picture = make_image(3, (400, 300))
    first = sim.register("alice", encode(picture), filename="p.png", title="Pier")["work_id"]
    analysis.wait_idle(sim.inst)
    got = similar(sim, encode(mirror(picture), "JPEG", 85), filename="q.jpg")
    assert [m["work_id"] for m in got["matches"]] == [first]


def test_similar_refuses_bad_input(sim: Web) -> None:
    empty = sim.client.post("/api/v1/similar", files={"file": ("e.txt", b"", "text/plain")})
    assert empty.status_code == 400
    assert empty.headers["content-type"].startswith("application/problem+json")
    binary = sim.client.post("/api/v1/similar", files={"file": ("x.pdf", b"%PDF-1.7", "a/b")})
    assert binary.status_code == 415
    limit = sim.client.post(
        "/api/v1/similar", files={"file": ("q.txt", b"words", "text/plain")}, params={"limit": 0}
    )
    assert limit.status_code == 400
    missing = sim.client.post("/api/v1/similar")
    assert missing.status_code == 400
    assert "file" in missing.json()["detail"]


def test_similar_is_503_when_turned_off(any_web: Web) -> None:
    answer = any_web.client.post("/api/v1/similar", files={"file": ("q.txt", b"words", "t/p")})
    assert answer.status_code == 503
    assert "turned off" in answer.json()["detail"]


def test_the_dispute_flow_over_http(sim: Web) -> None:
    first = sim.register("alice", ORIGINAL.encode(), title="Harbour")["work_id"]
    analysis.wait_idle(sim.inst)
    copy = sim.register("bruno", COPY.encode(), title="Harbor")["work_id"]
    analysis.wait_idle(sim.inst)

    review = sim.client.get(f"/api/v1/works/{copy}/analysis", headers=sim.auth("bruno")).json()
    assert review["review_status"] == "pending"

    matches = sim.client.get(f"/api/v1/works/{first}/matches", headers=sim.auth("alice")).json()
    [match] = matches["matches"]
    assert match["other_work_id"] == copy and match["can_dispute"] is True
    assert sim.client.get(f"/api/v1/works/{first}/matches").json() == {"matches": []}

    notes = sim.client.get("/api/v1/notifications", headers=sim.auth("alice")).json()
    assert notes["unread"] == 1 and notes["notifications"][0]["kind"] == "near-copy"
    assert sim.client.get("/api/v1/notifications").status_code == 401

    body = {"match_id": match["match_id"], "statement": "Mine since 2019."}
    assert sim.client.post("/api/v1/disputes", json=body).status_code == 401
    stranger = sim.client.post("/api/v1/disputes", json=body, headers=sim.auth("root"))
    assert stranger.status_code == 404
    opened = sim.client.post("/api/v1/disputes", json=body, headers=sim.auth("alice"))
    assert opened.status_code == 201, opened.text
    dispute_id = opened.json()["dispute_id"]
    again = sim.client.post("/api/v1/disputes", json=body, headers=sim.auth("alice"))
    assert again.status_code == 409

    assert sim.client.get("/api/v1/disputes", headers=sim.auth("alice")).status_code == 403
    listed = sim.client.get("/api/v1/disputes", headers=sim.auth("rita")).json()
    assert [d["dispute_id"] for d in listed] == [dispute_id]

    decision = {"decision": "upheld", "reason": "Alice registered first."}
    refused = sim.client.post(
        f"/api/v1/disputes/{dispute_id}/decision", json=decision, headers=sim.auth("bruno")
    )
    assert refused.status_code == 403
    decided = sim.client.post(
        f"/api/v1/disputes/{dispute_id}/decision", json=decision, headers=sim.auth("rita")
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld"
    assert sim.client.get(f"/api/v1/works/{copy}").json()["revoked"] is True
    assert sim.client.get(f"/api/v1/works/{first}").json()["revoked"] is False

    read = sim.client.post("/api/v1/notifications/read", headers=sim.auth("bruno")).json()
    assert read["marked"] >= 2
    assert sim.client.get("/api/v1/notifications", headers=sim.auth("bruno")).json()["unread"] == 0
