"""Content digests: SHA-256 of the bytes and, for text, of the normalized text.

The normalized-text digest lets a re-saved copy of a text still verify: an editor that
converts CRLF to LF, strips trailing spaces or recomposes accents changes the bytes but not
the words. Normalization (issue #2): Unicode NFC, every line ending (CRLF, CR, U+2028, U+2029,
NEL) becomes LF, trailing whitespace is stripped from each line and from the end of the text,
and a leading byte-order mark is dropped.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from hallmark.errors import InputError

_LINE_BREAKS = re.compile(r"\r\n|\r|\u2028|\u2029|\u0085")
_TRAILING_SPACE = re.compile(r"[^\S\n]+$", re.MULTILINE)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_text(data: bytes) -> str:
    """Decode UTF-8 text (with or without BOM), or explain why it is not text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"The text is not valid UTF-8 (bad byte at offset {exc.start}).",
            hint="Save the file as UTF-8 and upload it again.",
        ) from None
    if "\x00" in text:
        raise InputError("The text contains NUL characters; it looks like a binary file.")
    return text.removeprefix("\ufeff")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    text = _LINE_BREAKS.sub("\n", text)
    text = _TRAILING_SPACE.sub("", text)
    return text.rstrip()


def normalized_text_sha256(data: bytes) -> str:
    return sha256_hex(normalize_text(decode_text(data)).encode("utf-8"))
