"""Tests for :mod:`hallmark.web.pages.gallery`: the gallery, the search page and thumbnails
(issue #7, items 1, 2 and 7)."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.web.conftest import HTML, PASSWORD, Web, login


def picture(
    size: tuple[int, int] = (900, 600), colour: tuple[int, int, int] = (20, 90, 140)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def cards(page_text: str) -> list[str]:
    return re.findall(r'<article aria-labelledby="card-(w_[0-9a-z]+)">', page_text)


def test_the_gallery_shows_human_made_work_by_default(any_web: Web) -> None:
    human = any_web.register("alice", title="Gulls")["work_id"]
    assisted = any_web.register(
        "bruno", b"Half of it from a model.\n", title="Helped", declare="ai-assisted", ai_share="40"
    )["work_id"]
    page = any_web.client.get("/gallery", headers=HTML)
    assert page.status_code == 200
    assert cards(page.text) == [human]
    assert 'href="/gallery?label=all"' in page.text
    every = any_web.client.get("/gallery?label=all", headers=HTML)
    assert cards(every.text) == [assisted, human]
    only = any_web.client.get("/gallery?label=ai-assisted&kind=text", headers=HTML)
    assert cards(only.text) == [assisted]
    assert '<option value="ai-assisted" selected>' in only.text


def test_a_card_shows_the_work_its_creator_and_its_badge(web: Web) -> None:
    text_id = web.register(
        "alice", b"<script>alert(1)</script>\nsecond line\n", title="<i>Gulls</i>"
    )["work_id"]
    image_id = web.register("bruno", picture(), filename="sea.png", title="Sea")["work_id"]
    page = web.client.get("/gallery", headers=HTML).text
    assert "<script>alert(1)</script>" not in page and "<i>Gulls</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line" in page
    assert "&lt;i&gt;Gulls&lt;/i&gt;" in page
    assert f'src="/works/{image_id}/thumbnail"' in page
    assert f'src="/badge/{text_id}.svg"' in page and f'src="/badge/{image_id}.svg"' in page
    assert 'href="/creators/alice"' in page and 'href="/creators/bruno"' in page
    assert "Human-made, assurance level Declared" in page


def test_pages_follow_the_cursor(web: Web) -> None:
    registered = [
        web.register("alice", f"Pebble {n}.\n".encode(), title=f"Pebble {n}")["work_id"]
        for n in range(30)
    ]
    first = web.client.get("/gallery", headers=HTML).text
    found = re.search(r'href="(/gallery\?cursor=[^"]+)" rel="next"', first)
    assert found, "no next link"
    second = web.client.get(found.group(1).replace("&amp;", "&"), headers=HTML).text
    assert cards(first) + cards(second) == registered[::-1]
    assert 'rel="next"' not in second and 'href="/gallery">Back to the newest' in second


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/gallery?label=handmade", "is not a label"),
        ("/gallery?level=gold", "is not a level"),
        ("/gallery?kind=video", "is not a kind"),
        ("/gallery?consent=maybe", "is not a consent"),
        ("/gallery?cursor=not-a-cursor", "cursor"),
        ("/search?q=x&label=%3Cscript%3E", "is not a label"),
    ],
)
def test_bad_filters_are_a_clear_400_page(web: Web, url: str, words: str) -> None:
    page = web.client.get(url, headers=HTML)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert words in page.text
    assert ("Use one of" in page.text) or url.startswith("/gallery?cursor")
    assert "<script>" not in page.text


def test_search_finds_by_title_creator_and_text(any_web: Web) -> None:
    poem = any_web.register("alice", title="Harbour")["work_id"]
    other = any_web.register("bruno", b"Lighthouse keepers at dawn.\n", title="Keepers")["work_id"]
    for query, expected in (("harbour", [poem]), ("bruno", [other]), ("gulls", [poem])):
        page = any_web.client.get("/search", params={"q": query}, headers=HTML)
        assert page.status_code == 200 and cards(page.text) == expected, query
    quoted = any_web.client.get("/search", params={"q": '"the gulls"'}, headers=HTML).text
    assert cards(quoted) == [poem] and "<q>the gulls</q>" in quoted


@pytest.mark.parametrize(
    "query",
    ['"', "NEAR(", "*", "-", "a OR", "<script>alert(1)</script>", "title:x", "%", "\\", "'"],
)
def test_hostile_searches_are_a_page_not_an_error(web: Web, query: str) -> None:
    web.register("alice")
    page = web.client.get("/search", params={"q": query}, headers=HTML)
    assert page.status_code == 200
    assert "<script>alert" not in page.text


def test_the_search_page_without_a_query_is_just_the_form(web: Web) -> None:
    page = web.client.get("/search", headers=HTML)
    assert page.status_code == 200
    assert '<label for="search-q">' in page.text and "Works matching" not in page.text
    nothing = web.client.get("/search?q=%21%21", headers=HTML).text
    assert "No words to search for" in nothing


def test_search_shows_human_made_unless_asked(web: Web) -> None:
    web.register("alice", b"A tern over the estuary.\n", title="Tern", declare="ai-generated")
    page = web.client.get("/search?q=tern", headers=HTML).text
    assert cards(page) == [] and 'href="/search?q=tern&amp;label=all"' in page
    assert len(cards(web.client.get("/search?q=tern&label=all", headers=HTML).text)) == 1


def test_private_and_revoked_works_never_show(any_web: Web) -> None:
    private = any_web.register("alice", b"Private rowan.\n", title="Rowan", visibility="private")
    revoked = any_web.register("alice", b"Revoked rowan.\n", title="Rowan")
    public = any_web.register("alice", b"Public rowan.\n", title="Rowan")["work_id"]
    any_web.client.post(
        f"/api/v1/certificates/{revoked['certificate_id']}/revoke",
        headers=any_web.auth("alice"),
        json={"reason": "withdrawn"},
    )
    for url in ("/gallery", "/search?q=rowan", "/creators/alice"):
        page = any_web.client.get(url, headers=HTML).text
        assert cards(page) == [public], url
        assert private["work_id"] not in page and revoked["work_id"] not in page


def test_the_nav_has_the_gallery_and_a_labelled_search_box(web: Web) -> None:
    page = web.client.get("/", headers=HTML).text
    assert '<a href="/gallery">Gallery</a>' in page
    assert '<form class="nav-search" method="get" action="/search" role="search">' in page
    assert '<label class="visually-hidden" for="site-search">Search works</label>' in page
    current = web.client.get("/gallery", headers=HTML).text
    assert '<a href="/gallery" aria-current="page">Gallery</a>' in current


def test_no_inline_scripts_or_styles(web: Web) -> None:
    web.register("alice")
    for url in ("/gallery", "/search?q=harbour", "/creators/alice"):
        page = web.client.get(url, headers=HTML).text
        assert "<script" not in page and "style=" not in page and "<style" not in page


def test_a_thumbnail_is_small_cached_and_follows_visibility(web: Web) -> None:
    work_id = web.register("alice", picture((1600, 1200)), filename="big.png", title="Big")[
        "work_id"
    ]
    answer = web.client.get(f"/works/{work_id}/thumbnail")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/webp"
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert answer.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(answer.content)) as thumb:
        assert thumb.size == (480, 360)
    assert list((web.inst.settings.home / "cache" / "thumbnails").rglob("*.webp"))
    again = web.client.get(
        f"/works/{work_id}/thumbnail", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content

    hidden = web.register(
        "alice",
        picture(colour=(200, 10, 10)),
        filename="h.png",
        title="Hidden",
        visibility="private",
    )["work_id"]
    assert web.client.get(f"/works/{hidden}/thumbnail").status_code == 404
    text_work = web.register("alice")["work_id"]
    assert web.client.get(f"/works/{text_work}/thumbnail").status_code == 404


def test_the_owner_sees_their_private_thumbnail(web: Web) -> None:
    web.add_person("ola", password=PASSWORD)
    hidden = web.register(
        "ola", picture(colour=(5, 5, 5)), filename="o.png", title="Mine", visibility="private"
    )["work_id"]
    assert login(web.client, "ola").status_code == 303
    answer = web.client.get(f"/works/{hidden}/thumbnail")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "private, no-store"
