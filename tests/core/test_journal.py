"""Tests for :mod:`hallmark.core.journal`: the wire format, the hash chain, replay, attribution
and the human-ness flags; and for docs/journal.md and docs/journal.schema.json, which describe
them to other editors.

Property tests drive random journals (emoji, combining marks and control characters at random
positions, split into random batches) through ``ingest`` and ``replay`` and compare them with a
plain string model. The flag tests use synthetic journals: one built to trip each rule, and
human-like ones (log-normal key intervals, pauses at sentence ends, about 5% corrections) that
must trip none.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallmark.core import journal
from hallmark.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "journal.md").read_text("utf-8")
SCHEMA = json.loads((ROOT / "docs" / "journal.schema.json").read_text("utf-8"))
DRAFT = "d_test"
T0 = 1_764_331_200_000

# Pieces of text that trip code that counts in UTF-16 units or bytes, or normalizes.
PIECES = [
    "a",
    "Z",
    " ",
    "\n",
    "\t",
    '"',
    "\\",
    "\x1f",
    "\x7f",
    "é",
    "e\u0301",
    "\u0301",
    "\u2028",
    "ﬁ",
    "中文",
    "🙂",
    "👩\u200d💻",
    "🇳🇴",
]


# Building journals -----------------------------------------------------------------------------


class Writer:
    """Builds a journal the way an editor would, keeping the text to place each event."""

    def __init__(self, t0: int = T0) -> None:
        self.events: list[dict[str, Any]] = []
        self.text = ""
        self.t = t0

    def add(self, dt: int, op: str, pos: int, **fields: Any) -> dict[str, Any]:
        self.t += dt
        event: dict[str, Any] = {"seq": len(self.events), "t": self.t, "op": op, "pos": pos}
        event.update({key: value for key, value in fields.items() if value is not None})
        if op == "delete":
            self.text = self.text[:pos] + self.text[pos + event["len"] :]
        else:
            self.text = self.text[:pos] + event["text"] + self.text[pos:]
        self.events.append(event)
        return event

    def type(self, text: str, *, pos: int | None = None, dt: int = 150) -> None:
        at = len(self.text) if pos is None else pos
        for offset, char in enumerate(text):
            self.add(dt, "insert", at + offset, text=char)

    def insert(
        self, text: str, *, op: str = "insert", pos: int | None = None, dt: int = 400, **fields: Any
    ) -> None:
        self.add(dt, op, len(self.text) if pos is None else pos, text=text, **fields)

    def delete(self, pos: int, length: int, *, dt: int = 300, src: str | None = None) -> None:
        self.add(dt, "delete", pos, len=length, src=src)


def codes(events: list[dict[str, Any]]) -> set[str]:
    return {flag["code"] for flag in journal.replay(events).flags}


def prose(rng: random.Random, chars: int) -> str:
    """Sentences of made-up words, ending with '. ', about ``chars`` long."""
    words: list[str] = []
    size = 0
    while size < chars:
        sentence = [
            "".join(rng.choice("etaoinshrdlucmfwyp") for _ in range(rng.randint(2, 9)))
            for _ in range(rng.randint(6, 16))
        ]
        text = " ".join(sentence).capitalize() + ". "
        words.append(text)
        size += len(text)
    return "".join(words)[:chars]


def human_like(
    seed: int,
    chars: int = 2_000,
    *,
    corrections: float = 0.05,
    pauses: bool = True,
    median_ms: float = 180.0,
    sigma: float = 0.5,
) -> Writer:
    """Someone composing: log-normal key intervals, thinking pauses at the end of sentences,
    and a typo corrected with backspace about every twentieth key."""
    rng = random.Random(seed)
    writer = Writer()
    for char in prose(rng, chars):
        gap = int(rng.lognormvariate(math.log(median_ms), sigma)) + 1
        if pauses and writer.text.endswith(". "):
            gap += rng.randint(1_500, 8_000)
        if rng.random() < corrections:
            writer.type(rng.choice("qxzjkv"), dt=gap)
            writer.delete(len(writer.text) - 1, 1, dt=int(rng.lognormvariate(math.log(250), 0.4)))
            gap = int(rng.lognormvariate(math.log(median_ms), sigma)) + 1
        writer.type(char, dt=gap)
    return writer


# Random journals, with a plain string as the model ------------------------------------------


@st.composite
def journals(draw: st.DrawFn, max_events: int = 40) -> tuple[list[dict[str, Any]], str]:
    """A valid journal in canonical form, and the text it must replay to."""
    model = ""
    t = draw(st.integers(0, 2**41))
    events: list[dict[str, Any]] = []
    for seq in range(draw(st.integers(0, max_events))):
        t = max(0, t + draw(st.integers(-1_500, 20_000)))
        event: dict[str, Any] = {"seq": seq, "t": t}
        if model and draw(st.integers(0, 3)) == 0:
            pos = draw(st.integers(0, len(model) - 1))
            length = draw(st.integers(1, len(model) - pos))
            event.update(op="delete", pos=pos, len=length)
            src = draw(st.sampled_from([None, "key", "cut", "undo"]))
            model = model[:pos] + model[pos + length :]
        else:
            op = draw(st.sampled_from(["insert", "insert", "paste", "muse", "import"]))
            text = "".join(draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6)))
            pos = draw(st.integers(0, len(model)))
            event.update(op=op, pos=pos, text=text)
            choices: list[str | None] = [None, "key", "ime", "undo", "redo", "autocorrect"]
            if op == "paste":
                choices = [None, "ai", "copy", "drop", "undo"]
            src = draw(st.sampled_from(choices))
            model = model[:pos] + text + model[pos:]
        if src is not None:
            event["src"] = src
        if draw(st.integers(0, 4)) == 0:
            event["ref"] = draw(st.text(min_size=1, max_size=10))
        events.append(event)
    return events, model


def batches(data: st.DataObject, events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``events`` cut into batches at random places (empty batches included)."""
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=5)))
    return [events[a:b] for a, b in itertools.pairwise([0, *cuts, len(events)])]


