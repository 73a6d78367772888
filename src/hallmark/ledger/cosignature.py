"""Witness cosignatures on checkpoints: C2SP tlog-cosignature, Ed25519 ``cosignature/v1``.

A witness (a monitor that also signs) states "as of this time, this is the largest tree head of
this log I have seen, and it is consistent with every earlier one I saw" by adding one more
signature line to the checkpoint's signed note (https://c2sp.org/tlog-cosignature, "Format"
and "Ed25519 signed message"):

- key ID: ``SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4]``; the type byte
  0x04 keeps a cosignature from ever passing for an ordinary note signature (type 0x01);
- signature line: ``— <name> base64(key ID || timestamp || signature)``, the timestamp a
  big-endian ``u64`` of POSIX seconds (at most 2**63 - 1), the signature 64 bytes of Ed25519;
- signed message: ``cosignature/v1\\n``, ``time <timestamp>\\n`` (decimal, no leading zeros),
  then the whole checkpoint text, extension lines and final newline included.

Witness keys are passed around as verifier keys of type 0x04 (``<name>+<hex key ID>+<base64(0x04
|| key)>``), the form the spec allows. Pure: no database, no network; the clock is passed in.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hallmark.errors import InputError, VerificationError
from hallmark.ledger.note import (
    SigningKey,
    format_vkey,
    key_name_problem,
    parse_ed25519_vkey,
    signature_line,
    split_note,
    typed_key_id,
)

__all__ = [
    "BAD_COSIGNATURE",
    "COSIGNATURE_V1",
    "MAX_TIMESTAMP",
    "Cosignature",
    "CosignerKey",
    "cosign",
    "cosigned_message",
    "parse_cosigner_key",
    "verify_cosignatures",
]

#: The signature type byte tlog-cosignature assigns to Ed25519 ``cosignature/v1``.
COSIGNATURE_V1: Final = 0x04
#: The spec's bound on a cosignature's timestamp.
MAX_TIMESTAMP: Final = 2**63 - 1
#: Reason code of the :class:`~hallmark.errors.VerificationError` raised here.
BAD_COSIGNATURE: Final = "bad-cosignature"

_HEADER: Final = b"cosignature/v1\n"
_TIMESTAMP = struct.Struct(">Q")
_SIGNATURE_SIZE: Final = 64
_COSIGNER_HINT = (
    "A witness key looks like name+keyid+key (type 0x04); 'hallmark keys witness' prints one."
)


@dataclass(frozen=True)
class CosignerKey:
    """A witness's Ed25519 public key under its name, with the cosignature key ID."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> CosignerKey:
        problem = key_name_problem(name)
        if problem:
            raise InputError(f"The witness name {name!r} {problem}; key names cannot.")
        return cls(name, typed_key_id(name, COSIGNATURE_V1, public_key), public_key)

    def vkey(self) -> str:
        """This key as a verifier key of type 0x04: what the ``witnesses`` setting lists."""
        return format_vkey(self.name, self.key_id, COSIGNATURE_V1, self.public_key)


def parse_cosigner_key(vkey: str) -> CosignerKey:
    """Read a witness's verifier key (type 0x04); :class:`InputError` says what is wrong."""
    name, public_key = parse_ed25519_vkey(
        vkey, COSIGNATURE_V1, "witness keys (Ed25519 cosignature/v1)", _COSIGNER_HINT
    )
    return CosignerKey(name, typed_key_id(name, COSIGNATURE_V1, public_key), public_key)


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs: header line, time line, then the checkpoint text."""
    _check_timestamp(timestamp)
    return _HEADER + f"time {timestamp}\n".encode() + checkpoint_text.encode("utf-8")


def cosign(note: str, name: str, private_key: SigningKey, timestamp: int) -> str:
    """The signed note with the witness's cosignature line added at the end.

    ``note`` is the checkpoint as the log signed it; only its text is signed (the spec: "the
    whole note body ... but not including any signature lines"). The caller must already have
    checked the log's signature and the checkpoint's consistency: signing is the statement.
    """
    text, _ = split_note(note)
    cosigner = CosignerKey.from_public_key(name, private_key.public_key())
    signature = private_key.sign(cosigned_message(text, timestamp))
    line = signature_line(name, cosigner.key_id, _TIMESTAMP.pack(timestamp) + signature)
    return f"{note}{line}\n"


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds), and its line as written."""

    cosigner: CosignerKey
    timestamp: int
    line: str


def verify_cosignatures(note: str, cosigners: Iterable[CosignerKey]) -> list[Cosignature]:
    """The valid cosignatures on ``note`` by any of ``cosigners``, in note order.

    Lines by other keys are ignored, as the signed-note spec requires (the log's own signature
    among them). A line that claims to be by a known cosigner (same name and key ID) but does
    not verify raises ``bad-cosignature``: such a note is forged or was changed after cosigning.
    The log's own signature is not checked here; :func:`hallmark.ledger.checkpoint.
    open_checkpoint` does that.
    """
    text, signatures = split_note(note)
    known = {(key.name, key.key_id): key for key in cosigners}
    found: list[Cosignature] = []
    for signature in signatures:
        cosigner = known.get((signature.name, signature.key_id))
        if cosigner is None:
            continue
        raw = signature.signature
        if len(raw) != _TIMESTAMP.size + _SIGNATURE_SIZE:
            raise _bad(cosigner, "it is not a timestamp and an Ed25519 signature")
        (timestamp,) = _TIMESTAMP.unpack(raw[: _TIMESTAMP.size])
        if timestamp > MAX_TIMESTAMP:
            raise _bad(cosigner, "its timestamp is beyond 2**63 - 1")
        try:
            cosigner.public_key.verify(raw[_TIMESTAMP.size :], cosigned_message(text, timestamp))
        except InvalidSignature:
            raise _bad(
                cosigner, "the checkpoint was changed after cosigning, or it is forged"
            ) from None
        found.append(Cosignature(cosigner, timestamp, signature.line))
    return found


def _bad(cosigner: CosignerKey, why: str) -> VerificationError:
    return VerificationError(
        BAD_COSIGNATURE, f"The cosignature by the witness {cosigner.name} does not verify: {why}."
    )


def _check_timestamp(timestamp: int) -> None:
    if (
        not isinstance(timestamp, int)
        or isinstance(timestamp, bool)
        or not 0 <= timestamp <= MAX_TIMESTAMP
    ):
        raise InputError(
            f"A cosignature timestamp is whole seconds from 0 to 2**63 - 1, not {timestamp!r}."
        )
