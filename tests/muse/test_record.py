"""Tests for :mod:`hallmark.muse.record`: which suggestions the journal used, and the digest the
certificate states."""

from __future__ import annotations

import hashlib
import json

from hallmark.muse.record import SuggestionRecord, inserted_by_ref, record_sha256, summary


def suggestion(sid: str, mode: str = "continue", **fields: object) -> SuggestionRecord:
    values: dict[str, object] = {
        "id": sid,
        "mode": mode,
        "backend": "smollm2",
        "model": "SmolLM2-135M-Instruct",
        "created_at": "2026-11-28T12:00:00+00:00",
        "prompt_sha256": "a" * 64,
        "output_sha256": "b" * 64,
        "status": "complete",
        "chars": 10,
    }
    values.update(fields)
    return SuggestionRecord(**values)  # type: ignore[arg-type]


EVENTS = [
    {"seq": 0, "t": 1, "op": "insert", "pos": 0, "text": "Tide."},
    {"seq": 1, "t": 2, "op": "muse", "pos": 5, "text": " Gulls wait.", "ref": "m_1"},
    {"seq": 2, "t": 3, "op": "muse", "pos": 0, "text": "Dawn. "},
    {"seq": 3, "t": 4, "op": "muse", "pos": 0, "text": "Later. ", "ref": "m_other"},
    {"seq": 4, "t": 5, "op": "paste", "pos": 0, "text": "pasted", "ref": "m_2"},
]


def test_inserted_counts_muse_code_points_by_suggestion() -> None:
    assert inserted_by_ref(EVENTS) == {"m_1": 12, None: 6, "m_other": 7}


def test_summary_lists_every_suggestion_and_which_were_used() -> None:
    records = [suggestion("m_1"), suggestion("m_2", mode="questions", copies=2)]
    doc = summary(records, inserted_by_ref(EVENTS), share=40.5)
    assert doc["share"] == 40.5
    assert (doc["offered"], doc["used"]) == (2, 1)
    assert doc["unattributed_chars"] == 13
    first, second = doc["suggestions"]
    assert (first["id"], first["used"], first["inserted_chars"]) == ("m_1", True, 12)
    assert (second["used"], second["inserted_chars"], second["copies"]) == (False, 0, 2)
    # The report may be public: the suggestions' texts and sources are not in it.
    assert "text" not in first and "sources" not in first


def test_the_record_digest_covers_the_evidence_fields_in_order() -> None:
    one, two = suggestion("m_1"), suggestion("m_2", status="cancelled")
    # A golden vector (docs/muse.md).
    assert record_sha256([one]) == (
        "63e4e6bd1adf6b101e013fbf84faf131604901464e974696f8959cde159e30eb"
    )
    encoded = json.dumps([one.evidence_json()], separators=(",", ":"), sort_keys=True).encode()
    assert record_sha256([one]) == hashlib.sha256(encoded).hexdigest()
    assert record_sha256([one, two]) != record_sha256([two, one])
    assert record_sha256([one]) != record_sha256([suggestion("m_1", output_sha256="c" * 64)])
    # What the creator did with a suggestion later does not change what the muse said.
    assert record_sha256([one]) == record_sha256([suggestion("m_1", copies=5)])
