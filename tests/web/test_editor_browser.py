"""A real browser writes in the editor: the journal it records, the report, the replay (issue #3).

The app runs under uvicorn on a free localhost port (the ``base_url`` fixture of
``test_browser.py``) and Debian's Chromium types into it through Playwright, key by key with
random delays, so the journal holds what a browser really sends: typing, deletions, a paste,
undo and redo, IME composition, a reload in the middle, a stretch offline.

With ``HALLMARK_RECORD_JOURNALS=1`` the last test records the two browser journals kept in
``tests/fixtures/journals`` (a person-like session and a scripted one) instead of skipping.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from hallmark.core import journal
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.web.test_browser import base_url as base_url  # the live-server fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]

FIXTURES = Path(__file__).parent.parent / "fixtures" / "journals"
PASSWORD = "a long enough password"

OPENING = "The tide went out at noon, and the gulls came down to argue over what it left."
SECOND = " Nobody on the quay looked up."
PASTED = (
    "Tide table for the harbour: low water 12:04, height 0.8 m; high water 18:17, height 4.1 m. "
    "Sunset 16:32."
)
CLOSING = "\n\nI copied that from the board by the ferry office."


@pytest.fixture
def context() -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            ctx = browser.new_context()
            yield ctx
        finally:
            browser.close()


def watch_console(page: Page) -> list[str]:
    lines: list[str] = []
    page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
    return lines


def csp_violations(lines: list[str]) -> list[str]:
    return [line for line in lines if "Content Security Policy" in line]


def sign_up(page: Page, base_url: str, handle: str) -> None:
    page.goto(f"{base_url}/signup")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base_url}/upload")


def type_text(
    page: Page, text: str, rng: random.Random, low_ms: int = 15, high_ms: int = 70
) -> None:
    """Type key by key, waiting a random time between keys, as a (fast) person would."""
    for char in text:
        page.keyboard.type(char)
        page.wait_for_timeout(rng.randint(low_ms, high_ms))


def wait_saved(page: Page) -> None:
    expect(page.locator("#editor")).to_have_attribute("data-state", "saved", timeout=20_000)


def editor_value(page: Page) -> str:
    value: str = page.locator("#editor-text").input_value()
    return value


def finish(page: Page, base_url: str, *, title: str | None = None) -> str:
    """Submit with the finish form; return the new work's id."""
    if title is not None:
        page.locator("#editor-title").fill(title)
    page.get_by_role("button", name="Finish and certify").click()
    expect(page).to_have_url(re.compile(r"/works/w_[0-9a-z]+$"), timeout=20_000)
    work_id = page.url.rsplit("/", 1)[1]
    return work_id


def fetch_json(page: Page, url: str) -> Any:
    response = page.request.get(url)
    assert response.ok, response.text()
    return response.json()


