"""Tests for :mod:`hallmark.muse.base` and :mod:`hallmark.muse.prompts`: modes, what each prompt
quotes, what is refused, the prompt digest, and how a suggestion is tidied."""

from __future__ import annotations

import hashlib
import json

import pytest

from hallmark.errors import InputError
from hallmark.muse.base import Mode, MuseUnavailable, Prompt
from hallmark.muse.prompts import DRAFT_CHARS, SELECTION_CHARS, build_prompt, tidy

DRAFT = (
    "The tide went out at noon, and the gulls came down to argue over what it left.\n\n"
    "Mara sat on the harbour wall with her father's letter folded in her coat."
)


def user_message(prompt: Prompt) -> str:
    return prompt.messages[-1][1]


def test_modes_parse_and_only_continue_writes_prose() -> None:
    assert Mode.parse(" Questions ") is Mode.QUESTIONS
    assert [mode for mode in Mode if mode.writes_prose] == [Mode.CONTINUE]
    with pytest.raises(InputError) as caught:
        Mode.parse("poem")
    assert "'poem' is not a muse mode" in caught.value.detail
    assert caught.value.hint == "Use one of: questions, ideas, critique, continue."


def test_muse_unavailable_is_a_503_with_its_own_title() -> None:
    error = MuseUnavailable("down")
    assert error.status == 503 and error.title == "Muse unavailable"


@pytest.mark.parametrize("mode", list(Mode))
def test_every_prompt_quotes_the_draft_and_asks_its_own_question(mode: Mode) -> None:
    prompt = build_prompt(mode, text=DRAFT)
    assert [role for role, _ in prompt.messages] == ["system", "user"]
    assert "father's letter" in user_message(prompt)
    others = {build_prompt(m, text=DRAFT).messages for m in Mode if m is not mode}
    assert prompt.messages not in others


def test_questions_and_ideas_start_a_numbered_list_and_prose_does_not() -> None:
    assert build_prompt(Mode.QUESTIONS, text=DRAFT).prefix == "1."
    assert build_prompt(Mode.IDEAS, text=DRAFT).prefix == "1."
    assert build_prompt(Mode.CONTINUE, text=DRAFT).prefix == ""
    assert build_prompt(Mode.CRITIQUE, text=DRAFT).prefix == ""


def test_continue_reads_only_the_text_before_the_cursor() -> None:
    cursor = DRAFT.index("Mara")
    prompt = build_prompt(Mode.CONTINUE, text=DRAFT, position=cursor)
    assert "gulls came down" in user_message(prompt)
    assert "Mara" not in user_message(prompt)


def test_a_long_draft_is_quoted_from_its_end_at_a_word() -> None:
    text = "opening " * 400 + "the very last words"
    excerpt = user_message(build_prompt(Mode.CONTINUE, text=text)).split("\n\n")[1]
    assert excerpt.startswith("…opening ") and excerpt.endswith("the very last words")
    assert len(excerpt) <= DRAFT_CHARS + 1


def test_critique_reads_the_selection_else_the_paragraph_before_the_cursor() -> None:
    selected = build_prompt(Mode.CRITIQUE, text=DRAFT, selection="the gulls came down")
    assert "the gulls came down" in user_message(selected)
    assert "Mara" not in user_message(selected)
    unselected = build_prompt(Mode.CRITIQUE, text=DRAFT)
    assert "Mara sat" in user_message(unselected)
    assert "gulls" not in user_message(unselected)
    long = build_prompt(Mode.CRITIQUE, text=DRAFT, selection="word " * 1000)
    assert long.messages[-1][1].count("word") <= SELECTION_CHARS // 5 + 1


def test_questions_name_the_selected_passage_beside_the_draft() -> None:
    prompt = build_prompt(Mode.QUESTIONS, text=DRAFT, selection="her father's letter")
    assert "I am working on this passage:\n\nher father's letter" in user_message(prompt)


def test_an_empty_draft_may_ask_for_questions_but_not_for_prose_or_critique() -> None:
    assert "not started yet" in user_message(build_prompt(Mode.QUESTIONS, text=""))
    with pytest.raises(InputError, match="no text to continue"):
        build_prompt(Mode.CONTINUE, text="   ")
    with pytest.raises(InputError, match="no passage to critique"):
        build_prompt(Mode.CRITIQUE, text="")


def test_the_writers_voice_is_quoted_when_given() -> None:
    voice = ["The sea kept its own counsel, as it always had.", "Salt on the window glass."]
    prompt = build_prompt(Mode.IDEAS, text=DRAFT, voice=voice)
    message = user_message(prompt)
    assert message.startswith("Passages from my earlier work")
    assert all(f'"{passage}"' in message for passage in voice)
    assert "earlier work" not in user_message(build_prompt(Mode.IDEAS, text=DRAFT))


def test_the_prompt_digest_is_sha256_of_its_jcs_encoding() -> None:
    prompt = Prompt(messages=(("system", "Be brief."), ("user", "Ask me a question.")), prefix="1.")
    # A golden vector (docs/muse.md): keys sorted, no spaces, UTF-8.
    assert prompt.sha256() == "4f4e3966a85041a812b7ef06ef3d95ce42319599f27f01f5623dc2c3e99fb402"
    doc = {"messages": prompt.as_chat(), "prefix": "1."}
    encoded = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    assert prompt.sha256() == hashlib.sha256(encoded).hexdigest()
    assert Prompt(messages=prompt.messages).sha256() != prompt.sha256()


def test_tidy_ends_cut_off_prose_at_its_last_sentence() -> None:
    assert tidy(Mode.CONTINUE, '  She left. The door "closed." And then the') == (
        'She left. The door "closed."'
    )
    # Finished prose, and prose with no sentence end worth keeping, are only trimmed.
    assert tidy(Mode.CONTINUE, " It rained. ") == "It rained."
    assert tidy(Mode.CONTINUE, "Yes. and then the long night came over the") == (
        "Yes. and then the long night came over the"
    )
    assert tidy(Mode.QUESTIONS, "1. Why? 2. Who is") == "1. Why? 2. Who is"
