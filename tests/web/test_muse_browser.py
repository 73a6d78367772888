"""A real browser writes with the muse (issue #8): asks for a continuation and inserts it, copies
ideas and pastes them, submits, and finds the muse credited in the report and the certificate;
switches prose off; stops a suggestion midway; meets a muse that is down.

The app runs under uvicorn (``base_url`` of ``test_browser.py``) with the fast test backends of
``tests/muse/fake_backend.py``, chosen by the ``muse_backend`` setting like any backend.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from hallmark.services.instance import Instance
from tests.conftest import make_instance
from tests.muse.fake_backend import CONTINUATION, IDEAS, registered
from tests.web.test_browser import CHROMIUM
from tests.web.test_browser import base_url as base_url  # the live-server fixture
from tests.web.test_editor_browser import context as context  # a Chromium context
from tests.web.test_editor_browser import (
    csp_violations,
    fetch_json,
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

OPENING = "The tide went out at noon, and the gulls came down to argue over what it left."


@pytest.fixture
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """The instance ``base_url`` serves, with the muse backend named by the test's parameter
    (``fake`` by default)."""
    backend = getattr(request, "param", "fake")
    with registered():
        inst = make_instance(tmp_path / "home", muse_backend=backend)
        yield inst
        inst.close()


def start_writing(page: Page, base_url: str, handle: str) -> None:
    sign_up(page, base_url, handle)
    page.goto(f"{base_url}/write")
    page.locator("#editor-title").fill("Low tide")
    page.locator("#editor-text").click()
    type_text(page, OPENING, random.Random(8))
    expect(page).to_have_url(re.compile(r"/write/d_[0-9a-z]+$"))
    wait_saved(page)


def test_a_continuation_inserted_and_ideas_pasted_are_credited_to_the_muse(
    base_url: str, context: BrowserContext
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    console = watch_console(page)
    start_writing(page, base_url, "mara")
    muse = page.locator("#muse")

    muse.get_by_role("button", name="Continue").click()
    suggestion = muse.locator(".muse-suggestion[data-mode='continue']")
    expect(suggestion.locator(".muse-text")).to_have_text(CONTINUATION)
    expect(muse.locator("#muse-status")).to_contain_text("Done")
    suggestion.get_by_role("button", name="Insert").click()
    expect(page.locator("#editor-text")).to_have_value(OPENING + " " + CONTINUATION)
    expect(muse.locator("#muse-status")).to_contain_text("Inserted")

    muse.get_by_role("button", name="Ideas").click()
    ideas = muse.locator(".muse-suggestion[data-mode='ideas']")
    expect(ideas.locator(".muse-text")).to_have_text(IDEAS)
    ideas.get_by_role("button", name="Copy").click()
    expect(muse.locator("#muse-status")).to_contain_text("Copied")
    page.locator("#editor-text").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+V")
    final = OPENING + " " + CONTINUATION + "\n" + IDEAS
    expect(page.locator("#editor-text")).to_have_value(final)
    wait_saved(page)

    draft_id = page.url.rsplit("/", 1)[1]
    listed = fetch_json(page, f"{base_url}/api/v1/drafts/{draft_id}/muse")["suggestions"]
    continuation, idea = listed
    assert (continuation["mode"], continuation["used"]) == ("continue", True)
    assert (idea["mode"], idea["used"], idea["copies"]) == ("ideas", True, 1)

    work_id = finish(page, base_url)
    card = page.get_by_role("complementary", name="Certificate")
    expect(card).to_contain_text("AI-assisted")
    expect(card).to_contain_text("made 2 suggestions while it was written; the text of 2 went")
    page.get_by_role("link", name="Authorship report").click()
    expect(page).to_have_url(f"{base_url}/works/{work_id}/authorship")

    events = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/journal")["events"]
    muse_events = [e for e in events if e["op"] == "muse"]
    assert [e["ref"] for e in muse_events] == [continuation["id"], idea["id"]]
    assert [e["text"] for e in muse_events] == [" " + CONTINUATION, IDEAS]
    report = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/authorship")
    share = report["shares"]["muse"]
    assert share == pytest.approx(100 * len(" " + CONTINUATION + IDEAS) / len(final), abs=0.01)
    assert report["ai_share"] == share and report["muse"]["used"] == 2
    section = page.get_by_role("region", name="The muse")
    expect(section).to_contain_text(f"{share:g}% of the final text came from the muse")
    expect(section.locator("table")).to_contain_text("continue")

    assert not csp_violations(console), console
    assert not [line for line in console if line.startswith("error")], console


def test_with_prose_switched_off_the_panel_offers_none(
    base_url: str, context: BrowserContext
) -> None:
    page = context.new_page()
    console = watch_console(page)
    start_writing(page, base_url, "nils")
    muse = page.locator("#muse")
    continue_button = muse.get_by_role("button", name="Continue")
    expect(continue_button).to_be_visible()
    muse.get_by_label("Offer prose").uncheck()
    expect(muse.locator("#muse-status")).to_have_text("The muse writes no prose for this draft.")
    expect(continue_button).to_be_hidden()

    page.reload()
    expect(muse.get_by_label("Offer prose")).not_to_be_checked()
    expect(muse.get_by_role("button", name="Continue")).to_be_hidden()
    muse.get_by_role("button", name="Questions").click()
    question = muse.locator(".muse-suggestion[data-mode='questions']")
    expect(question.get_by_role("button", name="Copy")).to_be_visible()
    expect(question.get_by_role("button", name="Insert")).to_have_count(0)

    # Nor does the API give prose for this draft, whoever asks it how.
    draft_id = page.url.rsplit("/", 1)[1]
    status = page.evaluate(
        """id => fetch('/api/v1/drafts/' + id + '/muse', {
              method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json', 'Accept': 'text/event-stream',
                        'X-CSRF-Token': document.getElementById('editor').dataset.csrf},
              body: JSON.stringify({mode: 'continue'})}).then(r => r.status)""",
        draft_id,
    )
    assert status == 409
    assert not csp_violations(console), console


@pytest.mark.parametrize("instance", ["fake-slow"], indirect=True)
def test_a_suggestion_can_be_stopped_midway(base_url: str, context: BrowserContext) -> None:
    page = context.new_page()
    start_writing(page, base_url, "olga")
    muse = page.locator("#muse")
    muse.get_by_role("button", name="Continue").click()
    text = muse.locator(".muse-suggestion .muse-text")
    expect(text).to_contain_text("The gulls", timeout=10_000)
    muse.get_by_role("button", name="Stop").click()
    expect(muse.locator("#muse-status")).to_contain_text("Stopped")
    expect(muse.locator(".muse-suggestion")).to_have_attribute("data-status", "cancelled")
    expect(muse.get_by_role("button", name="Stop")).to_be_hidden()

    draft_id = page.url.rsplit("/", 1)[1]
    url = f"{base_url}/api/v1/drafts/{draft_id}/muse"
    deadline = 50
    while fetch_json(page, url)["suggestions"][0]["status"] == "streaming" and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    (stopped,) = fetch_json(page, url)["suggestions"]
    assert stopped["status"] == "cancelled"
    assert stopped["text"] and CONTINUATION.startswith(stopped["text"])
    assert stopped["text"] != CONTINUATION


@pytest.mark.parametrize("instance", ["fake-down"], indirect=True)
def test_a_muse_that_is_down_says_so_and_the_editor_keeps_working(
    base_url: str, context: BrowserContext
) -> None:
    page = context.new_page()
    console = watch_console(page)
    start_writing(page, base_url, "pia")
    muse = page.locator("#muse")
    muse.get_by_role("button", name="Questions").click()
    status = muse.locator("#muse-status")
    expect(status).to_contain_text("The muse's model server cannot be reached.")
    expect(status).to_have_class(re.compile("form-error"))
    expect(muse.get_by_role("button", name="Questions")).to_be_enabled()

    page.locator("#editor-text").click()
    page.keyboard.press("Control+End")
    type_text(page, " Nobody looked up.", random.Random(2))
    wait_saved(page)
    expect(page.locator("#editor-text")).to_have_value(OPENING + " Nobody looked up.")
    assert not csp_violations(console), console