def test_write_reload_paste_submit_then_report_and_replay(
    base_url: str, context: BrowserContext
) -> None:
    rng = random.Random(3)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    console = watch_console(page)
    sign_up(page, base_url, "clara")

    page.get_by_role("link", name="Write").click()
    expect(page).to_have_url(f"{base_url}/write")
    page.locator("#editor-title").fill("Low <tide>")
    page.locator("#editor-text").click()
    type_text(page, OPENING, rng)
    # Delete the last word and type it again.
    for _ in "left.":
        page.keyboard.press("Backspace")
        page.wait_for_timeout(rng.randint(30, 90))
    type_text(page, "left.", rng)
    expect(page).to_have_url(re.compile(r"/write/d_[0-9a-z]+$"))
    wait_saved(page)

    # Reload before the next changes are sent: they wait in localStorage and are sent after.
    type_text(page, SECOND, rng, 5, 15)
    unsent = page.evaluate("document.getElementById('editor').journalQueue().length")
    assert unsent > 0
    page.reload()
    expect(page.locator("#editor-text")).to_have_value(OPENING + SECOND)
    expect(page.locator("#editor-title")).to_have_value("Low <tide>")
    wait_saved(page)

    page.locator("#editor-text").click()
    page.keyboard.press("Control+End")
    type_text(page, "\n\n", rng)
    page.evaluate("text => navigator.clipboard.writeText(text)", PASTED)
    page.keyboard.press("Control+V")
    type_text(page, CLOSING, rng)
    final = OPENING + SECOND + "\n\n" + PASTED + CLOSING
    expect(page.locator("#editor-text")).to_have_value(final)
    expect(page.locator("#char-count")).to_have_text(f"{len(final):,} characters")
    wait_saved(page)

    draft_id = page.url.rsplit("/", 1)[1]
    draft = fetch_json(page, f"{base_url}/api/v1/drafts/{draft_id}")
    assert draft["text"] == final

    work_id = finish(page, base_url)
    expect(page.get_by_role("heading", name="Low <tide>")).to_be_visible()
    page.get_by_role("link", name="Authorship report").click()
    expect(page).to_have_url(f"{base_url}/works/{work_id}/authorship")

    # The shares match what was done: the block was pasted, everything else typed.
    report = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/authorship")
    pasted_share = 100 * len(PASTED) / len(final)
    assert report["shares"]["pasted"] == pytest.approx(pasted_share, abs=0.01)
    assert report["shares"]["typed"] == pytest.approx(100 - pasted_share, abs=0.01)
    assert report["shares"]["muse"] == 0 and report["longest_paste"] == len(PASTED)
    assert report["deleted_chars"] == len("left.")
    table = page.locator("table.data-table").first
    expect(table.get_by_role("row", name=re.compile("^Pasted"))).to_contain_text(
        f"{round(pasted_share, 2):g}%"
    )
    expect(page.locator(".chart svg").first).to_have_attribute("role", "img")

    # The replay player rebuilds exactly the final text, playing and scrubbing.
    expect(page.locator("#replay-status")).to_contain_text("Ready", timeout=10_000)
    page.locator("#replay-speed").select_option("64")
    page.get_by_role("button", name="Play").click()
    expect(page.locator("#replay-play")).to_have_text("Play again", timeout=30_000)
    assert page.locator("#replay-text").text_content() == final
    expect(page.locator("#replay-match")).to_have_attribute("data-match", "yes")
    page.locator("#replay-range").focus()
    page.keyboard.press("Home")
    assert page.locator("#replay-text").text_content() == ""
    page.keyboard.press("End")
    assert page.locator("#replay-text").text_content() == final

    assert not csp_violations(console), console
    assert not [line for line in console if line.startswith("error")], console


def test_the_offline_queue_is_sent_once_back_online(base_url: str, context: BrowserContext) -> None:
    rng = random.Random(5)
    page = context.new_page()
    console = watch_console(page)
    sign_up(page, base_url, "dana")
    page.goto(f"{base_url}/write")
    page.locator("#editor-text").click()
    type_text(page, "Before the storm.", rng)
    wait_saved(page)

    context.set_offline(True)
    offline_part = " The line went down 🌊 and I kept writing — ünïcode and all."
    type_text(page, offline_part, rng)
    expect(page.locator("#editor")).to_have_attribute("data-state", "offline")
    expect(page.locator("#save-status")).to_have_text("Offline — will retry")
    page.wait_for_timeout(3000)  # past the usual send time: nothing may be lost or sent twice
    context.set_offline(False)
    wait_saved(page)

    text = "Before the storm." + offline_part
    draft_id = page.url.rsplit("/", 1)[1]
    draft = fetch_json(page, f"{base_url}/api/v1/drafts/{draft_id}")
    assert draft["text"] == text
    assert draft["next_seq"] == len(text)  # one event per key, no deletions

    work_id = finish(page, base_url, title="Storm")
    events = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/journal")["events"]
    assert [e["seq"] for e in events] == list(range(len(text)))
    assert journal.replay(events).text == text
    assert not csp_violations(console), console


