"""Tests for :mod:`hallmark.web.api.stages` and the ``series_id``/``stage`` fields of
``POST /api/v1/works``: the contract of each route, and each refusal as a specific problem with
nothing stored.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from hallmark.storage.models import WorkStage
from hallmark.web.errors import PROBLEM_MEDIA_TYPE
from tests.services.test_stages import DRAFT_1, DRAFT_2, DRAFT_3, FINAL, corrupt_png, drawing
from tests.web.conftest import Web


def start(web: Web, handle: str = "alice") -> str:
    response = web.client.post("/api/v1/series", headers=web.auth(handle))
    assert response.status_code == 201, response.text
    series_id: str = response.json()["series_id"]
    assert response.headers["location"] == f"/api/v1/series/{series_id}"
    return series_id


def add(
    web: Web, series_id: str, data: bytes, handle: str = "alice", **fields: str
) -> httpx.Response:
    response: httpx.Response = web.client.post(
        f"/api/v1/series/{series_id}/stages",
        headers=web.auth(handle),
        files={"file": ("draft.txt", data, "application/octet-stream")},
        data=fields,
    )
    return response


def upload_with_stages(
    web: Web, data: bytes, drafts: list[tuple[str, bytes]], handle: str = "alice", **fields: str
) -> httpx.Response:
    files = [("file", ("final.txt", data, "application/octet-stream"))]
    files += [("stage", (name, draft, "application/octet-stream")) for name, draft in drafts]
    response: httpx.Response = web.client.post(
        "/api/v1/works",
        headers=web.auth(handle),
        files=files,
        data={"title": "Harbour", "declare": "human-made", **fields},
    )
    return response


def stage_count(web: Web) -> int:
    with web.inst.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkStage)) or 0)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    document: dict[str, Any] = response.json()
    return document


def test_series_round_trip(any_web: Web) -> None:
    series_id = start(any_web)
    first = add(any_web, series_id, DRAFT_1.encode(), note="first go")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["position"] == 1 and body["note"] == "first go" and body["kind"] == "text"
    assert body["arrived_at"].endswith("Z") and len(body["sha256"]) == 64
    assert add(any_web, series_id, DRAFT_2.encode()).json()["position"] == 2

    series = any_web.client.get(f"/api/v1/series/{series_id}", headers=any_web.auth("alice"))
    assert series.status_code == 200
    assert series.json()["work_id"] is None and len(series.json()["stages"]) == 2

    work = any_web.register("alice", FINAL.encode(), series_id=series_id)
    series = any_web.client.get(f"/api/v1/series/{series_id}", headers=any_web.auth("alice"))
    assert series.json()["work_id"] == work["work_id"]

    seen = any_web.client.get(
        f"/api/v1/works/{work['work_id']}/stages", headers=any_web.auth("alice")
    )
    assert seen.status_code == 200
    progression = seen.json()
    assert progression["count"] == 2 and progression["drafts_visible"] is True
    assert [(s["from"], s["to"]) for s in progression["steps"]] == [
        ("stage 1", "stage 2"),
        ("stage 2", "final"),
    ]
    assert progression["steps"][0]["lines_added"] == 1
    assert "+The gulls come in." in progression["steps"][0]["diff"]
    certificate = any_web.client.get(f"/api/v1/works/{work['work_id']}/certificate").json()
    assert progression["evidence"] in certificate["certificate"]["evidence"]


def test_stages_sent_with_the_work_keep_their_order(web: Web) -> None:
    drafts = [("one.txt", DRAFT_1.encode()), ("two.txt", DRAFT_2.encode())]
    drafts.append(("three.txt", DRAFT_3.encode()))
    response = upload_with_stages(web, FINAL.encode(), drafts)
    assert response.status_code == 201, response.text
    work_id = response.json()["work_id"]
    progression = web.client.get(f"/api/v1/works/{work_id}/stages").json()
    assert [s["size"] for s in progression["stages"]] == [len(d) for _, d in drafts]
    assert {s["arrived_at"] for s in progression["stages"]} == {progression["final"]["arrived_at"]}


def test_others_see_the_figures_only(web: Web) -> None:
    work = upload_with_stages(web, FINAL.encode(), [("a.txt", DRAFT_1.encode())]).json()
    for headers in ({}, web.auth("bruno")):
        seen = web.client.get(f"/api/v1/works/{work['work_id']}/stages", headers=headers).json()
        assert seen["drafts_visible"] is False and seen["stages"][0]["note"] is None
        assert seen["steps"][0]["diff"] is None and seen["steps"][0]["lines_added"] == 3


def test_image_stages_show_distances(web: Web) -> None:
    drafts = [(f"{d}.png", drawing(d)) for d in (0.25, 0.6, 0.9)]
    response = upload_with_stages(web, drawing(1.0), drafts, title="Discs")
    assert response.status_code == 201, response.text
    seen = web.client.get(f"/api/v1/works/{response.json()['work_id']}/stages").json()
    distances = [s["distance"] for s in seen["stages"]]
    assert distances == sorted(distances, reverse=True) and distances[0] > distances[-1]
    assert seen["steps"] == [] and seen["distance_bits"] == 64


def test_a_private_works_stages_are_not_found(web: Web) -> None:
    work = upload_with_stages(
        web, FINAL.encode(), [("a.txt", DRAFT_1.encode())], visibility="private"
    ).json()
    for headers in ({}, web.auth("bruno")):
        answer = web.client.get(f"/api/v1/works/{work['work_id']}/stages", headers=headers)
        assert problem(answer, 404)["title"] == "Not found"
    own = web.client.get(f"/api/v1/works/{work['work_id']}/stages", headers=web.auth("alice"))
    assert own.status_code == 200


# Refusals --------------------------------------------------------------------------------------


def test_writes_need_a_token(web: Web) -> None:
    assert problem(web.client.post("/api/v1/series"), 401)["title"] == "Not authenticated"
    series_id = start(web)
    answer = web.client.post(
        f"/api/v1/series/{series_id}/stages", files={"file": ("a.txt", b"x", "text/plain")}
    )
    problem(answer, 401)
    problem(web.client.get(f"/api/v1/series/{series_id}"), 401)


def test_another_creators_series_is_not_found(any_web: Web) -> None:
    series_id = start(any_web, "alice")
    assert add(any_web, series_id, DRAFT_1.encode()).status_code == 201
    before = (any_web.work_count(), stage_count(any_web))
    doc = problem(add(any_web, series_id, DRAFT_2.encode(), handle="bruno"), 404)
    assert doc["detail"] == f"There is no series '{series_id}'."
    problem(any_web.client.get(f"/api/v1/series/{series_id}", headers=any_web.auth("bruno")), 404)
    problem(any_web.upload("bruno", FINAL.encode(), series_id=series_id), 404)
    assert (any_web.work_count(), stage_count(any_web)) == before


def test_mixed_kinds_are_refused(any_web: Web) -> None:
    series_id = start(any_web)
    add(any_web, series_id, DRAFT_1.encode())
    doc = problem(add(any_web, series_id, drawing(0.5)), 400)
    assert doc["detail"] == "The file is an image, but the series holds text drafts."
    assert doc["hint"] == "A series is either all text versions or all image stages."
    doc = problem(upload_with_stages(any_web, drawing(1.0), [("a.txt", b"words")]), 400)
    assert doc["detail"] == "The work is an image, but its stages are text drafts."
    assert (any_web.work_count(), stage_count(any_web)) == (0, 1)


def test_a_registered_series_cannot_be_reused(any_web: Web) -> None:
    series_id = start(any_web)
    add(any_web, series_id, DRAFT_1.encode())
    work = any_web.register("alice", FINAL.encode(), series_id=series_id)
    doc = problem(add(any_web, series_id, DRAFT_2.encode()), 409)
    assert work["work_id"] in doc["detail"]
    problem(any_web.upload("alice", b"Another poem.\n", series_id=series_id), 409)
    assert (any_web.work_count(), stage_count(any_web)) == (1, 1)


def test_a_corrupt_stage_refuses_the_registration(any_web: Web) -> None:
    drafts = [("fine.png", drawing(0.5, size=64)), ("broken.png", corrupt_png())]
    doc = problem(upload_with_stages(any_web, drawing(1.0, size=64), drafts), 400)
    assert doc["detail"].startswith("Stage 2 (broken.png): The image is corrupt")
    doc = problem(upload_with_stages(any_web, FINAL.encode(), [("x.pdf", b"%PDF-1.7")]), 415)
    assert doc["detail"].startswith("Stage 1 (x.pdf):")
    assert (any_web.work_count(), stage_count(any_web)) == (0, 0)


def test_bad_stage_uploads(web: Web) -> None:
    series_id = start(web)
    problem(add(web, series_id, b""), 400)
    problem(add(web, series_id, b"draft", note="n" * 501), 400)
    missing = web.client.post(f"/api/v1/series/{series_id}/stages", headers=web.auth("alice"))
    assert problem(missing, 400)["errors"] == [{"field": "file", "message": "is required"}]
    assert stage_count(web) == 0


def test_the_routes_are_in_the_openapi_document(web: Web) -> None:
    document = web.client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert "post" in paths["/api/v1/series"]
    assert "post" in paths["/api/v1/series/{series_id}/stages"]
    assert "get" in paths["/api/v1/series/{series_id}"]
    assert "get" in paths["/api/v1/works/{work_id}/stages"]
    form = paths["/api/v1/works"]["post"]["requestBody"]["content"]["multipart/form-data"]
    name = form["schema"]["$ref"].rsplit("/", 1)[1]
    fields = document["components"]["schemas"][name]["properties"]
    assert {"series_id", "stage"} <= set(fields)
