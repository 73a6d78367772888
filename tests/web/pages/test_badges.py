"""Tests for :mod:`hallmark.web.pages.badges`: the SVG badge and the embed snippet (issue #6)."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest

from hallmark.core.labels import AssuranceLevel
from hallmark.services import registry
from hallmark.web.pages import badges
from hallmark.web.templating import LABELS, LEVELS, make_templates
from tests.web.conftest import HTML, POEM, Web, csrf_of, signup

SVG = "{http://www.w3.org/2000/svg}"
PUBLIC_URL = "http://127.0.0.1:8000"


def _svg(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "image/svg+xml"
    # Parsing proves the answer is well-formed XML, which a badge with a stray "<" is not.
    return ET.fromstring(response.text)


def _texts(svg: ET.Element) -> list[str]:
    return [text.text or "" for text in svg.iter(f"{SVG}text")]


def _contrast(foreground: str, background: str) -> float:
    """WCAG 2.2 contrast ratio of two ``#rrggbb`` colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize(
    ("declare", "fields", "label_name"),
    [
        ("human-made", {}, "Human-made"),
        ("ai-assisted", {"ai_share": "30"}, "AI-assisted"),
        ("ai-generated", {}, "AI-generated"),
    ],
)
def test_the_badge_shows_the_label_and_level(
    web: Web, declare: str, fields: dict[str, Any], label_name: str
) -> None:
    work_id = web.register("alice", declare=declare, **fields)["work_id"]
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.status_code == 200
    svg = _svg(response)
    assert _texts(svg) == ["Hallmark", label_name, "Declared"]
    expected = f"Hallmark certificate: {label_name}, assurance level Declared"
    assert svg.get("role") == "img"
    assert svg.get("aria-label") == expected
    title = svg.find(f"{SVG}title")
    assert title is not None and title.text == expected
    fills = [rect.get("fill") for rect in svg.iter(f"{SVG}rect") if rect.get("fill")]
    assert fills == [badges.BRAND_FILL, badges.LABEL_FILLS[declare], badges.LEVEL_FILL]


@pytest.mark.parametrize("level", list(AssuranceLevel))
def test_every_level_is_named_in_plain_words(level: AssuranceLevel) -> None:
    badge = badges.certificate_badge("human-made", level.value, revoked=False, link="/w")
    assert badge.segments[-1].text == LEVELS[level.value][0]
    assert badge.title.endswith(f"assurance level {LEVELS[level.value][0]}")