def ingest_all(
    batches_: list[list[dict[str, Any]]], draft_id: str = DRAFT
) -> tuple[journal.Ingest, list[dict[str, Any]]]:
    state = journal.Ingest("", 0, journal.genesis_hash(draft_id))
    accepted: list[dict[str, Any]] = []
    for batch in batches_:
        state, pairs = journal.ingest(state, batch)
        accepted += [event for event, _ in pairs]
    return state, accepted


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_accepted_journals_replay_to_the_text_and_root_the_server_holds(
    data: st.DataObject,
) -> None:
    events, model = data.draw(journals())
    state, accepted = ingest_all(batches(data, events))
    assert accepted == events
    assert state.text == model
    assert state.next_seq == len(events)
    assert state.head == journal.journal_root(events, draft_id=DRAFT)
    report = journal.replay(events, root=state.head)
    assert report.text == model
    assert len(report.origins) == len(model)
    named = report.counts["typed"] + report.counts["pasted"] + report.counts["muse"]
    assert named + report.counts["imported"] == len(model)
    assert 0.0 <= report.ai_share <= 100.0
    assert (report.ai_share > 0) == (report.counts["muse"] + report.counts["pasted_ai"] > 0)


@settings(max_examples=100)
@given(st.data())
def test_the_root_depends_on_the_draft(data: st.DataObject) -> None:
    events, _ = data.draw(journals())
    assert journal.journal_root(events, draft_id="d_one") != journal.journal_root(
        events, draft_id="d_two"
    )


@settings(max_examples=150)
@given(st.data())
def test_a_forged_event_is_refused_or_changes_the_root(data: st.DataObject) -> None:
    events, _ = data.draw(journals().filter(lambda j: len(j[0]) > 0))
    root = journal.journal_root(events, draft_id=DRAFT)
    index = data.draw(st.integers(0, len(events) - 1))
    forged = [dict(event) for event in events]
    target = forged[index]
    field = data.draw(st.sampled_from(["t", "pos", "text"]))
    if field == "t":
        target["t"] = target["t"] + data.draw(st.sampled_from([-1, 1, 1_000]))
    elif field == "pos":
        target["pos"] = target["pos"] + data.draw(st.sampled_from([-1, 1]))
    elif "text" in target:
        target["text"] = target["text"] + "x"
    else:
        target["len"] = target["len"] + 1
    try:
        state, _ = ingest_all([forged])
    except InputError:
        return
    assert state.head != root


