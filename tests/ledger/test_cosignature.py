"""Tests for :mod:`hallmark.ledger.cosignature`: C2SP tlog-cosignature, Ed25519 cosignature/v1.

Ed25519 is deterministic, so a cosignature made with a key from a fixed seed at a fixed time is
pinned byte for byte; the golden line is also checked by hand, from the spec's own words, so
the pin cannot drift with the code it pins.
"""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from hallmark.crypto.keys import private_key_from_seed, public_raw
from hallmark.errors import InputError, VerificationError
from hallmark.ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from hallmark.ledger.cosignature import (
    BAD_COSIGNATURE,
    MAX_TIMESTAMP,
    CosignerKey,
    cosign,
    cosigned_message,
    parse_cosigner_key,
    verify_cosignatures,
)
from hallmark.ledger.note import Verifier, split_note, verifier_key

ORIGIN = "example.com/hallmark"
LOG_KEY = private_key_from_seed(bytes(range(32)))
WITNESS = "witness.example.org/w1"
WITNESS_KEY = private_key_from_seed(bytes(range(100, 132)))
COSIGNER = CosignerKey.from_public_key(WITNESS, WITNESS_KEY.public_key())
CHECKPOINT = Checkpoint(ORIGIN, 8, hashlib.sha256(b"root").digest())
NOTE = sign_checkpoint(CHECKPOINT, ORIGIN, LOG_KEY)
#: The time of the spec's own example ("time 1679315147").
TIME = 1679315147

GOLDEN_VKEY = "witness.example.org/w1+0ae1df0e+BAu8NGpXZnw4ASC9nH/X5R0sX9/qN80vW/QFssa/by14"
GOLDEN_LINE = (
    "— witness.example.org/w1 CuHfDgAAAABkGFDL2ld6IaPaoJLkT//4v6je2ZgJRyZqhkEF0w6QKHUQouHFL3BW2jj"
    "t9LIG8aAxb+i7oIJZ9EIzkhXTH5wRDI/vCg==\n"
)
#: The witness line of the example in the C2SP tlog-cosignature text.
SPEC_EXAMPLE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIU"
    "BkBIfZ+qnA=="
)


def test_golden_cosigner_key_and_line() -> None:
    assert COSIGNER.vkey() == GOLDEN_VKEY
    assert parse_cosigner_key(GOLDEN_VKEY) == COSIGNER
    assert cosign(NOTE, WITNESS, WITNESS_KEY, TIME) == NOTE + GOLDEN_LINE


def test_the_golden_line_checks_out_by_the_spec_text() -> None:
    raw = base64.b64decode(GOLDEN_LINE.split(" ")[2])
    public = public_raw(WITNESS_KEY.public_key())
    assert raw[:4] == hashlib.sha256(WITNESS.encode() + b"\n" + b"\x04" + public).digest()[:4]
    assert struct.unpack(">Q", raw[4:12]) == (TIME,)
    message = b"cosignature/v1\n" + b"time 1679315147\n" + CHECKPOINT.to_text().encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)


def test_the_spec_example_has_the_same_layout() -> None:
    # key ID (4) || big-endian u64 timestamp (8) || Ed25519 signature (64), as in the spec's
    # example, whose signed message shows the same time.
    raw = base64.b64decode(SPEC_EXAMPLE)
    assert len(raw) == 4 + 8 + 64
    assert struct.unpack(">Q", raw[4:12]) == (TIME,)


def test_the_signed_message_is_header_time_then_the_whole_body() -> None:
    body = "example.com/hallmark\n8\nAAAA\nan extension line\n"
    assert cosigned_message(body, 42) == (b"cosignature/v1\ntime 42\n" + body.encode())


def test_a_cosignature_key_id_differs_from_a_note_key_id() -> None:
    # Type 0x04 versus 0x01: the same key never signs both kinds under one ID.
    assert COSIGNER.key_id != Verifier.from_public_key(WITNESS, WITNESS_KEY.public_key()).key_id


def test_the_log_signature_still_verifies_beside_cosignatures() -> None:
    cosigned = cosign(NOTE, WITNESS, WITNESS_KEY, TIME)
    assert open_checkpoint(cosigned, Verifier.from_public_key(ORIGIN, LOG_KEY.public_key())) == (
        CHECKPOINT
    )
    (found,) = verify_cosignatures(cosigned, [COSIGNER])
    assert found.cosigner == COSIGNER and found.timestamp == TIME
    assert found.line + "\n" == GOLDEN_LINE


def test_lines_by_unknown_keys_are_ignored() -> None:
    other = CosignerKey.from_public_key("other.example/w", LOG_KEY.public_key())
    assert verify_cosignatures(cosign(NOTE, WITNESS, WITNESS_KEY, TIME), [other]) == []


@pytest.mark.parametrize(
    "change",
    [
        lambda note: note.replace("\n8\n", "\n9\n", 1),  # the body changed after cosigning
        lambda note: note.replace("CuHfDgAAAABkGFDL", "CuHfDgAAAABkGFDM", 1),  # the time
    ],
)
def test_a_changed_note_fails_its_cosignature(change: object) -> None:
    assert callable(change)
    with pytest.raises(VerificationError) as caught:
        verify_cosignatures(change(cosign(NOTE, WITNESS, WITNESS_KEY, TIME)), [COSIGNER])
    assert caught.value.reason == BAD_COSIGNATURE


def test_a_short_cosignature_is_refused() -> None:
    line = "— " + WITNESS + " " + base64.b64encode(COSIGNER.key_id + b"\x00" * 40).decode()
    with pytest.raises(VerificationError, match="not a timestamp and an Ed25519 signature"):
        verify_cosignatures(NOTE + line + "\n", [COSIGNER])


def test_a_log_verifier_key_is_not_a_witness_key() -> None:
    with pytest.raises(InputError, match=r"type is 0x01.*witness keys"):
        parse_cosigner_key(verifier_key(ORIGIN, LOG_KEY.public_key()))
    with pytest.raises(InputError, match="does not match"):
        parse_cosigner_key(GOLDEN_VKEY.replace("0ae1df0e", "0ae1df0f"))


def test_timestamps_out_of_range_are_refused() -> None:
    for bad in (-1, MAX_TIMESTAMP + 1):
        with pytest.raises(InputError, match="2\\*\\*63"):
            cosign(NOTE, WITNESS, WITNESS_KEY, bad)


@given(st.integers(min_value=0, max_value=MAX_TIMESTAMP))
def test_any_timestamp_round_trips(timestamp: int) -> None:
    cosigned = cosign(NOTE, WITNESS, WITNESS_KEY, timestamp)
    (found,) = verify_cosignatures(cosigned, [COSIGNER])
    assert found.timestamp == timestamp
    text, signatures = split_note(cosigned)
    assert text == CHECKPOINT.to_text() and len(signatures) == 2
