"""Reading uploaded files and form values, for the API and the pages alike.

Uploaded files are read with a cap one byte over the limit, so an oversized part is refused
without holding more of it in memory than the limit itself. Routes that store what they
receive (works, drafts) take it as a spooled :class:`~hallmark.storage.spool.Content`
instead: read in chunks, on disk once past a megabyte, never whole in memory.

Form values arrive as strings; the few that are numbers are parsed here, so a bad value gets
a sentence rather than a validation error about types.
"""

from __future__ import annotations

import math

from fastapi import UploadFile

from hallmark.core.bundle import MAX_BUNDLE_BYTES
from hallmark.errors import InputError, TooLargeError
from hallmark.storage.spool import Content, as_content


def read_upload(upload: UploadFile | None, *, limit: int, what: str = "file") -> bytes | None:
    """The bytes of ``upload``; None when no file was chosen; 413 when over ``limit``."""
    if upload is None:
        return None
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise TooLargeError(
            f"The {what} is larger than the limit of {limit:,} bytes.",
            hint="Send a smaller file, or ask the operator to raise max_upload_bytes.",
        )
    if not data and not upload.filename:
        # A browser sends an empty, nameless part for a file input left empty.
        return None
    return data


def receive_upload(upload: UploadFile | None, *, limit: int, what: str = "file") -> Content | None:
    """``upload`` received in chunks into a spool (see :mod:`hallmark.storage.spool`), for
    the routes that store what they receive; None when no file was chosen; 413 over ``limit``.
    Close the answer when done."""
    if upload is None:
        return None
    try:
        # Starlette has already spooled the part (to disk past 1 MiB): hashed there, not copied.
        content = Content.adopt(upload.file, max_bytes=limit)
    except TooLargeError:
        raise TooLargeError(
            f"The {what} is larger than the limit of {limit:,} bytes.",
            hint="Send a smaller file, or ask the operator to raise max_upload_bytes.",
        ) from None
    if not content.size and not upload.filename:
        content.close()
        return None
    return content


def receive_file(upload: UploadFile | None, *, limit: int) -> Content:
    """:func:`receive_upload` for a file the route requires: no file is an empty one, which
    inspection then refuses with its own message."""
    return receive_upload(upload, limit=limit) or as_content(b"")


def read_bundle(upload: UploadFile | None) -> bytes | None:
    data = read_upload(upload, limit=MAX_BUNDLE_BYTES, what="bundle")
    if data is not None and not data.strip():
        raise InputError("The bundle file is empty.", hint="Choose a .hallmark.json file.")
    return data


def parse_ai_share(value: str | None) -> float | None:
    """A percentage from a form field: blank means 'not given'; '12.5' and '12.5%' both work."""
    text = (value or "").strip().removesuffix("%").strip()
    if not text:
        return None
    try:
        share = float(text)
    except ValueError:
        raise InputError(
            f"The AI share '{text[:20]}' is not a number.",
            hint="Give the percentage of the work that was AI-generated, e.g. 20.",
        ) from None
    if not math.isfinite(share) or not 0 <= share <= 100:
        raise InputError(
            f"The AI share {text[:20]} is not between 0 and 100.",
            hint="Give a percentage from 0 to 100.",
        )
    return share
