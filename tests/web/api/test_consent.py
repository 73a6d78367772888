"""AI-training consent over HTTP (issue #6, items 3 and 4): the creator's default and a work's
consent through the API, TDMRep headers and files, robots.txt and ai.txt, and the consent
lookup with its rate limit, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import torch

from hallmark.services import analysis
from tests.similarity.perturb import encode, make_image, make_work, replace_words, resize
from tests.web.conftest import HTML, POEM, Web

torch.set_num_threads(1)

POLICY = "https://alice.example/ai-terms"


def lookup(web: Web, items: list[dict[str, str]], **kw: Any) -> httpx.Response:
    return web.client.post("/api/v1/consent/lookup", json={"items": items}, **kw)


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    return document


# The creator's default and a work's consent ---------------------------------------------------


def test_the_default_is_read_and_set_through_the_api(any_web: Web) -> None:
    me = "/api/v1/me/consent"
    assert any_web.client.get(me, headers=any_web.auth("alice")).json() == {
        "consent": "not-allowed",
        "consent_policy_url": None,
    }
    problem(any_web.client.get(me), 401)
    body = {"consent": "constrained", "consent_policy_url": POLICY}
    saved = any_web.client.put(me, headers=any_web.auth("alice"), json=body)
    assert saved.status_code == 200 and saved.json() == body
    refused = any_web.client.put(me, headers=any_web.auth("alice"), json={"consent": "constrained"})
    assert "needs the URL of a policy" in problem(refused, 400)["detail"]

    # New works take the default unless they say otherwise.
    by_default = any_web.register("alice")
    assert (by_default["consent"], by_default["consent_policy_url"]) == ("constrained", POLICY)
    assert by_default["bundle"]["certificate"]["consent"] == {
        "ai_training": "constrained",
        "policy_url": POLICY,
    }
    own = any_web.register("alice", b"Another poem, allowed.\n", consent="allowed")
    assert (own["consent"], own["consent_policy_url"]) == ("allowed", None)
    record = any_web.client.get(f"/api/v1/works/{own['work_id']}").json()
    assert record["consent"] == "allowed"
    # Bruno's default is his own.
    assert any_web.register("bruno", b"Bruno's poem.\n")["consent"] == "not-allowed"


def test_registration_refuses_a_constrained_consent_without_a_policy(any_web: Web) -> None:
    answer = any_web.upload("alice", consent="constrained")
    assert "needs the URL of a policy" in problem(answer, 400)["detail"]
    answer = any_web.upload("alice", consent="allowed", consent_policy_url=POLICY)
    assert "only with 'constrained'" in problem(answer, 400)["detail"]
    assert any_web.work_count() == 0


def test_the_creator_changes_a_work_and_the_certificate_stays(any_web: Web) -> None:
    work_id = any_web.register("alice", consent="allowed")["work_id"]
    url = f"/api/v1/works/{work_id}/consent"
    body = {"consent": "constrained", "consent_policy_url": POLICY}
    changed = any_web.client.put(url, headers=any_web.auth("alice"), json=body)
    assert changed.status_code == 200
    assert changed.json() == {
        "work_id": work_id,
        **body,
        "declared": {"consent": "allowed", "consent_policy_url": None},
    }
    certificate = any_web.client.get(f"/api/v1/works/{work_id}/certificate").json()
    assert certificate["certificate"]["consent"] == {"ai_training": "allowed"}
    page = any_web.client.get(f"/works/{work_id}", headers=HTML)
    assert page.headers["tdm-policy"] == POLICY

    assert problem(any_web.client.put(url, headers=any_web.auth("bruno"), json=body), 403)
    assert problem(any_web.client.put(url, json=body), 401)
    private = any_web.register("alice", b"Private.\n", visibility="private")["work_id"]
    hidden = f"/api/v1/works/{private}/consent"
    assert problem(any_web.client.put(hidden, headers=any_web.auth("bruno"), json=body), 404)


# What crawlers see ----------------------------------------------------------------------------


@pytest.fixture
def three(any_web: Web) -> Iterator[tuple[Web, dict[str, str]]]:
    """Alice's works, one per consent, and a private and an unlisted one."""
    ids = {
        "allowed": any_web.register("alice", b"One.\n", consent="allowed")["work_id"],
        "not-allowed": any_web.register("alice", b"Two.\n")["work_id"],
        "constrained": any_web.register(
            "alice", b"Three.\n", consent="constrained", consent_policy_url=POLICY
        )["work_id"],
        "private": any_web.register("alice", b"Four.\n", visibility="private")["work_id"],
        "unlisted": any_web.register("alice", b"Five.\n", visibility="unlisted")["work_id"],
    }
    yield any_web, ids


