"""The muse's prompts: what each mode asks a backend, from the draft and the creator's voice.

Issue #8, items 1 and 3. Every prompt is built from the same parts: the end of the draft up to
the writer's cursor (at most :data:`DRAFT_CHARS` characters), the passage the writer selected
(at most :data:`SELECTION_CHARS`), and up to two passages of the writer's earlier works (see
:mod:`hallmark.muse.voice`). The instructions are short and plain because the bundled model is
small: it follows a direct request with a started answer ("1.") far better than a long brief.
Prompts are sized for the bundled model's speed: about 350 tokens, so its first word comes
within about a second on one core (benchmarks/muse_bench.py).

This module is pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hallmark.errors import InputError
from hallmark.muse.base import Mode, Prompt

#: Characters of the draft, before the cursor, that a prompt quotes.
DRAFT_CHARS = 1000
#: Characters of the selected passage that a prompt quotes.
SELECTION_CHARS = 1000

_SYSTEM = {
    Mode.QUESTIONS: "You are a writing teacher. You never write the text for the writer. "
    "You only ask questions.",
    Mode.IDEAS: "You are a writing teacher. You suggest directions in a few words each, "
    "never finished prose.",
    Mode.CRITIQUE: "You are a frank, kind editor. You say what is weak and why.",
    Mode.CONTINUE: "You are a writer's assistant. You continue their text in their own voice.",
}

_ASK = {
    Mode.QUESTIONS: "Ask me three short questions that would help me deepen this scene, its "
    "characters or its argument.",
    Mode.IDEAS: "List three short ideas for where this could go next, one line each.",
    Mode.CRITIQUE: "What is weak in this passage, and why? Be specific and brief.",
    Mode.CONTINUE: "Continue my text with the next two or three sentences. Write only the "
    "continuation.",
}

#: How the answer starts, for backends that can continue a started answer: a numbered list
#: keeps the small model to questions and ideas instead of drifting into prose.
_PREFIX = {Mode.QUESTIONS: "1.", Mode.IDEAS: "1."}
#: The end of a sentence: its mark and any closing quotation marks or brackets.
_SENTENCE_END = re.compile("[.!?\u2026]+[\"'\u201d\u2019)\\]]*")


def _tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, starting at a word, marked when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    space = cut.find(" ")
    if 0 <= space < limit // 4:
        cut = cut[space + 1 :]
    return "…" + cut


def _head(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``, ending at a word, marked when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 3 // 4:
        cut = cut[:space]
    return cut + "…"


def _last_paragraph(text: str) -> str:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    return paragraphs[-1] if paragraphs else ""


def build_prompt(
    mode: Mode,
    *,
    text: str,
    position: int | None = None,
    selection: str | None = None,
    voice: Sequence[str] = (),
) -> Prompt:
    """The prompt for ``mode`` on a draft whose text is ``text``, the writer's cursor being at
    code point ``position`` (default: the end) and ``selection`` the passage they selected.

    Critique needs a passage: the selection, or else the paragraph before the cursor.
    Continuing needs text before the cursor. Without them the request is refused, saying what
    to do.
    """
    position = len(text) if position is None else max(0, min(position, len(text)))
    before = text[:position]
    chosen = (selection or "").strip()
    parts: list[str] = []
    if voice:
        quoted = "\n".join(f'"{passage}"' for passage in voice)
        parts.append(f"Passages from my earlier work, so you know my voice:\n{quoted}")
    if mode is Mode.CRITIQUE:
        passage = chosen or _last_paragraph(before)
        if not passage:
            raise InputError(
                "There is no passage to critique yet.",
                hint="Select the passage you want the muse to critique.",
            )
        parts.append(f"Here is a passage from my draft:\n\n{_head(passage, SELECTION_CHARS)}")
    elif mode is Mode.CONTINUE:
        if not before.strip():
            raise InputError(
                "There is no text to continue yet.",
                hint="Write a few sentences first, and put the cursor where the muse should go on.",
            )
        parts.append(f"My text so far:\n\n{_tail(before, DRAFT_CHARS)}")
    else:
        draft = _tail(before, DRAFT_CHARS) if before.strip() else "(I have not started yet.)"
        parts.append(f"Here is my draft:\n\n{draft}")
        if chosen:
            parts.append(f"I am working on this passage:\n\n{_head(chosen, SELECTION_CHARS)}")
    parts.append(_ASK[mode])
    return Prompt(
        messages=(("system", _SYSTEM[mode]), ("user", "\n\n".join(parts))),
        prefix=_PREFIX.get(mode, ""),
    )


def tidy(mode: Mode, text: str) -> str:
    """The suggestion as shown and stored: trimmed, and prose that stops mid-sentence (the
    token limit cut it off) ended after its last full sentence, when that keeps more than a
    third of it."""
    text = text.strip()
    if mode is not Mode.CONTINUE:
        return text
    ends = list(_SENTENCE_END.finditer(text))
    if ends and ends[-1].end() < len(text) and ends[-1].end() > len(text) // 3:
        return text[: ends[-1].end()]
    return text
