"""The creator's voice: passages of their earlier works that fit the draft (issue #8, item 3).

The muse's prompt quotes a few passages of the creator's own earlier works, so that what it
suggests fits how they write and what they write about. The works are cut into passages of
about :data:`PASSAGE_CHARS` characters (whole sentences where possible); the passages nearest
to the draft, by the cosine of their sentence embeddings (all-MiniLM-L6-v2, the embedder of the
prior-art fingerprints), are quoted. This module is pure; the service fetches the works and
embeds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

#: About how long a quoted passage is. Short enough that two of them and a draft excerpt keep
#: the bundled model's prompt near 350 tokens, so the first word comes within about a second.
PASSAGE_CHARS = 280
#: Passages of fewer words say little about a voice (a title, a line of dialogue).
MIN_PASSAGE_WORDS = 8
#: Passages quoted in one prompt.
VOICE_PASSAGES = 2
#: Passages less similar than this to the draft are not quoted: an unrelated passage would
#: pull the muse off the draft's subject rather than towards the writer's voice.
MIN_SIMILARITY = 0.15

_PARAGRAPHS = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile("(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*\\s+")


@dataclass(frozen=True)
class Passage:
    """A passage of one of the creator's works."""

    work_id: str
    text: str


def _cut(sentence: str, size: int) -> list[str]:
    """A sentence longer than ``size``, cut at spaces into pieces of at most ``size``."""
    pieces: list[str] = []
    rest = sentence
    while len(rest) > size:
        at = rest.rfind(" ", 0, size)
        at = at if at > size // 2 else size
        pieces.append(rest[:at].strip())
        rest = rest[at:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def passages(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """``text`` cut into passages of at most ``size`` characters, within paragraphs, made of
    whole sentences where the sentences are short enough."""
    found: list[str] = []
    for paragraph in _PARAGRAPHS.split(text):
        flat = " ".join(paragraph.split())
        if not flat:
            continue
        current = ""
        for sentence in _SENTENCE_END.split(flat):
            for piece in _cut(sentence.strip(), size):
                if current and len(current) + 1 + len(piece) > size:
                    found.append(current)
                    current = piece
                else:
                    current = f"{current} {piece}" if current else piece
        if current:
            found.append(current)
    return [p for p in found if len(p.split()) >= MIN_PASSAGE_WORDS]


def nearest(
    query: np.ndarray,
    vectors: np.ndarray,
    k: int = VOICE_PASSAGES,
    min_similarity: float = MIN_SIMILARITY,
) -> list[int]:
    """Indices of the ``k`` rows of ``vectors`` (unit length) nearest to ``query`` (unit
    length) by cosine, nearest first, leaving out those below ``min_similarity``."""
    if vectors.size == 0 or k <= 0:
        return []
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(i) for i in order if scores[i] >= min_similarity]
