"""The human-ness flags on journals recorded in a real browser (issue #3, item 5).

Both fixtures were typed into the Hallmark editor in Chromium by Playwright and fetched back
from the API after submission (``tests/web/test_editor_browser.py`` records them again with
``HALLMARK_RECORD_JOURNALS=1``): one like a person, with uneven key timing, pauses between
sentences and slips put right; one by a script typing at a fixed 40 ms a key.
"""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from hallmark.core import journal

FIXTURES = Path(__file__).parent.parent / "fixtures" / "journals"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return doc


@pytest.mark.parametrize("name", ["human_like_browser.json", "scripted_browser.json"])
def test_a_browser_journal_is_accepted_and_replays_to_its_text(name: str) -> None:
    doc = load(name)
    # Ingesting checks every event as the server does: contiguous seq, positions in the text.
    state, accepted = journal.ingest(
        journal.Ingest("", 0, journal.genesis_hash("d_fixture")), doc["events"]
    )
    assert state.text == doc["text"]
    assert len(accepted) == len(doc["events"]) == state.next_seq
    assert journal.replay(doc["events"]).text == doc["text"]


def test_the_person_like_journal_raises_no_flag() -> None:
    doc = load("human_like_browser.json")
    report = journal.replay(doc["events"])
    assert report.flags == []
    assert len(report.text) >= 1_000
    assert report.shares["typed"] == 100.0
    # The fixture is what it says: slips were erased, and key intervals vary as a person's do.
    assert report.deleted_chars / len(report.text) >= journal.TRANSCRIPTION_MAX_REVISION
    intervals = _key_intervals(doc["events"])
    assert statistics.pstdev(intervals) / statistics.fmean(intervals) > 2 * journal.REGULAR_MAX_CV


def test_the_scripted_journal_is_flagged_as_a_program_typing() -> None:
    doc = load("scripted_browser.json")
    report = journal.replay(doc["events"])
    codes = {flag["code"] for flag in report.flags}
    assert "machine-regular" in codes
    assert "transcription" in codes
    assert report.deleted_chars == 0
    assert all(flag["explanation"] for flag in report.flags)


def _key_intervals(events: list[dict[str, Any]]) -> list[int]:
    times = [e["t"] for e in events if e["op"] == "insert" and e.get("src") == "key"]
    return [b - a for a, b in itertools.pairwise(times) if 0 < b - a <= journal.PAUSE_MS]