@settings(max_examples=150)
@given(st.data())
def test_reordered_skipped_or_repeated_events_are_refused(data: st.DataObject) -> None:
    events, _ = data.draw(journals().filter(lambda j: len(j[0]) >= 2))
    i = data.draw(st.integers(0, len(events) - 2))
    how = data.draw(st.sampled_from(["reorder", "skip", "repeat"]))
    changed = list(events)
    if how == "reorder":
        j = data.draw(st.integers(i + 1, len(events) - 1))
        changed[i], changed[j] = changed[j], changed[i]
    elif how == "skip":
        del changed[i]
    else:
        changed.insert(i + 1, events[i])
    first_wrong = changed[i + 1 if how == "repeat" else i]["seq"]
    with pytest.raises(InputError, match=f"^Event {first_wrong}: "):
        ingest_all(batches(data, changed))


def test_a_refused_batch_changes_nothing() -> None:
    writer = Writer()
    writer.type("abc")
    state = journal.Ingest("", 0, journal.genesis_hash(DRAFT))
    bad = [*writer.events, {"seq": 3, "t": T0, "op": "delete", "pos": 2, "len": 5}]
    with pytest.raises(InputError, match=r"Event 3: deletes past the end"):
        journal.ingest(state, bad)
    assert state == journal.Ingest("", 0, journal.genesis_hash(DRAFT))


canonical_events = st.fixed_dictionaries(
    {
        "seq": st.integers(0, journal.MAX_TIME_MS),
        "t": st.integers(0, journal.MAX_TIME_MS),
        "op": st.sampled_from(journal.OPS),
        "pos": st.integers(0, journal.MAX_TEXT),
    },
    optional={
        "text": st.text(min_size=1),
        "len": st.integers(1, journal.MAX_TEXT),
        "ref": st.text(min_size=1, max_size=journal.MAX_REF),
        "src": st.sampled_from(journal.SOURCES),
    },
)


@settings(max_examples=500)
@given(canonical_events)
def test_event_bytes_is_rfc8785(event: dict[str, Any]) -> None:
    assert journal.event_bytes(event) == rfc8785.dumps(event)


def test_golden_vector_of_the_docs() -> None:
    """The example chain in docs/journal.md, hash by hash."""
    block = re.search(r"Example, for the draft `d_example`.*?```\n(.*?)```", DOC, re.DOTALL)
    assert block is not None
    lines = block.group(1).strip().splitlines()
    hashes = [line.split()[1] for line in lines if line.startswith("h[")]
    events = [json.loads(line) for line in lines if line.startswith("{")]
    head = journal.genesis_hash("d_example")
    assert head.hex() == hashes[0]
    for event, expected, line in zip(events, hashes[1:], lines[1::2], strict=True):
        assert journal.event_bytes(event).decode() == line
        head = journal.chain(head, event)
        assert head.hex() == expected
    report = journal.replay(events)
    assert report.text == "Hello, world"
    assert report.ai_share == 58.33
    assert "58.33% AI" in DOC


