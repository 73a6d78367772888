"""Signed notes in the C2SP format (https://c2sp.org/signed-note), Ed25519 signatures only.

A signed note is a text (lines, each ending in a newline), a blank line, then one line per
signature: ``— <key name> <base64(key ID || signature)>``, with an em dash (U+2014). Hallmark
signs its checkpoints this way, so witnesses and monitors built for other transparency logs
(Go's ``golang.org/x/mod/sumdb/note``, the transparency-dev tools) can read them unchanged.

Only signature type ``0x01`` (Ed25519, RFC 8032) is produced or checked. Keys are passed around
as *verifier keys*, the form those tools use: ``<name>+<hex key ID>+<base64(0x01 || key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hallmark.crypto.keys import public_raw
from hallmark.errors import InputError, VerificationError

__all__ = [
    "BAD_NOTE_SIGNATURE",
    "ED25519",
    "MALFORMED_NOTE",
    "MAX_SIGNATURES",
    "NoteSignature",
    "SigningKey",
    "Verifier",
    "format_vkey",
    "key_id",
    "parse_ed25519_vkey",
    "parse_verifier_key",
    "sign_note",
    "signature_line",
    "split_note",
    "typed_key_id",
    "verifier_key",
    "verify_note",
]

#: The signature type byte the spec assigns to Ed25519.
ED25519: Final = 0x01

#: The spec asks verifiers to cap the number of signatures and to accept at least 16; 100 is
#: the cap of Go's reference implementation, so any note it accepts is accepted here too.
MAX_SIGNATURES: Final = 100

#: Reason codes of the :class:`~hallmark.errors.VerificationError` raised by :func:`verify_note`.
MALFORMED_NOTE: Final = "malformed-note"
BAD_NOTE_SIGNATURE: Final = "bad-note-signature"

_SIGNATURE_PREFIX: Final = "\u2014 "
_ED25519_SIGNATURE_SIZE: Final = 64
# The spec allows newline and nothing else below U+0020.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class SigningKey(Protocol):
    """What signing a note needs: an Ed25519 private key, or a signer holding one elsewhere.

    ``Ed25519PrivateKey`` fits, and so does :class:`hallmark.crypto.signers.Signer`, so a key
    kept in a KMS signs notes without this module knowing.
    """

    def public_key(self) -> Ed25519PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


def key_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a key name, or None when it can (signed-note, Format)."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if "+" in name:
        return "contains a plus sign"
    if any(char.isspace() for char in name):
        return "contains a space"
    if _CONTROL.search(name):
        return "contains a control character"
    return None


def typed_key_id(name: str, signature_type: int, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || signature type || 32-byte public key)[:4].

    The signed-note key ID; the type byte keeps one public key used for two kinds of signature
    (0x01 note signatures, 0x04 tlog cosignatures) from ever sharing an ID.
    """
    material = name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_raw(public_key)
    return hashlib.sha256(material).digest()[:4]


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4] (signed-note, Signatures)."""
    return typed_key_id(name, ED25519, public_key)


@dataclass(frozen=True)
class Verifier:
    """A named Ed25519 public key that notes are checked against."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> Verifier:
        problem = key_name_problem(name)
        if problem:
            raise InputError(f"The key name {name!r} {problem}; key names cannot.")
        return cls(name, key_id(name, public_key), public_key)

    def vkey(self) -> str:
        """This key as a verifier key string: ``<name>+<hex key ID>+<base64 key>``."""
        return format_vkey(self.name, self.key_id, ED25519, self.public_key)


