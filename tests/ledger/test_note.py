"""Tests for :mod:`hallmark.ledger.note`: C2SP signed notes and verifier keys.

Ed25519 is deterministic, so a note signed with a key made from a fixed seed is pinned byte for
byte.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallmark.crypto.keys import private_key_from_seed
from hallmark.errors import InputError, VerificationError
from hallmark.ledger.note import (
    BAD_NOTE_SIGNATURE,
    MALFORMED_NOTE,
    MAX_SIGNATURES,
    Verifier,
    key_id,
    parse_verifier_key,
    sign_note,
    verifier_key,
    verify_note,
)

NAME = "example.com/hallmark"
KEY = private_key_from_seed(bytes(range(32)))
OTHER_KEY = private_key_from_seed(bytes(range(1, 33)))
VERIFIER = Verifier.from_public_key(NAME, KEY.public_key())

GOLDEN_VKEY = "example.com/hallmark+39233505+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
GOLDEN_TEXT = "Hallmark test note\n\nwith a blank line inside\n"
GOLDEN_NOTE = (
    "Hallmark test note\n"
    "\n"
    "with a blank line inside\n"
    "\n"
    "— example.com/hallmark OSM1BTKSSLfbbiPadTScqeD0RKSXfui9TVbwh7W6zD8Fp2kBikaWa/hcwFnpA4kUiv5Ix"
    "+XLOyx9g6R3ktc612NWRgM=\n"
)
SIGNATURE_LINE = GOLDEN_NOTE[len(GOLDEN_TEXT) + 1 :]


def other_signature_line(name: str, text: str = GOLDEN_TEXT) -> str:
    """The signature line another key (a witness, say) would add to the same text."""
    note = sign_note(text, name, OTHER_KEY)
    return note[len(text) + 1 :]


def reason_of(note: str, verifier: Verifier = VERIFIER) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_note(note, verifier)
    return caught.value.reason


# --- Keys -----------------------------------------------------------------------------------------


def test_golden_verifier_key() -> None:
    assert verifier_key(NAME, KEY.public_key()) == GOLDEN_VKEY
    assert VERIFIER.vkey() == GOLDEN_VKEY
    assert VERIFIER.key_id.hex() == "39233505"
    assert parse_verifier_key(GOLDEN_VKEY) == VERIFIER
    assert parse_verifier_key(f"  {GOLDEN_VKEY}\n") == VERIFIER


def test_key_id_depends_on_the_name_and_the_key() -> None:
    assert key_id(NAME, KEY.public_key()) != key_id("example.com/other", KEY.public_key())
    assert key_id(NAME, KEY.public_key()) != key_id(NAME, OTHER_KEY.public_key())


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("example.com/hallmark+39233505", "three parts"),
        ("example.com/hallmark", "this one has 1"),
        # Only the first two '+' separate parts, since base64 has '+' too; the rest is the key.
        (GOLDEN_VKEY + "+extra", "base64"),
        ("+39233505+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "name .* is empty"),
        ("bad name+39233505+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "contains a space"),
        ("example.com/hallmark+3923350+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "8 hex"),
        ("example.com/hallmark+3923350z+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "8 hex"),
        ("example.com/hallmark+39233505+AQOhB7/zzhC!HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "base64"),
        ("example.com/hallmark+39233505+AgOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "0x02"),
        ("example.com/hallmark+39233505+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQS", "32-byte"),
        ("example.com/hallmark+39233506+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "does not"),
        ("example.com/hallmarK+39233505+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4", "does not"),
    ],
)
def test_malformed_verifier_keys_are_refused_with_a_specific_message(
    vkey: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_verifier_key(vkey)


def test_key_names_with_plus_or_space_are_refused_when_signing() -> None:
    for bad in ("a+b", "a b", "", "tab\there"):
        with pytest.raises(InputError, match="key name"):
            sign_note("text\n", bad, KEY)


# --- Signing --------------------------------------------------------------------------------------


def test_golden_signed_note() -> None:
    assert sign_note(GOLDEN_TEXT, NAME, KEY) == GOLDEN_NOTE
    assert verify_note(GOLDEN_NOTE, VERIFIER) == GOLDEN_TEXT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("no final newline", "does not end with a newline"),
        ("carriage\r\nreturn\n", "control characters"),
        ("lone surrogate \ud800\n", "not valid Unicode"),
    ],
)
def test_texts_that_are_not_newline_ended_lines_cannot_be_signed(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sign_note(text, NAME, KEY)


# Any text of printable lines, each ending in a newline, blank lines included.
_LINES = st.lists(
    st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=40),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(_LINES)
def test_any_text_round_trips(lines: list[str]) -> None:
    text = "".join(f"{line}\n" for line in lines)
    assert verify_note(sign_note(text, NAME, KEY), VERIFIER) == text


# --- Verifying: tampering -------------------------------------------------------------------------


def test_a_changed_body_is_rejected() -> None:
    assert reason_of(GOLDEN_NOTE.replace("test note", "test notE")) == BAD_NOTE_SIGNATURE


def test_a_changed_signature_is_rejected() -> None:
    line_start = GOLDEN_NOTE.rindex("— ")
    # A character well after the 4-byte key ID, so the line still claims to be by our key.
    position = line_start + len(f"— {NAME} ") + 40
    swapped = "A" if GOLDEN_NOTE[position] != "A" else "B"
    tampered = GOLDEN_NOTE[:position] + swapped + GOLDEN_NOTE[position + 1 :]
    with pytest.raises(VerificationError, match="does not match the note") as caught:
        verify_note(tampered, VERIFIER)
    assert caught.value.reason == BAD_NOTE_SIGNATURE


def test_a_note_signed_by_another_key_under_the_same_name_is_rejected() -> None:
    forged = sign_note(GOLDEN_TEXT, NAME, OTHER_KEY)
    with pytest.raises(VerificationError, match="not signed by the key") as caught:
        verify_note(forged, VERIFIER)
    assert caught.value.reason == BAD_NOTE_SIGNATURE


def test_a_signature_line_under_another_name_does_not_count() -> None:
    # Our key's signature bytes, relabelled: the (name, key ID) pair no longer matches.
    relabelled = GOLDEN_NOTE.replace(f"— {NAME} ", "— example.com/impostor ")
    assert reason_of(relabelled) == BAD_NOTE_SIGNATURE


def test_signatures_by_unknown_keys_are_ignored() -> None:
    witnessed = GOLDEN_NOTE + other_signature_line("witness.example/w1")
    assert verify_note(witnessed, VERIFIER) == GOLDEN_TEXT
    listed_first = GOLDEN_TEXT + "\n" + other_signature_line("witness.example/w1") + SIGNATURE_LINE
    assert verify_note(listed_first, VERIFIER) == GOLDEN_TEXT


def test_a_bad_signature_by_our_key_rejects_the_note_even_beside_a_good_one() -> None:
    bad_line = sign_note("other text\n", NAME, KEY)[len("other text\n") + 1 :]
    assert reason_of(GOLDEN_TEXT + "\n" + SIGNATURE_LINE + bad_line) == BAD_NOTE_SIGNATURE


def test_the_spec_minimum_of_sixteen_signatures_is_accepted_and_too_many_are_not() -> None:
    others = "".join(other_signature_line(f"witness.example/w{i}") for i in range(15))
    assert verify_note(GOLDEN_NOTE + others, VERIFIER) == GOLDEN_TEXT
    crowd = "".join(other_signature_line(f"w{i}") for i in range(MAX_SIGNATURES))
    with pytest.raises(VerificationError, match="more than the 100") as caught:
        verify_note(GOLDEN_NOTE + crowd, VERIFIER)
    assert caught.value.reason == MALFORMED_NOTE


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("one line of text\n", "no blank line"),
        (GOLDEN_TEXT + "\n", "no signature lines"),
        (GOLDEN_NOTE[:-1], "does not end with a newline"),
        (GOLDEN_NOTE + "Unexpected line.\n", "line 2 does not start with an em dash"),
        (GOLDEN_NOTE.replace("—", "-"), "does not start with an em dash"),
        (GOLDEN_NOTE.replace(f"— {NAME} ", "— bad\u00a0name "), "is not '— <key name>"),
        (GOLDEN_NOTE.replace(f"— {NAME} ", f"— {NAME}"), "is not '— <key name>"),
        (GOLDEN_NOTE.replace("=\n", "\n"), "not valid base64"),
        (GOLDEN_TEXT + f"\n— {NAME} AAAA\n", "too short"),
        ("\x01" + GOLDEN_NOTE, "control characters"),
        (GOLDEN_NOTE.replace("\n", "\r\n"), "control characters"),
        (GOLDEN_NOTE + "\n", "no signature lines"),
    ],
)
def test_malformed_notes_are_rejected_as_malformed(note: str, message: str) -> None:
    with pytest.raises(VerificationError, match=message) as caught:
        verify_note(note, VERIFIER)
    assert caught.value.reason == MALFORMED_NOTE