EXPECTED = {
    "allowed": {"tdm-reservation": "0"},
    "not-allowed": {"tdm-reservation": "1"},
    "constrained": {"tdm-reservation": "1", "tdm-policy": POLICY},
}


def test_headers_on_pages_and_files_match_the_stored_consents(
    three: tuple[Web, dict[str, str]],
) -> None:
    web, ids = three
    for name, expected in EXPECTED.items():
        work_id = ids[name]
        for path in (
            f"/works/{work_id}",
            f"/works/{work_id}/file",
            f"/api/v1/works/{work_id}/file",
        ):
            response = web.client.get(path, headers=HTML)
            assert response.status_code == 200, path
            got = {k: v for k, v in response.headers.items() if k.startswith("tdm-")}
            assert got == expected, (name, path)
    # The API record states the same, for the creator's own tools.
    listed = web.client.get("/api/v1/works", params={"creator": "alice"}).json()
    assert {w["work_id"]: w["consent"] for w in listed} == {ids[name]: name for name in EXPECTED}


def test_tdmrep_json_lists_every_public_work(three: tuple[Web, dict[str, str]]) -> None:
    web, ids = three
    response = web.client.get("/.well-known/tdmrep.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    rules = response.json()
    by_location = {rule.pop("location"): rule for rule in rules}
    assert len(by_location) == len(rules) == 9
    for name, expected in EXPECTED.items():
        rule = {k: (int(v) if k == "tdm-reservation" else v) for k, v in expected.items()}
        for path in (
            f"/works/{ids[name]}",
            f"/works/{ids[name]}/file",
            f"/api/v1/works/{ids[name]}/file",
        ):
            assert by_location[path] == rule
    for secret in ("private", "unlisted"):
        assert ids[secret] not in response.text


def test_robots_and_ai_txt_close_reserved_works_to_ai_crawlers(
    three: tuple[Web, dict[str, str]],
) -> None:
    web, ids = three
    robots = web.client.get("/robots.txt")
    ai = web.client.get("/ai.txt")
    for response in (robots, ai):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        disallowed = [x for x in response.text.splitlines() if x.startswith("Disallow:")]
        assert disallowed == [
            f"Disallow: /works/{ids['not-allowed']}",
            f"Disallow: /api/v1/works/{ids['not-allowed']}",
        ]
        for name in ("allowed", "constrained", "private", "unlisted"):
            assert ids[name] not in response.text
    groups = robots.text.split("\n\n")
    assert "User-agent: *\nAllow: /" in groups
    ai_group = next(g for g in groups if "User-agent: GPTBot" in g)
    for agent in ("CCBot", "Google-Extended", "ClaudeBot"):
        assert f"User-agent: {agent}" in ai_group
    assert ai_group.rstrip().endswith("Allow: /")

    # A creator who changes their mind changes the files.
    web.client.put(
        f"/api/v1/works/{ids['not-allowed']}/consent",
        headers=web.auth("alice"),
        json={"consent": "allowed"},
    ).raise_for_status()
    assert "Disallow:" not in web.client.get("/robots.txt").text


# The lookup -----------------------------------------------------------------------------------


def test_lookup_by_exact_digest(any_web: Web) -> None:
    registered = any_web.register("alice", consent="allowed")
    private = any_web.register("alice", b"Secret.\n", visibility="private")
    answer = lookup(
        any_web,
        [
            {"sha256": registered["sha256"]},
            {"text": POEM.decode().replace("\n", "\r\n")},
            {"sha256": private["sha256"]},
            {"pdq": "0" * 64},
        ],
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 1, 0, 0]
    match = results[0]["matches"][0]
    assert match["work_id"] == registered["work_id"]
    assert (match["consent"], match["kind"], match["creator"]) == ("allowed", "exact", "alice")
    assert match["url"].endswith(f"/works/{registered['work_id']}")
    assert answer.json()["near_copies_searched"] is False


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([{"sha256": "a" * 64}] * 1001, "at most 1,000 items"),
        ([{}], "has no keys"),
        ([{"sha256": "a" * 64, "pdq": "b" * 64}], "has 'pdq', 'sha256'"),
        ([{"sha256": "xyz"}], "must be 64 hexadecimal digits"),
        ([{"image_b64": "%%%"}], "is not valid base64"),
        ([{"image_b64": base64.b64encode(b"GIF89a broken").decode()}], "cannot be read"),
    ],
)
def test_lookup_refuses_bad_items(web: Web, items: list[dict[str, str]], message: str) -> None:
    assert message in problem(lookup(web, items), 400)["detail"]


