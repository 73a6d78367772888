"""Normalized-text digests: a re-saved text keeps its digest, a changed one does not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallmark.core.digests import decode_text, normalize_text, normalized_text_sha256
from hallmark.errors import InputError

ORIGINAL = "Caf\u00e9 at dawn\nthe kettle sings\n"


@pytest.mark.parametrize(
    "resaved",
    [
        ORIGINAL.replace("\n", "\r\n").encode(),  # Windows line endings
        ORIGINAL.replace("\n", "\r").encode(),  # classic Mac line endings
        ORIGINAL.replace("\n", "   \n").encode(),  # trailing spaces
        ("\ufeff" + ORIGINAL).encode(),  # byte-order mark
        ORIGINAL.replace("\u00e9", "e\u0301").encode(),  # decomposed accent (NFD)
        (ORIGINAL + "\n\n\t").encode(),  # trailing blank lines
    ],
)
def test_resaved_copies_share_the_normalized_digest(resaved: bytes) -> None:
    assert normalized_text_sha256(resaved) == normalized_text_sha256(ORIGINAL.encode())


def test_changed_words_change_the_digest() -> None:
    assert normalized_text_sha256(b"the kettle sings") != normalized_text_sha256(b"the kettle sang")


def test_inner_spacing_is_kept() -> None:
    # Only trailing whitespace is insignificant: indentation carries meaning in poems.
    assert normalize_text("  a  b\n") == "  a  b"


def test_non_utf8_is_refused_with_its_offset() -> None:
    with pytest.raises(InputError, match="offset 3"):
        decode_text(b"abc\xff")


@given(st.text())
def test_normalization_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
