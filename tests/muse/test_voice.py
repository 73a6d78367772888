"""Tests for :mod:`hallmark.muse.voice`: earlier works cut into passages, the nearest picked."""

from __future__ import annotations

import numpy as np

from hallmark.muse.voice import MIN_PASSAGE_WORDS, PASSAGE_CHARS, nearest, passages

SENTENCE = "The boats came home late, low in the water, and the harbour master counted them."


def test_passages_keep_whole_sentences_within_paragraphs() -> None:
    text = " ".join([SENTENCE] * 6) + "\n\n" + SENTENCE
    found = passages(text)
    assert all(len(p) <= PASSAGE_CHARS for p in found)
    assert all(p.startswith("The boats") and p.endswith("counted them.") for p in found)
    # The second paragraph is a passage of its own, never joined to the first.
    assert found[-1] == SENTENCE
    assert sum(p.count("The boats") for p in found) == 7


def test_an_overlong_sentence_is_cut_at_spaces_and_short_bits_are_dropped() -> None:
    long = " ".join(["harbour"] * 120)
    found = passages(long + "\n\nToo short.")
    assert found and all(len(p) <= PASSAGE_CHARS for p in found)
    assert all(len(p.split()) >= MIN_PASSAGE_WORDS for p in found)
    assert "Too short." not in found


def test_nearest_orders_by_cosine_and_leaves_out_unrelated_passages() -> None:
    vectors = np.array([[1, 0, 0], [0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    query = np.array([0.8, 0.6, 0], dtype=np.float32)
    assert nearest(query, vectors, k=3) == [1, 0]
    assert nearest(query, vectors, k=1) == [1]
    assert nearest(query, np.zeros((0, 3), dtype=np.float32)) == []