def test_paste_undo_redo_cut_and_ime_are_told_apart(base_url: str, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    page = context.new_page()
    console = watch_console(page)
    sign_up(page, base_url, "emil")
    page.goto(f"{base_url}/write")
    area = page.locator("#editor-text")
    area.click()
    page.keyboard.type("Spring ", delay=30)
    page.evaluate("navigator.clipboard.writeText('rain')")
    page.keyboard.press("Control+V")
    page.keyboard.press("Control+Z")
    page.keyboard.press("Control+Shift+Z")
    page.keyboard.type(", then ", delay=30)
    # An IME composes in steps; only the committed text is recorded, as typing.
    cdp = context.new_cdp_session(page)
    cdp.send("Input.imeSetComposition", {"text": "は", "selectionStart": 1, "selectionEnd": 1})
    cdp.send("Input.imeSetComposition", {"text": "春", "selectionStart": 1, "selectionEnd": 1})
    cdp.send("Input.insertText", {"text": "春雨"})
    # Cut the first word and paste it at the end: it keeps its origin (typed).
    area.evaluate("el => el.setSelectionRange(0, 6)")
    page.keyboard.press("Control+X")
    page.keyboard.press("Control+End")
    page.keyboard.press("Control+V")
    # Paste over a selection: the whole pasted text counts as pasted, not just what differs.
    page.evaluate("navigator.clipboard.writeText('and then')")
    area.evaluate("el => el.setSelectionRange(7, 11)")
    page.keyboard.press("Control+V")
    final = " rain, and then 春雨Spring"
    expect(area).to_have_value(final)
    wait_saved(page)

    work_id = finish(page, base_url, title="Rain")
    events = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/journal")["events"]
    kinds = [(e["op"], e.get("src"), e.get("text", e.get("len"))) for e in events]
    assert ("paste", None, "rain") in kinds
    assert ("delete", "undo", 4) in kinds and ("insert", "undo", 4) not in kinds
    assert ("insert", "redo", "rain") in kinds
    assert ("insert", "ime", "春雨") in kinds
    assert not [k for k in kinds if k[2] in ("は", "春")]  # no intermediate composition
    assert ("delete", "cut", 6) in kinds and ("paste", "copy", "Spring") in kinds
    assert kinds[-2:] == [("delete", None, 4), ("paste", None, "and then")]
    report = journal.replay(events)
    assert report.text == final
    assert report.counts["pasted"] == len("rain") + len("and then")
    assert report.counts["typed"] == len(final) - report.counts["pasted"]
    assert not csp_violations(console), console


def test_a_text_the_journal_does_not_explain_is_refused_with_the_reason(
    base_url: str, context: BrowserContext
) -> None:
    page = context.new_page()
    console = watch_console(page)
    sign_up(page, base_url, "fern")
    page.goto(f"{base_url}/write")
    page.locator("#editor-title").fill("Sneaked")
    page.locator("#editor-text").click()
    page.keyboard.type("Typed by me.", delay=40)
    wait_saved(page)
    # A script changes the text without any input event, so the journal never sees it.
    page.locator("#editor-text").evaluate("el => { el.value += ' Not by me.'; }")
    page.get_by_role("button", name="Finish and certify").click()
    error = page.locator("#finish-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("not what the journal replays to")
    expect(page).to_have_url(re.compile(r"/write/d_[0-9a-z]+$"))
    expect(page.get_by_role("button", name="Finish and certify")).to_be_enabled()
    assert not csp_violations(console), console


# Recording the fixture journals --------------------------------------------------------------

HUMAN_TEXT = (
    "The first winter in the new flat, I learned the sounds of the building before I learned "
    "the names of my neighbours. The radiator knocked twice at six, as if someone small were "
    "asking to be let in. The lift complained on the fourth floor and sighed on the fifth. On "
    "Sundays a cello started up somewhere below me, always the same slow phrase, played again "
    "and again until it came out right, or until the player gave up and made tea. I never "
    "found out who it was. I could have knocked on doors, but it felt like reading someone's "
    "letters.\n\n"
    "By February I had started to time my own days around these noises. I wrote in the "
    "mornings, after the radiator and before the lift got busy, and I stopped when the cello "
    "began. Some weeks the writing went well and some weeks it did not, and the building "
    "carried on regardless, which I found a comfort. A house does not care whether you "
    "finished the chapter. It keeps its hours. When I moved out in the spring, the cellist "
    "had finally got the phrase right, and I stood on the landing with my boxes and listened "
    "to the whole of it, once, before the lift came."
)

#: Slips typed before the right words, then erased: (the right text, what was typed first).
HUMAN_SLIPS = {
    "neighbours": "neighbuors",
    "complained": "complianed",
    "regardless": "regradless",
    "the whole of it": "all of it",
    "a comfort": "oddly calming, really",
}

SCRIPTED_TEXT = (
    "Harbour lights came on one by one along the quay while the ferry turned slowly in the "
    "channel. A man in a yellow coat coiled rope on the slipway and did not look up when the "
    "horn sounded. The cafe by the ticket office stacked its chairs, and the smell of diesel "
    "and frying drifted over the water. Two boys fished from the end of the pier with a "
    "single rod between them, taking turns and arguing about whose turn it was. The tide was "
    "on the turn. Out past the breakwater the sea was the colour of slate, and the last of the "
    "gulls were heading inland. On the hill above the town the church clock struck seven, a "
    "little late as always, and somewhere a door banged in the wind. By the time the ferry "
    "tied up, the quay was empty except for the man in the yellow coat, who finished his rope, "
    "put his hands in his pockets, and walked home along the sea wall without hurrying."
)


def _record_human(page: Page, rng: random.Random) -> None:
    """Type HUMAN_TEXT as a person does: uneven keys, pauses at sentences, slips put right."""
    text = HUMAN_TEXT
    index = 0
    while index < len(text):
        slip = next((s for s in HUMAN_SLIPS if text.startswith(s, index)), None)
        if slip is not None and rng.random() < 0.95:
            wrong = HUMAN_SLIPS[slip]
            _type_lognormal(page, wrong, rng)
            page.wait_for_timeout(rng.randint(400, 1600))  # noticing the slip
            for _ in wrong:
                page.keyboard.press("Backspace")
                page.wait_for_timeout(int(rng.lognormvariate(4.3, 0.3)))
            _type_lognormal(page, slip, rng)
            index += len(slip)
            continue
        char = text[index]
        _type_lognormal(page, char, rng)
        if char in ".!?" and text[index + 1 : index + 2] in (" ", "\n"):
            page.wait_for_timeout(rng.randint(1200, 4500))  # thinking between sentences
        elif char == "," and rng.random() < 0.3:
            page.wait_for_timeout(rng.randint(500, 1500))
        index += 1


def _type_lognormal(page: Page, text: str, rng: random.Random) -> None:
    for char in text:
        page.keyboard.type(char)
        # Median about 150 ms between keys, with the long right tail of real typing.
        delay = rng.lognormvariate(5.0, 0.45)
        if char == " ":
            delay *= 1.4
        page.wait_for_timeout(int(min(delay, 1800)))


def _record(
    context: BrowserContext, base_url: str, handle: str, title: str, write: Any
) -> dict[str, Any]:
    page = context.new_page()
    sign_up(page, base_url, handle)
    page.goto(f"{base_url}/write")
    page.locator("#editor-text").click()
    started = time.monotonic()
    write(page)
    text = editor_value(page)
    wait_saved(page)
    work_id = finish(page, base_url, title=title)
    events = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/journal")["events"]
    report = fetch_json(page, f"{base_url}/api/v1/works/{work_id}/authorship")
    page.close()
    return {
        "text": text,
        "events": events,
        "recorded_seconds": round(time.monotonic() - started),
        "flags_when_recorded": [flag["code"] for flag in report["flags"]],
    }


def fixture_json(doc: dict[str, Any]) -> str:
    """JSON with one event a line, so a diff of a re-recorded fixture stays readable."""
    head = {key: value for key, value in doc.items() if key != "events"}
    lines = [json.dumps(event, ensure_ascii=False, sort_keys=True) for event in doc["events"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "events": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("HALLMARK_RECORD_JOURNALS") != "1",
    reason="records the fixture journals only when HALLMARK_RECORD_JOURNALS=1",
)
def test_record_journal_fixtures(base_url: str, context: BrowserContext) -> None:
    rng = random.Random(20261128)
    recordings = {
        "human_like_browser.json": (
            "A person-like session typed in Chromium through Playwright: lognormal key delays "
            "(median about 150 ms), pauses between sentences, five slips erased and retyped.",
            _record(context, base_url, "writer", "The building", lambda p: _record_human(p, rng)),
        ),
        "scripted_browser.json": (
            "A scripted session typed in Chromium through Playwright with keyboard.type(text, "
            "delay=40): a fixed 40 ms between keys, no corrections.",
            _record(
                context,
                base_url,
                "script",
                "Harbour",
                lambda p: p.keyboard.type(SCRIPTED_TEXT, delay=40),
            ),
        ),
    }
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, (description, recording) in recordings.items():
        doc = {"description": description, "recorded_with": "tests/web/test_editor_browser.py"}
        doc.update(recording)
        (FIXTURES / name).write_text(fixture_json(doc), "utf-8")
    assert recordings["human_like_browser.json"][1]["text"] == HUMAN_TEXT
    assert recordings["scripted_browser.json"][1]["text"] == SCRIPTED_TEXT