def test_a_raised_level_shows_and_changes_the_etag(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    before = web.client.get(f"/badge/{work_id}.svg")
    registry.reissue_certificate(
        web.inst, work_id, level=AssuranceLevel.REVIEWED, extra_evidence=[], reason="test"
    )
    after = web.client.get(f"/badge/{work_id}.svg")
    assert _texts(_svg(after))[-1] == "Reviewed"
    assert after.headers["etag"] != before.headers["etag"]


def test_every_colour_has_enough_contrast_with_the_text() -> None:
    fills = [
        badges.BRAND_FILL,
        badges.LEVEL_FILL,
        badges.REVOKED_FILL,
        badges.MUTED_FILL,
        *badges.LABEL_FILLS.values(),
    ]
    assert set(badges.LABEL_FILLS) == set(LABELS)
    for fill in fills:
        # WCAG 2.2 AA for normal-size text (1.4.3); the badge's text is 11px.
        assert _contrast(badges.TEXT_FILL, fill) >= 4.5, fill


def test_the_whole_badge_links_to_the_work_page(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    svg = _svg(web.client.get(f"/badge/{work_id}.svg"))
    link = svg.find(f"{SVG}a")
    assert link is not None
    assert link.get("href") == f"{PUBLIC_URL}/works/{work_id}"
    # Every shape and word is inside the link, so a click anywhere on the badge follows it.
    assert not [child for child in svg if child.tag not in (f"{SVG}title", f"{SVG}a")]
    assert web.client.get(f"/works/{work_id}", headers=HTML).status_code == 200


def test_a_revoked_certificate_says_so(web: Web) -> None:
    registered = web.register("alice")
    work_id = registered["work_id"]
    before = web.client.get(f"/badge/{work_id}.svg")
    revoked = web.client.post(
        f"/api/v1/certificates/{registered['certificate_id']}/revoke",
        headers=web.auth("alice"),
        json={"reason": "Wrong file."},
    )
    assert revoked.status_code == 200, revoked.text
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.status_code == 200
    svg = _svg(response)
    assert _texts(svg) == ["Hallmark", "Human-made", "Revoked"]
    assert svg.get("aria-label") == "Hallmark certificate: Human-made, revoked"
    fills = [rect.get("fill") for rect in svg.iter(f"{SVG}rect") if rect.get("fill")]
    assert fills == [badges.BRAND_FILL, badges.MUTED_FILL, badges.REVOKED_FILL]
    assert response.headers["etag"] != before.headers["etag"]


def _not_found(response: httpx.Response) -> None:
    assert response.status_code == 404
    svg = _svg(response)
    assert _texts(svg) == ["Hallmark", "not found"]
    assert svg.find(f"{SVG}a") is None
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("work_id", ["w_doesnotexist", "x" * 300, "%3Cscript%3E"])
def test_an_unknown_work_is_a_not_found_badge(web: Web, work_id: str) -> None:
    response = web.client.get(f"/badge/{work_id}.svg")
    _not_found(response)
    assert "script" not in response.text


def _upload_private(web: Web) -> str:
    page = web.client.get("/upload", headers=HTML)
    response = web.client.post(
        "/upload",
        headers=HTML,
        data={
            "csrf_token": csrf_of(page),
            "title": "Diary",
            "declare": "human-made",
            "visibility": "private",
        },
        files={"file": ("poem.txt", POEM, "text/plain")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].removeprefix("/works/")


def test_a_private_work_has_a_badge_only_for_its_creator(web: Web) -> None:
    signup(web.client, "clara")
    work_id = _upload_private(web)
    own = web.client.get(f"/badge/{work_id}.svg")
    assert own.status_code == 200
    # Drawn for one person only: no shared cache may keep it.
    assert own.headers["cache-control"] == "private, no-store"
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert "the\n  badge shows only to you" in page.text
    web.client.cookies.clear()
    _not_found(web.client.get(f"/badge/{work_id}.svg"))
    signup(web.client, "dana")
    _not_found(web.client.get(f"/badge/{work_id}.svg"))


def test_an_unlisted_work_has_a_badge(web: Web) -> None:
    work_id = web.register("alice", visibility="unlisted")["work_id"]
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.status_code == 200
    assert response.headers["cache-control"] == badges.PUBLIC_CACHE


def test_cache_headers_and_revalidation(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.headers["cache-control"] == "public, max-age=300"
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = web.client.get(f"/badge/{work_id}.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    stale = web.client.get(f"/badge/{work_id}.svg", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


def test_the_badge_needs_nothing_from_anywhere(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.headers["content-security-policy"] == badges.BADGE_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    text = response.text
    assert "<script" not in text and "<style" not in text and "@import" not in text
    # The only address in the badge is the link to the work page.
    addresses = re.findall(r"https?://[^\"' ]+", text)
    assert addresses == ["http://www.w3.org/2000/svg", f"{PUBLIC_URL}/works/{work_id}"]


def test_a_title_full_of_markup_never_reaches_the_badge(web: Web) -> None:
    title = '</title><script>alert("x")</script> & <a href="evil">'
    work_id = web.register("alice", title=title)["work_id"]
    response = web.client.get(f"/badge/{work_id}.svg")
    assert response.status_code == 200
    _svg(response)
    assert "alert" not in response.text and "evil" not in response.text


def test_everything_drawn_is_escaped() -> None:
    link = 'https://example.org/works/w?a=1&b="2"<script>'
    badge = badges.certificate_badge("<label>", "&level", revoked=False, link=link)
    text = badges.render_badge(make_templates().env, badge)
    svg = ET.fromstring(text)
    anchor = svg.find(f"{SVG}a")
    assert anchor is not None and anchor.get("href") == link
    assert _texts(svg) == ["Hallmark", "<label>", "&level"]
    assert "<script>" not in text and "<label>" not in text


def _snippet(page: httpx.Response) -> str:
    found = re.search(
        r'<textarea id="embed-code" class="embed-code" readonly[^>]*>(.*?)</textarea>',
        page.text,
        re.DOTALL,
    )
    assert found, "the work page has no embed snippet"
    return html.unescape(found.group(1))


def test_the_work_page_offers_the_embed_snippet(web: Web) -> None:
    work_id = web.register("alice", declare="ai-generated")["work_id"]
    page = web.client.get(f"/works/{work_id}", headers=HTML)
    assert '<label for="embed-code">HTML to copy</label>' in page.text
    assert f'<img src="/badge/{work_id}.svg"' in page.text
    snippet = _snippet(page)
    assert snippet == (
        f'<a href="{PUBLIC_URL}/works/{work_id}">'
        f'<img src="{PUBLIC_URL}/badge/{work_id}.svg" '
        'alt="Hallmark certificate: AI-generated" height="20"></a>'
    )
    # Copying is the browser's own select-and-copy: the page runs no script (JSON-LD data
    # blocks are not scripts that run).
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert all('type="application/ld+json"' in tag for tag in scripts), scripts


def test_the_snippet_points_at_a_badge_that_answers(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    snippet = _snippet(web.client.get(f"/works/{work_id}", headers=HTML))
    src = re.search(r'src="([^"]+)"', snippet)
    assert src
    response = web.client.get(src.group(1).removeprefix(PUBLIC_URL))
    assert response.status_code == 200 and _texts(_svg(response))[0] == "Hallmark"


def test_the_snippet_builder_escapes_its_values(web: Web) -> None:
    work_id = web.register("alice")["work_id"]
    with web.inst.db.session() as session:
        work = registry.get_work(session, work_id, None)
        snippet = badges.embed_snippet('https://x.example/"><script>', work)
    assert snippet is not None
    assert "<script>" not in snippet and "&quot;&gt;&lt;script&gt;" in snippet