def test_lookup_refuses_a_body_without_items(web: Web) -> None:
    document = problem(web.client.post("/api/v1/consent/lookup", json={"things": []}), 400)
    assert "'items' is required" in document["detail"]


def _limit(web: Web, **limits: int) -> None:
    web.inst.settings = web.inst.settings.model_copy(update=limits)


def test_lookup_is_rate_limited_per_client(web: Web) -> None:
    _limit(web, consent_lookup_per_minute=3)
    item = [{"sha256": "a" * 64}]
    for _ in range(3):
        assert lookup(web, item).status_code == 200
    refused = lookup(web, item)
    document = problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert document["retry_after"] == int(refused.headers["retry-after"])
    assert "Too many consent lookups" in document["detail"]
    # A client with a token is counted apart from the anonymous address.
    assert lookup(web, item, headers=web.auth("alice")).status_code == 200


def test_items_count_against_their_own_budget(web: Web) -> None:
    _limit(web, consent_lookup_items_per_minute=10)
    assert lookup(web, [{"sha256": "a" * 64}] * 10).status_code == 200
    refused = lookup(web, [{"sha256": "a" * 64}])
    assert "Too many consent lookup items" in problem(refused, 429)["detail"]
    assert refused.headers["retry-after"] == "6"
    too_big = lookup(web, [{"sha256": "a" * 64}] * 11, headers=web.auth("bruno"))
    assert "more than the 10 this instance accepts" in problem(too_big, 400)["detail"]


@pytest.fixture
def sim(any_web: Web) -> Iterator[Web]:
    inst = any_web.inst
    inst.settings = inst.settings.model_copy(update={"similarity_index": "memory"})
    yield any_web
    analysis.wait_idle(inst)


def test_lookup_finds_a_resized_image_and_an_edited_text(sim: Web) -> None:
    picture = make_image(12, (500, 380))
    text = make_work(41, words=200).text
    image_id = sim.register(
        "alice", encode(picture), filename="gulls.png", title="Gulls", consent="allowed"
    )["work_id"]
    text_id = sim.register("bruno", text.encode(), title="Harbour")["work_id"]
    analysis.wait_idle(sim.inst)

    copy = encode(resize(picture, 0.6), "JPEG", 85)
    answer = lookup(
        sim,
        [
            {"image_b64": base64.b64encode(copy).decode()},
            {"text": replace_words(text, 0.1, seed=3)},
            {"text": make_work(42, words=200).text},
        ],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["near_copies_searched"] is True
    [image_match], [text_match], [] = (r["matches"] for r in body["results"])
    assert (image_match["work_id"], image_match["consent"]) == (image_id, "allowed")
    assert (text_match["work_id"], text_match["consent"]) == (text_id, "not-allowed")
    assert image_match["kind"] == text_match["kind"] == "near-copy"