# Wire rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not an object", "must be a JSON object"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "x": 1}, "unknown field"),
        ({"seq": True, "t": T0, "op": "insert", "pos": 0, "text": "a"}, "'seq' must be"),
        ({"seq": 1, "t": T0, "op": "insert", "pos": 0, "text": "a"}, "skips events"),
        ({"seq": 0, "t": -1, "op": "insert", "pos": 0, "text": "a"}, "'t' must be"),
        ({"seq": 0, "t": 1.5, "op": "insert", "pos": 0, "text": "a"}, "'t' must be"),
        ({"seq": 0, "t": T0, "op": "type", "pos": 0, "text": "a"}, "'op' must be"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 1, "text": "a"}, "outside the text"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": ""}, "non-empty string"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a\x00"}, "NUL"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "\ud800"}, "surrogate"),
        ({"seq": 0, "t": T0, "op": "paste", "pos": 0, "text": "a", "len": 1}, "a paste has"),
        ({"seq": 0, "t": T0, "op": "delete", "pos": 0, "len": 1}, "past the end"),
        ({"seq": 0, "t": T0, "op": "delete", "pos": 0, "text": "a"}, "has 'len', not"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "src": "ai"}, "only a paste"),
        ({"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "src": "x"}, "'src' must"),
        ({"seq": 0, "t": T0, "op": "muse", "pos": 0, "text": "a", "ref": 7}, "'ref' must"),
    ],
)
def test_bad_events_are_named_and_explained(raw: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        journal.parse_event(raw, expected_seq=0, text_length=0)


def test_null_optional_fields_are_left_out_of_the_canonical_event() -> None:
    raw = {"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "ref": None, "src": None}
    event = journal.parse_event(raw, expected_seq=0, text_length=0)
    assert event == {"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a"}


def test_positions_count_code_points() -> None:
    writer = Writer()
    writer.insert("🙂e\u0301!")
    writer.delete(1, 2)  # the e and its combining accent, not half of the emoji
    state, _ = ingest_all([writer.events])
    assert state.text == "🙂!"
    with pytest.raises(InputError, match="outside the text"):
        journal.parse_event(
            {"seq": 2, "t": T0, "op": "insert", "pos": 3, "text": "x"},
            expected_seq=2,
            text_length=len(state.text),
        )


# Attribution --------------------------------------------------------------------------------


def test_typed_and_pasted_text_is_told_apart_and_deleting_part_of_a_paste_shrinks_it() -> None:
    writer = Writer()
    writer.type("Hello ")
    writer.insert("world of pasted text", op="paste")
    writer.delete(len("Hello world"), len(" of pasted text"))
    report = journal.replay(writer.events)
    assert report.text == "Hello world"
    assert report.counts["typed"] == 6 and report.counts["pasted"] == 5
    assert report.shares == {"typed": 54.55, "pasted": 45.45, "muse": 0.0, "imported": 0.0}
    assert report.deleted_chars == 15 and report.longest_paste == 20
    assert report.ai_share == 0.0


def test_undo_restoring_pasted_text_stays_pasted() -> None:
    writer = Writer()
    writer.type("Mine. ")
    writer.insert("Not mine.", op="paste")
    writer.delete(6, 9, src="undo")
    writer.insert("Not mine.", src="redo")
    report = journal.replay(writer.events)
    assert report.counts["pasted"] == 9 and report.counts["typed"] == 6


def test_undo_of_a_word_erased_key_by_key_stays_typed() -> None:
    writer = Writer()
    writer.type("one word")
    for _ in range(4):  # backspace erases right to left
        writer.delete(len(writer.text) - 1, 1)
    writer.insert("word", src="undo")
    writer.delete(0, 1)
    writer.delete(0, 1)  # the Delete key erases left to right at one place
    writer.insert("on", pos=0, src="undo")
    report = journal.replay(writer.events)
    assert report.text == "one word"
    assert report.counts["typed"] == 8 and report.counts["pasted"] == 0


def test_undo_of_text_the_journal_never_held_counts_as_pasted() -> None:
    writer = Writer()
    writer.type("ab")
    writer.insert("something else", src="undo")
    assert journal.replay(writer.events).counts["pasted"] == len("something else")


def test_cut_and_paste_keeps_typed_text_typed_and_is_not_a_paste() -> None:
    writer = Writer()
    paragraph = "A paragraph I wrote myself. " * 60
    writer.type(paragraph, dt=200)
    writer.type("Ending.", dt=200)
    writer.delete(0, len(paragraph), src="cut")
    writer.insert(paragraph, op="paste")
    report = journal.replay(writer.events)
    assert report.text == "Ending." + paragraph
    assert report.shares["typed"] == 100.0
    assert report.longest_paste == 0
    assert "large-paste" not in {flag["code"] for flag in report.flags}


def test_a_copy_inside_the_document_keeps_the_origin_it_copies() -> None:
    writer = Writer()
    writer.type("typed ")
    writer.insert("pasted", op="paste")
    writer.insert("typed", op="paste", src="copy")
    writer.insert("pasted", op="paste", src="copy")
    writer.insert("nowhere", op="paste", src="copy")  # claimed a copy, but not in the text
    report = journal.replay(writer.events)
    assert report.counts["typed"] == 6 + 5
    assert report.counts["pasted"] == 6 + 6 + 7


def test_muse_and_ai_marked_pastes_make_the_ai_share() -> None:
    writer = Writer()
    writer.type("a" * 50)
    writer.insert("m" * 25, op="muse", ref="s_1")
    writer.insert("p" * 25, op="paste", src="ai")
    writer.insert("i" * 100, op="import")
    writer.insert("unknown!", op="paste")
    report = journal.replay(writer.events)
    total = 208
    assert report.counts == {
        "typed": 50,
        "pasted": 33,
        "muse": 25,
        "imported": 100,
        "pasted_ai": 25,
    }
    assert report.ai_share == round(100 * 50 / total, 2)
    assert report.shares["pasted"] == round(100 * 33 / total, 2)


def test_an_ai_paste_deleted_and_pasted_back_unmarked_is_still_ai() -> None:
    writer = Writer()
    writer.type("x" * 10)
    writer.insert("from a chatbot", op="paste", src="ai")
    writer.delete(10, 14, src="cut")
    writer.insert("from a chatbot", op="paste", pos=0)
    assert journal.replay(writer.events).counts["pasted_ai"] == 14


def test_a_trace_of_ai_text_is_never_rounded_away() -> None:
    writer = Writer()
    writer.insert("x" * 100_000)
    writer.insert("!", op="muse")
    assert journal.replay(writer.events).ai_share == 0.01
    only_ai = Writer()
    only_ai.insert("y" * 100_000, op="muse")
    only_ai.insert(".")
    assert journal.replay(only_ai.events).ai_share == 99.99


def test_statistics_of_a_two_session_journal() -> None:
    writer = Writer()
    writer.type("abc", dt=1_000)
    writer.type("d", dt=journal.SESSION_GAP_MS + 1)
    writer.type("ef", dt=1_000)
    report = journal.replay(writer.events)
    # The first event has no gap before it; the long gap counts as neither time nor a session.
    assert report.sessions == 2
    assert report.active_ms == 4_000
    assert report.keystrokes == 6
    assert report.timeline[-1] == {
        "t": writer.t,
        "typed": 6,
        "pasted": 0,
        "muse": 0,
        "imported": 0,
    }


# Flags --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_a_human_like_journal_trips_no_flag(seed: int) -> None:
    writer = human_like(seed, 2_000)
    report = journal.replay(writer.events)
    assert report.flags == []
    assert report.text == writer.text
    assert report.keystrokes > journal.REGULAR_MIN_INTERVALS


def test_a_fast_but_human_typist_trips_no_flag() -> None:
    # 110 words a minute, no pauses to think, but still correcting typos.
    writer = human_like(1, 3_000, median_ms=95, pauses=False)
    assert codes(writer.events) == set()


def test_mostly_pasted() -> None:
    writer = human_like(2, 300)
    writer.insert(prose(random.Random(3), 700), op="paste")
    assert codes(writer.events) == {"mostly-pasted"}


def test_one_large_paste() -> None:
    writer = human_like(4, 5_000)
    writer.insert(prose(random.Random(5), 1_200), op="paste")
    report = journal.replay(writer.events)
    assert report.shares["pasted"] < journal.LARGE_PASTE_SHARE
    assert codes(writer.events) == {"large-paste"}


def test_a_large_paste_marked_as_ai_is_disclosed_not_flagged() -> None:
    writer = human_like(4, 5_000)
    writer.insert(prose(random.Random(5), 1_200), op="paste", src="ai")
    assert codes(writer.events) == set()


def test_too_fast() -> None:
    writer = human_like(6, 1_000, median_ms=40, pauses=False)
    assert "too-fast" in codes(writer.events)
    assert "machine-regular" not in codes(writer.events)


def test_a_whole_text_in_one_insert_is_too_fast() -> None:
    writer = Writer()
    writer.insert(prose(random.Random(7), 600))
    assert "too-fast" in codes(writer.events)


def test_machine_regular() -> None:
    rng = random.Random(8)
    writer = Writer()
    for index, char in enumerate(prose(rng, 1_500)):
        if index % 40 == 0:
            writer.type("q", dt=150 + rng.randint(-5, 5))
            writer.delete(len(writer.text) - 1, 1, dt=150 + rng.randint(-5, 5))
        writer.type(char, dt=150 + rng.randint(-5, 5))
    assert codes(writer.events) == {"machine-regular"}


def test_transcription() -> None:
    writer = human_like(9, 1_500, corrections=0.0, pauses=False)
    assert codes(writer.events) == {"transcription"}


def test_clock_irregular() -> None:
    writer = human_like(10, 500)
    writer.type("x", dt=-5_000)
    assert codes(writer.events) == {"clock-irregular"}


def test_a_clock_set_back_an_hour_does_not_look_like_fast_typing() -> None:
    writer = human_like(10, 400)
    writer.t -= 3_600_000
    writer.type(prose(random.Random(12), 400), dt=210)
    assert codes(writer.events) == {"clock-irregular"}


def test_every_flag_has_a_plain_explanation() -> None:
    writer = Writer()
    writer.insert(prose(random.Random(11), 1_200), op="paste")
    writer.insert(prose(random.Random(12), 600))
    writer.type("x", dt=-5_000)
    report = journal.replay(writer.events)
    assert {flag["code"] for flag in report.flags} == {
        "mostly-pasted",
        "too-fast",
        "clock-irregular",
    }
    for flag in report.flags:
        assert flag["explanation"].endswith(".") and len(flag["explanation"]) > 40


# The documentation and the schema ------------------------------------------------------------


def _documented_thresholds() -> dict[str, float]:
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([0-9.]+) \|", DOC, re.MULTILINE)
    return {name: float(value) for name, value in rows}


def _threshold_names() -> set[str]:
    source = inspect.getsource(journal)
    block = source.split("# Human-ness rules", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^([A-Z][A-Z_]+) = ", block, re.MULTILINE))


def test_every_threshold_is_documented_with_its_value() -> None:
    documented = _documented_thresholds()
    names = _threshold_names()
    assert len(names) >= 15
    assert names == set(documented)
    for name, value in documented.items():
        assert getattr(journal, name) == value, name


def test_every_flag_in_the_code_is_documented() -> None:
    flags = set(re.findall(r'_flag\(\s*"([a-z-]+)"', inspect.getsource(journal)))
    documented = set(re.findall(r"^\| `([a-z-]+)` \| ", DOC, re.MULTILINE))
    assert flags and flags <= documented


VALID_BATCHES = [
    {"events": []},
    {
        "events": [
            {"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "H", "src": "key"},
            {"seq": 1, "t": T0 + 90, "op": "insert", "pos": 1, "text": "i"},
            {"seq": 2, "t": T0 + 900, "op": "paste", "pos": 2, "text": " 🙂", "src": "ai"},
            {"seq": 3, "t": T0 + 990, "op": "delete", "pos": 0, "len": 1, "ref": None},
            {"seq": 4, "t": T0 + 2000, "op": "muse", "pos": 0, "text": "O", "ref": "s_12"},
            {"seq": 5, "t": T0 + 2100, "op": "import", "pos": 0, "text": "e\u0301"},
        ]
    },
]

INVALID_BATCHES = [
    ({}, "events"),
    ({"events": [{"seq": 0, "t": T0, "op": "insert", "pos": 0}]}, "text"),
    ({"events": [{"seq": 0, "t": T0, "op": "delete", "pos": 0, "text": "a"}]}, "len"),
    ({"events": [{"seq": 0, "t": T0, "op": "delete", "pos": 0, "len": 0}]}, "len"),
    ({"events": [{"seq": -1, "t": T0, "op": "insert", "pos": 0, "text": "a"}]}, "seq"),
    ({"events": [{"seq": 0, "t": 1.5, "op": "insert", "pos": 0, "text": "a"}]}, "t"),
    ({"events": [{"seq": 0, "t": T0, "op": "write", "pos": 0, "text": "a"}]}, "op"),
    ({"events": [{"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": ""}]}, "empty"),
    ({"events": [{"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a\x00"}]}, "NUL"),
    ({"events": [{"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "src": "ai"}]}, "ai"),
    ({"events": [{"seq": 0, "t": T0, "op": "insert", "pos": 0, "text": "a", "x": 1}]}, "extra"),
    ({"events": [{"seq": 0, "t": T0, "op": "muse", "pos": 0, "text": "a", "ref": ""}]}, "ref"),
]


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("batch", VALID_BATCHES)
def test_example_batches_validate_and_are_accepted(batch: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(batch)
    ingest_all([batch["events"]])


@pytest.mark.parametrize(("batch", "why"), INVALID_BATCHES)
def test_bad_batches_fail_the_schema_and_the_server(batch: dict[str, Any], why: str) -> None:
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(batch), why
    if "events" in batch:
        with pytest.raises(InputError):
            ingest_all([batch["events"]])


def test_the_schema_states_the_limits_of_the_code() -> None:
    event = SCHEMA["$defs"]["event"]["properties"]
    assert tuple(event["op"]["enum"]) == journal.OPS
    assert set(event["src"]["enum"]) - {None} == set(journal.SOURCES)
    assert event["text"]["maxLength"] == journal.MAX_EVENT_TEXT
    assert event["ref"]["maxLength"] == journal.MAX_REF
    assert event["t"]["maximum"] == journal.MAX_TIME_MS
    assert set(SCHEMA["$defs"]["event"]["properties"]) == {
        "seq",
        "t",
        "op",
        "pos",
        "text",
        "len",
        "ref",
        "src",
    }


@settings(max_examples=100)
@given(journals())
def test_every_journal_the_server_accepts_is_valid_by_the_schema(
    generated: tuple[list[dict[str, Any]], str],
) -> None:
    events, _ = generated
    jsonschema.Draft202012Validator(SCHEMA).validate({"events": events})