def format_vkey(name: str, key_id: bytes, signature_type: int, public_key: Ed25519PublicKey) -> str:
    """``<name>+<hex key ID>+<base64(signature type || public key)>``."""
    encoded = base64.b64encode(bytes([signature_type]) + public_raw(public_key)).decode()
    return f"{name}+{key_id.hex()}+{encoded}"


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key string for ``public_key`` under ``name``."""
    return Verifier.from_public_key(name, public_key).vkey()


_VKEY_HINT = "Copy the verifier key exactly as the log publishes it: name+keyid+key, on one line."


def parse_verifier_key(vkey: str) -> Verifier:
    """Read a verifier key string; raise :class:`InputError` saying what is wrong with it."""
    name, public_key = parse_ed25519_vkey(vkey, ED25519, "Ed25519 keys", _VKEY_HINT)
    return Verifier(name, key_id(name, public_key), public_key)


def parse_ed25519_vkey(
    vkey: str, signature_type: int, kind: str, hint: str
) -> tuple[str, Ed25519PublicKey]:
    """The name and key of a verifier key of ``signature_type`` over an Ed25519 key.

    Raises :class:`InputError` saying what is wrong: the number of parts, the name, the key ID
    (which must match the name, type and key), the base64, the type byte, the key length.
    ``kind`` names what is accepted in the type message ("Ed25519 keys"), ``hint`` what to do.
    """
    # Surrounding whitespace is what copying from a web page or a file adds; it is never part
    # of a key, since names cannot contain spaces and the other parts are hex and base64.
    # Only the first two "+" separate parts: base64 keys may contain "+" themselves.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise InputError(
            f"A verifier key has three parts separated by '+' (name, key ID, key); "
            f"this one has {len(parts)}.",
            hint=hint,
        )
    name, hex_id, encoded = parts
    problem = key_name_problem(name)
    if problem:
        raise InputError(f"The key name in the verifier key {problem}.", hint=hint)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise InputError(
            f"The key ID in the verifier key must be 8 hexadecimal digits, not {hex_id!r}.",
            hint=hint,
        )
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InputError("The key in the verifier key is not valid base64.", hint=hint) from None
    if not raw or raw[0] != signature_type:
        found = f"0x{raw[0]:02x}" if raw else "missing"
        raise InputError(
            f"The verifier key's signature type is {found}; Hallmark only reads {kind} here "
            f"(type 0x{signature_type:02x}).",
            hint=hint,
        )
    if len(raw) != 33:
        raise InputError(
            f"An Ed25519 verifier key holds a 32-byte public key, this one {len(raw) - 1} bytes.",
            hint=hint,
        )
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise InputError("The verifier key does not hold a usable Ed25519 key.") from None
    if typed_key_id(name, signature_type, public_key) != bytes.fromhex(hex_id):
        raise InputError(
            "The key ID in the verifier key does not match its name and key: part of it was "
            "mistyped or changed.",
            hint=hint,
        )
    return name, public_key


def _text_problem(text: str) -> str | None:
    if not isinstance(text, str) or not text:
        return "is empty"
    if not text.endswith("\n"):
        return "does not end with a newline"
    if _CONTROL.search(text):
        return "contains control characters other than newline"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    return None


def sign_note(text: str, name: str, private_key: SigningKey) -> str:
    """Sign ``text`` as key ``name``; return the signed note (text, blank line, signature)."""
    problem = _text_problem(text)
    if problem:
        raise InputError(f"A note's text must be lines ending in newlines; this text {problem}.")
    verifier = Verifier.from_public_key(name, private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(verifier.key_id + signature).decode()
    return f"{text}\n{_SIGNATURE_PREFIX}{name} {encoded}\n"


def _malformed(detail: str) -> VerificationError:
    return VerificationError(MALFORMED_NOTE, f"The signed note is malformed: {detail}.")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note: the key name, the 4-byte key ID and the signature bytes.

    ``line`` is the line as written (without its newline), so a note can be rebuilt byte for
    byte with some of its signatures kept and others added (witness cosignatures).
    """

    name: str
    key_id: bytes
    signature: bytes
    line: str


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its signature lines, checking only the format.

    No signature is verified here; :func:`verify_note` and the cosignature checks do that
    against the keys they trust. Raises ``malformed-note`` on anything off-format.
    """
    if not isinstance(note, str):
        raise _malformed("it is not text")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed("it is not valid Unicode") from None
    if _CONTROL.search(note):
        raise _malformed("it contains control characters other than newline")
    # The text may itself hold blank lines; the last blank line is the one before signatures.
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed("there is no blank line between the text and the signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise _malformed("it has no signature lines")
    if not block.endswith("\n"):
        raise _malformed("the last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"it has {len(lines)} signatures, more than the {MAX_SIGNATURES} allowed")
    signatures: list[NoteSignature] = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIGNATURE_PREFIX):
            raise _malformed(f"signature line {number} does not start with an em dash and a space")
        name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        if not space or key_name_problem(name) or not encoded:
            raise _malformed(f"signature line {number} is not '— <key name> <signature>'")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise _malformed(f"the signature on line {number} is not valid base64") from None
        if len(raw) < 5:
            raise _malformed(f"the signature on line {number} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:], line))
    return text, signatures


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    """``— <name> <base64(key ID || signature)>``, without the newline."""
    return f"{_SIGNATURE_PREFIX}{name} {base64.b64encode(key_id + signature).decode()}"


def verify_note(note: str, verifier: Verifier) -> str:
    """Check ``note`` carries a valid signature by ``verifier``; return the signed text.

    Signatures by other keys are ignored, as the spec requires (they may be witnesses' or a
    rotated key's). A signature that claims to be by ``verifier`` (same name and key ID) but
    does not verify rejects the whole note, as the spec recommends.
    """
    text, signatures = split_note(note)
    message = text.encode("utf-8")
    verified = False
    for found in signatures:
        if found.name != verifier.name or found.key_id != verifier.key_id:
            continue
        try:
            if len(found.signature) != _ED25519_SIGNATURE_SIZE:
                raise InvalidSignature
            verifier.public_key.verify(found.signature, message)
        except InvalidSignature:
            raise VerificationError(
                BAD_NOTE_SIGNATURE,
                f"The signature by {verifier.name} does not match the note: the note was "
                "changed after signing, or the signature is forged.",
            ) from None
        verified = True
    if not verified:
        raise VerificationError(
            BAD_NOTE_SIGNATURE,
            f"The note is not signed by the key {verifier.name}+{verifier.key_id.hex()}.",
        )
    return text
