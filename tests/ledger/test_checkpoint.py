"""Tests for :mod:`hallmark.ledger.checkpoint`: C2SP tlog-checkpoint text and signing.

The golden checkpoint is the 8-leaf tree over ``bytes([0])`` to ``bytes([7])`` (its root is
pinned in ``test_merkle.py``), signed with a key made from a fixed seed; Ed25519 is
deterministic, so the whole signed note is pinned byte for byte.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallmark.crypto.keys import private_key_from_seed
from hallmark.errors import LedgerError, VerificationError
from hallmark.ledger.checkpoint import (
    BAD_CHECKPOINT_SIGNATURE,
    MALFORMED_CHECKPOINT,
    Checkpoint,
    open_checkpoint,
    sign_checkpoint,
)
from hallmark.ledger.merkle import EMPTY_ROOT, MemoryTree
from hallmark.ledger.note import Verifier, sign_note

ORIGIN = "example.com/hallmark"
KEY = private_key_from_seed(bytes(range(32)))
OTHER_KEY = private_key_from_seed(bytes(range(1, 33)))
VERIFIER = Verifier.from_public_key(ORIGIN, KEY.public_key())

ROOT_8 = bytes.fromhex("ef7f49b620f6c7ea9b963a214da34b5021c6ded8ed57734380a311ab726aa907")
GOLDEN = Checkpoint(ORIGIN, 8, ROOT_8)
GOLDEN_TEXT = "example.com/hallmark\n8\n739JtiD2x+qbljohTaNLUCHG3tjtV3NDgKMRq3JqqQc=\n"
GOLDEN_SIGNED = (
    GOLDEN_TEXT + "\n— example.com/hallmark OSM1BYuSbPslWHP9+N5F6HAHq5TBVVhX+0yO1M6uSgmvDC7CUWZ4"
    "+NiwB9+9s0kFC8Zymq4+n5c8O6obCdLHQN2p7Q4=\n"
)
GOLDEN_WITH_EXTENSION = (
    "example.com/hallmark\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\n"
    "\n— example.com/hallmark OSM1BdWRGwu+xjcdO/r5KlCPbNgDN9vaYUuPM9m08IleE6VXAn4DJETkBFQUep7W"
    "lzzpSTcQZldS6eLROzb8swrelAQ=\n"
)


def reason_of(note: str, verifier: Verifier = VERIFIER) -> str:
    with pytest.raises(VerificationError) as caught:
        open_checkpoint(note, verifier)
    return caught.value.reason


# --- Text form ------------------------------------------------------------------------------------


def test_golden_checkpoint_text() -> None:
    tree = MemoryTree()
    for i in range(8):
        tree.append(bytes([i]))
    assert tree.root() == ROOT_8
    assert GOLDEN.to_text() == GOLDEN_TEXT
    assert Checkpoint.parse(GOLDEN_TEXT) == GOLDEN


def test_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one", "— ext two"))
    assert checkpoint.to_text().endswith("ext one\n— ext two\n")
    assert Checkpoint.parse(checkpoint.to_text()) == checkpoint


_ORIGINS = st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1)


@settings(max_examples=80, deadline=None)
@given(
    _ORIGINS,
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(_ORIGINS, max_size=3).map(tuple),
)
def test_any_checkpoint_round_trips_through_text(
    origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root_hash, extensions)
    assert Checkpoint.parse(checkpoint.to_text()) == checkpoint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("example.com/hallmark\n8\n739JtiD2x+qbljohTaNLUCHG3tjtV3NDgKMRq3JqqQc=", "newline"),
        ("example.com/hallmark\n8\n", "three lines"),
        ("\n8\n739JtiD2x+qbljohTaNLUCHG3tjtV3NDgKMRq3JqqQc=\n", "origin line is empty"),
        (GOLDEN_TEXT.replace("\n8\n", "\n08\n"), "leading zeros"),
        (GOLDEN_TEXT.replace("\n8\n", "\n-8\n"), "decimal"),
        (GOLDEN_TEXT.replace("\n8\n", "\n+8\n"), "decimal"),
        (GOLDEN_TEXT.replace("\n8\n", "\n8.0\n"), "decimal"),
        (GOLDEN_TEXT.replace("\n8\n", "\n\u0668\n"), "decimal"),  # an Arabic-Indic eight
        (GOLDEN_TEXT.replace("\n8\n", f"\n{2**64}\n"), "too large"),
        (GOLDEN_TEXT.replace("qQc=", "qQc"), "base64"),
        (GOLDEN_TEXT.replace("qQc=", "qQd="), "canonical"),
        (GOLDEN_TEXT.replace("739J", "739"), "base64"),
        ("example.com/hallmark\n8\nAAAA\n", "3 bytes, not 32"),
        (GOLDEN_TEXT + "\n", "extension line is empty"),
        (GOLDEN_TEXT.replace("hallmark\n", "hallmark\r\n"), "control character"),
    ],
)
def test_malformed_checkpoint_text_is_rejected(text: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message) as caught:
        Checkpoint.parse(text)
    assert caught.value.reason == MALFORMED_CHECKPOINT


@pytest.mark.parametrize(
    ("origin", "size", "root_hash", "extensions"),
    [
        ("", 1, ROOT_8, ()),
        ("two\nlines", 1, ROOT_8, ()),
        (ORIGIN, -1, ROOT_8, ()),
        (ORIGIN, 2**64, ROOT_8, ()),
        (ORIGIN, 1, ROOT_8[:31], ()),
        (ORIGIN, 1, ROOT_8, ("",)),
        (ORIGIN, 1, ROOT_8, ("a\nb",)),
    ],
)
def test_a_checkpoint_that_could_not_be_written_cannot_be_made(
    origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(LedgerError, match="Cannot make a checkpoint"):
        Checkpoint(origin, size, root_hash, extensions)


# --- Signing and opening --------------------------------------------------------------------------


def test_golden_signed_checkpoint() -> None:
    assert sign_checkpoint(GOLDEN, ORIGIN, KEY) == GOLDEN_SIGNED
    assert open_checkpoint(GOLDEN_SIGNED, VERIFIER) == GOLDEN


def test_golden_signed_checkpoint_with_an_extension_line() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, ("ext one",))
    assert sign_checkpoint(checkpoint, ORIGIN, KEY) == GOLDEN_WITH_EXTENSION
    assert open_checkpoint(GOLDEN_WITH_EXTENSION, VERIFIER) == checkpoint


def test_a_changed_size_is_rejected() -> None:
    tampered = GOLDEN_SIGNED.replace("\n8\n", "\n9\n")
    assert reason_of(tampered) == BAD_CHECKPOINT_SIGNATURE


def test_a_changed_root_hash_is_rejected() -> None:
    tampered = GOLDEN_SIGNED.replace("739J", "739K")
    assert reason_of(tampered) == BAD_CHECKPOINT_SIGNATURE


def test_a_changed_signature_is_rejected() -> None:
    tampered = GOLDEN_SIGNED.replace("OSM1BYuSbPsl", "OSM1BYuSbPsm")
    with pytest.raises(VerificationError, match="does not match") as caught:
        open_checkpoint(tampered, VERIFIER)
    assert caught.value.reason == BAD_CHECKPOINT_SIGNATURE


def test_a_checkpoint_signed_by_another_key_is_rejected() -> None:
    forged = sign_checkpoint(GOLDEN, ORIGIN, OTHER_KEY)
    with pytest.raises(VerificationError, match="not signed by the key") as caught:
        open_checkpoint(forged, VERIFIER)
    assert caught.value.reason == BAD_CHECKPOINT_SIGNATURE


def test_a_checkpoint_for_another_origin_is_rejected_even_when_validly_signed() -> None:
    elsewhere = Checkpoint("example.org/another-log", 8, ROOT_8)
    signed = sign_checkpoint(elsewhere, ORIGIN, KEY)
    expected = re.escape("for the log 'example.org/another-log'")
    with pytest.raises(VerificationError, match=expected) as caught:
        open_checkpoint(signed, VERIFIER)
    assert caught.value.reason == BAD_CHECKPOINT_SIGNATURE


def test_a_witness_cosignature_does_not_get_in_the_way() -> None:
    witness_line = sign_note(GOLDEN_TEXT, "witness.example/w1", OTHER_KEY)[len(GOLDEN_TEXT) + 1 :]
    assert open_checkpoint(GOLDEN_SIGNED + witness_line, VERIFIER) == GOLDEN


def test_a_malformed_note_is_a_malformed_checkpoint() -> None:
    assert reason_of(GOLDEN_TEXT) == MALFORMED_CHECKPOINT
    assert reason_of(GOLDEN_SIGNED.replace("—", "-")) == MALFORMED_CHECKPOINT


def test_well_signed_text_that_is_not_a_checkpoint_is_malformed() -> None:
    signed = sign_note(f"{ORIGIN}\nnot a size\n", ORIGIN, KEY)
    with pytest.raises(VerificationError, match="three lines") as caught:
        open_checkpoint(signed, VERIFIER)
    assert caught.value.reason == MALFORMED_CHECKPOINT
