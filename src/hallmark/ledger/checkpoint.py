"""Log checkpoints in the C2SP format (https://c2sp.org/tlog-checkpoint).

A checkpoint is the signed statement "the log called <origin> has <size> entries and this root
hash". Its text is the origin, the size in decimal, the base64 root hash, then optional
extension lines, each ending in a newline; it is published as a signed note (:mod:`.note`)
whose key name is the origin. A bundle carries one, so a work can be checked against the log
without asking the instance.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from hallmark.errors import LedgerError, VerificationError
from hallmark.ledger.merkle import HASH_SIZE
from hallmark.ledger.note import MALFORMED_NOTE, SigningKey, Verifier, sign_note, verify_note

__all__ = [
    "BAD_CHECKPOINT_SIGNATURE",
    "MALFORMED_CHECKPOINT",
    "Checkpoint",
    "open_checkpoint",
    "sign_checkpoint",
]

#: Reason codes of the :class:`~hallmark.errors.VerificationError` raised here.
MALFORMED_CHECKPOINT: Final = "malformed-checkpoint"
BAD_CHECKPOINT_SIGNATURE: Final = "bad-checkpoint-signature"

# The transparency-dev checkpoint parser reads the size as an unsigned 64-bit number; a larger
# one could never come from an honest log, so it is refused rather than carried as a big int.
_MAX_SIZE: Final = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


def _problem(origin: str, size: int, root_hash: bytes, extensions: tuple[str, ...]) -> str | None:
    """Why these fields cannot form a checkpoint, or None when they can."""
    if not isinstance(origin, str) or not origin:
        return "the origin is empty"
    if _CONTROL.search(origin):
        return "the origin contains a newline or control character"
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= _MAX_SIZE:
        return f"the tree size {size!r} is not a whole number below 2**64"
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        return f"the root hash is not {HASH_SIZE} bytes"
    if not isinstance(extensions, tuple):
        return "the extension lines are not a tuple"
    for line in extensions:
        if not isinstance(line, str) or not line:
            return "an extension line is empty"
        if _CONTROL.search(line):
            return "an extension line contains a newline or control character"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A log's size and root hash at one moment, as named by its origin line."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _problem(self.origin, self.size, self.root_hash, self.extensions)
        if problem:
            raise LedgerError(f"Cannot make a checkpoint: {problem}.")

    def to_text(self) -> str:
        """The note text: origin, size, base64 root hash and extension lines, newline-ended."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        lines.extend(self.extensions)
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Read a checkpoint's note text; raise ``malformed-checkpoint`` on anything off-format."""

        def malformed(detail: str) -> VerificationError:
            return VerificationError(
                MALFORMED_CHECKPOINT, f"The checkpoint is malformed: {detail}."
            )

        if not isinstance(text, str) or not text.endswith("\n"):
            raise malformed("it does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise malformed("it needs at least three lines: origin, tree size and root hash")
        origin, size_line, root_line, *extensions = lines
        if not origin:
            raise malformed("the origin line is empty")
        if not _DECIMAL.fullmatch(size_line):
            raise malformed("the tree size is not a decimal number without leading zeros")
        size = int(size_line)
        if size > _MAX_SIZE:
            raise malformed("the tree size is too large")
        try:
            root_hash = base64.b64decode(root_line, validate=True)
        except binascii.Error:
            raise malformed("the root hash is not valid base64") from None
        # Only the canonical encoding is accepted, so one tree head has exactly one text.
        if base64.b64encode(root_hash).decode() != root_line:
            raise malformed("the root hash is not in canonical base64")
        if len(root_hash) != HASH_SIZE:
            raise malformed(f"the root hash is {len(root_hash)} bytes, not {HASH_SIZE}")
        problem = _problem(origin, size, root_hash, tuple(extensions))
        if problem:
            raise malformed(problem)
        return cls(origin, size, root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: SigningKey) -> str:
    """The checkpoint as a signed note by key ``name``, which should be the origin."""
    return sign_note(checkpoint.to_text(), name, private_key)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint against ``verifier`` and return it.

    The signature is checked before the text is read, as the signed-note spec requires. The
    checkpoint's origin must be the key's name: a valid signature on another log's checkpoint
    says nothing about this log.
    """
    try:
        text = verify_note(note, verifier)
    except VerificationError as exc:
        reason = MALFORMED_CHECKPOINT if exc.reason == MALFORMED_NOTE else BAD_CHECKPOINT_SIGNATURE
        raise VerificationError(
            reason, f"The signed checkpoint does not verify. {exc.detail}"
        ) from None
    checkpoint = Checkpoint.parse(text)
    if checkpoint.origin != verifier.name:
        raise VerificationError(
            BAD_CHECKPOINT_SIGNATURE,
            f"The checkpoint is for the log {checkpoint.origin!r}, but the key given is for "
            f"{verifier.name!r}.",
        )
    return checkpoint
