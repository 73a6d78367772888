"""What became of the muse's suggestions: the record the authorship report and certificate state.

Issue #8, item 5. Every suggestion is stored when it is made (:class:`SuggestionRecord`). The
journal says which were used: text the creator takes from the muse arrives as a ``muse`` event
whose ``ref`` is the suggestion's id (docs/journal.md), so the code points each suggestion
brought into the draft are counted from the events (:func:`inserted_by_ref`). ``muse`` events
with no ``ref``, or one naming no stored suggestion (another editor's own muse), count as
unattributed muse text; they are AI text all the same.

The certificate commits to the suggestions with :func:`record_sha256`: SHA-256 of the JCS
encoding of the list of :meth:`SuggestionRecord.evidence_json`, in the order they were made.
Whoever holds the suggestions (their creator, from ``GET /api/v1/drafts/{id}/muse``) can
recompute it. This module is pure.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hallmark.core.canonical import canonical_bytes


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SuggestionRecord:
    """One stored suggestion, as evidence: its text is represented by its digest and length."""

    id: str
    mode: str
    backend: str
    model: str
    created_at: str
    prompt_sha256: str
    output_sha256: str
    status: str
    chars: int
    copies: int = 0
    sources: tuple[str, ...] = field(default=())

    def evidence_json(self) -> dict[str, Any]:
        """The fields :func:`record_sha256` covers: what was asked of which model, when, and
        what it answered."""
        return {
            "id": self.id,
            "mode": self.mode,
            "backend": self.backend,
            "model": self.model,
            "created_at": self.created_at,
            "prompt_sha256": self.prompt_sha256,
            "output_sha256": self.output_sha256,
            "status": self.status,
        }


def inserted_by_ref(events: Iterable[Mapping[str, Any]]) -> Counter[str | None]:
    """Code points inserted by ``muse`` events, by the suggestion id in their ``ref`` (None
    when they carry none)."""
    inserted: Counter[str | None] = Counter()
    for event in events:
        if event.get("op") == "muse":
            inserted[event.get("ref")] += len(event.get("text", ""))
    return inserted


def record_sha256(records: Sequence[SuggestionRecord]) -> str:
    return hashlib.sha256(canonical_bytes([r.evidence_json() for r in records])).hexdigest()


def summary(
    records: Sequence[SuggestionRecord], inserted: Mapping[str | None, int], *, share: float
) -> dict[str, Any]:
    """The muse section of the authorship report.

    ``share`` is the percentage of the final text that came from the muse (the journal's
    replay says so, after every later edit); ``inserted`` what :func:`inserted_by_ref` counted.
    The suggestions' texts and the earlier works they quoted are left out: the report may be
    public, and both may show private writing.
    """
    known = {record.id for record in records}
    entries = []
    for record in records:
        chars_in = int(inserted.get(record.id, 0))
        entries.append(
            {
                **record.evidence_json(),
                "chars": record.chars,
                "copies": record.copies,
                "inserted_chars": chars_in,
                "used": chars_in > 0,
            }
        )
    return {
        "share": share,
        "offered": len(records),
        "used": sum(1 for entry in entries if entry["used"]),
        "record_sha256": record_sha256(records),
        "unattributed_chars": sum(n for ref, n in inserted.items() if ref not in known),
        "suggestions": entries,
    }
