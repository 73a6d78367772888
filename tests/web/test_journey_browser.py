"""The main journey in a real browser (issue #7): write, certify, find, download, verify.

A new creator signs up, writes a short piece in the editor, finishes it, sees the certificate
and the authorship report, finds the work in the gallery and by search, opens the creator page,
downloads the bundle and checks the work with it on the verify page; then the insight charts
render. Screenshots of each main page go to ``$HALLMARK_SCREENSHOTS`` (default
``build/screenshots``) for people to look at.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_browser import base_url as base_url  # the live-server fixture
from tests.web.test_editor_browser import (
    csp_violations,
    finish,
    sign_up,
    type_text,
    wait_saved,
    watch_console,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("HALLMARK_SCREENSHOTS") or ROOT / "build" / "screenshots")
TITLE = "Salt on the Ferry Rail"
TEXT = "Salt dries white on the ferry rail, and a boy writes his name in it with one finger."


@pytest.fixture
def context() -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_context(viewport={"width": 1100, "height": 900})
        finally:
            browser.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"journey-{name}.png"), full_page=True)


def test_write_certify_find_download_and_verify(
    base_url: str, context: BrowserContext, tmp_path: Path
) -> None:
    page = context.new_page()
    console = watch_console(page)
    sign_up(page, base_url, "ines")

    # Write in the editor, key by key, and finish.
    page.get_by_role("link", name="Write").click()
    page.locator("#editor-title").fill(TITLE)
    page.locator("#editor-text").click()
    type_text(page, TEXT, random.Random(7), 5, 25)
    wait_saved(page)
    shoot(page, "editor")
    work_id = finish(page, base_url)

    # The certificate and the authorship report.
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    card = page.get_by_role("complementary", name="Certificate")
    expect(card).to_contain_text("Human-made")
    expect(card).to_contain_text("Process verified")
    shoot(page, "work")
    page.get_by_role("link", name="Authorship report").click()
    expect(page).to_have_url(f"{base_url}/works/{work_id}/authorship")
    expect(page.locator(".chart svg").first).to_have_attribute("role", "img")
    shoot(page, "report")

    # The gallery shows human-made work by default; the new work is on its first page.
    page.get_by_role("link", name="Gallery").click()
    expect(page).to_have_url(re.compile(r"/gallery"))
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    shoot(page, "gallery")

    # Search from the box in the navigation finds it by a word of its text.
    page.get_by_label("Search works").fill("ferry")
    page.get_by_label("Search works").press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=ferry"))
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    shoot(page, "search")

    # The creator page counts it.
    page.goto(f"{base_url}/creators/ines")
    expect(page.get_by_role("heading", name=re.compile("ines"))).to_be_visible()
    expect(page.get_by_role("link", name=TITLE)).to_be_visible()
    shoot(page, "creator")

    # Download the bundle and the work, then verify the work with its bundle.
    page.goto(f"{base_url}/works/{work_id}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download bundle").click()
    bundle = tmp_path / "work.hallmark.json"
    download_info.value.save_as(bundle)
    assert json.loads(bundle.read_text("utf-8"))["certificate"]
    work_file = tmp_path / "work.txt"
    response = page.request.get(f"{base_url}/works/{work_id}/file")
    assert response.ok
    work_file.write_bytes(response.body())

    page.get_by_role("link", name="Verify", exact=True).click()
    page.get_by_label("The work").set_input_files(str(work_file))
    page.get_by_label(re.compile("Its bundle")).set_input_files(str(bundle))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict-heading")).to_have_text("Valid")
    shoot(page, "verify")

    # The insight charts render as SVG, each followed by its data.
    page.get_by_role("link", name="Insights").click()
    expect(page).to_have_url(f"{base_url}/insights")
    charts = page.locator("figure svg")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 3
    assert page.locator("table").count() >= 3
    shoot(page, "insights")

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content, and
    # the gallery's filters are reachable by Tab with visible labels.
    page.goto(f"{base_url}/gallery")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SELECT":
            break
    control = page.evaluate("document.activeElement.id")
    assert control and page.locator(f"label[for='{control}']").count() == 1

    # The same pages on a phone-sized screen scroll only vertically.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/gallery", f"/works/{work_id}", "/insights"):
        page.goto(f"{base_url}{path}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, (path, overflow)
    shoot(page, "phone-insights")

    assert not csp_violations(console), console
    assert not [line for line in console if line.startswith("error")], console
