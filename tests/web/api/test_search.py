"""Tests for :mod:`hallmark.web.api.search` and the gallery's filters on ``GET /api/v1/works``
(issue #7, item 2), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from jsonschema import validate

from tests.web.conftest import Web


def openapi_schema(web: Web, name: str) -> dict[str, object]:
    document = web.client.get("/api/v1/openapi.json").json()
    schema: dict[str, object] = {**document["components"]["schemas"][name]}
    schema["components"] = document["components"]
    return schema


def test_search_answers_a_page_of_works(any_web: Web) -> None:
    poem = any_web.register("alice", title="Harbour")["work_id"]
    generated = any_web.register(
        "bruno", b"Generated harbour lights.\n", title="Lights", declare="ai-generated"
    )["work_id"]
    answer = any_web.client.get("/api/v1/search", params={"q": "harbour"})
    assert answer.status_code == 200
    body = answer.json()
    # The API searches every label unless asked; the page shows human-made by default.
    assert [w["work_id"] for w in body["works"]] == [generated, poem]
    assert body["next_cursor"] is None and body["terms"] == ["harbour"]
    assert body["filters"] == {"label": "all", "level": None, "kind": None, "consent": None}
    human = any_web.client.get("/api/v1/search", params={"q": "harbour", "label": "human-made"})
    assert [w["work_id"] for w in human.json()["works"]] == [poem]
    by_text = any_web.client.get("/api/v1/search", params={"q": "gulls come"}).json()
    assert [w["work_id"] for w in by_text["works"]] == [poem]
    by_creator = any_web.client.get("/api/v1/search", params={"q": "bruno"}).json()
    assert [w["work_id"] for w in by_creator["works"]] == [generated]


def test_search_pages_with_the_cursor(any_web: Web) -> None:
    ids = [
        any_web.register("alice", f"Cairn {n}.\n".encode(), title=f"Cairn {n}")["work_id"]
        for n in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": "cairn", "limit": "2", **({"cursor": cursor} if cursor else {})}
        body = any_web.client.get("/api/v1/search", params=params).json()
        seen += [w["work_id"] for w in body["works"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize("query", ['"', "NEAR(", "*", "-x", "a OR b", "\x00", "(", "'--"])
def test_hostile_queries_answer_200(web: Web, query: str) -> None:
    web.register("alice")
    answer = web.client.get("/api/v1/search", params={"q": query})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "'q' is required"),
        ({"q": ""}, "'q'"),
        ({"q": "x", "label": "human"}, "is not a label"),
        ({"q": "x", "cursor": "nope"}, "cursor"),
        ({"q": "x", "limit": "0"}, "'limit'"),
    ],
)
def test_bad_parameters_are_problems(web: Web, params: dict[str, str], field: str) -> None:
    answer = web.client.get("/api/v1/search", params=params)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.json()["detail"]


def test_the_answer_matches_its_published_schema(web: Web) -> None:
    web.register("alice")
    body = web.client.get("/api/v1/search", params={"q": "harbour"}).json()
    validate(body, openapi_schema(web, "SearchPageOut"))


def test_works_takes_the_gallery_filters_and_links_the_next_page(any_web: Web) -> None:
    texts = [
        any_web.register("alice", f"Fern {n}.\n".encode(), title=f"Fern {n}")["work_id"]
        for n in range(3)
    ]
    any_web.register(
        "alice", b"Assisted fern.\n", title="Fern x", declare="ai-assisted", ai_share="20"
    )
    answer = any_web.client.get("/api/v1/works", params={"label": "human-made", "limit": "2"})
    assert [w["work_id"] for w in answer.json()] == texts[::-1][:2]
    link = re.fullmatch(r'<(/api/v1/works\?[^>]+)>; rel="next"', answer.headers["link"])
    assert link and "label=human-made" in link.group(1)
    rest = any_web.client.get(link.group(1))
    assert [w["work_id"] for w in rest.json()] == texts[:1]
    assert "link" not in rest.headers
    refused = any_web.client.get("/api/v1/works", params={"kind": "video"})
    assert refused.status_code == 400 and "is not a kind" in refused.json()["detail"]


def test_the_creator_changes_visibility_through_the_api(any_web: Web) -> None:
    work_id = any_web.register("alice", title="Harbour")["work_id"]
    path = f"/api/v1/works/{work_id}/visibility"
    assert any_web.client.put(path, json={"visibility": "private"}).status_code == 401
    other = any_web.client.put(path, headers=any_web.auth("bruno"), json={"visibility": "private"})
    assert other.status_code == 403
    made = any_web.client.put(path, headers=any_web.auth("alice"), json={"visibility": "private"})
    assert made.status_code == 200 and made.json()["visibility"] == "private"
    assert any_web.client.get("/api/v1/search", params={"q": "harbour"}).json()["works"] == []
    bad = any_web.client.put(path, headers=any_web.auth("alice"), json={"visibility": "all"})
    assert bad.status_code == 400
    back = any_web.client.put(path, headers=any_web.auth("alice"), json={"visibility": "public"})
    assert back.status_code == 200
    found = any_web.client.get("/api/v1/search", params={"q": "gulls"}).json()["works"]
    assert [w["work_id"] for w in found] == [work_id]
