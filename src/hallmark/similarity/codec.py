"""Fingerprints to bytes and back, for the database (issue #5).

A stored fingerprint is a NumPy ``.npz`` archive (no pickling: :func:`decode` loads with
``allow_pickle=False``, so a tampered row cannot run code) holding the arrays and a small JSON
header with the format version and the scalar fields. :data:`VERSION` names the fingerprint
recipe as well as the layout: when the recipe changes (another shingle size, another
embedder), the version changes and old rows are recomputed rather than compared with new ones.
An image's ``layout`` came later without changing what the hashes mean: it is written when
present and read when there, so older rows stay valid (indexes scan those without one).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from hallmark.errors import InputError
from hallmark.similarity.base import Fingerprint, ImageFingerprint, TextFingerprint
from hallmark.similarity.fingerprints import FINGERPRINT_VERSION

VERSION = f"hallmark-fp/{FINGERPRINT_VERSION}"

_TEXT_ARRAYS = ("minhash", "chunk_minhashes", "vectors", "vector")
_IMAGE_ARRAYS = ("pdq", "phash")


def kind_of(fingerprint: Fingerprint) -> str:
    return "text" if isinstance(fingerprint, TextFingerprint) else "image"


def encode(fingerprint: Fingerprint) -> bytes:
    if isinstance(fingerprint, TextFingerprint):
        header: dict[str, Any] = {
            "version": VERSION,
            "kind": "text",
            "digest": fingerprint.digest,
            "words": fingerprint.words,
        }
        arrays = {name: getattr(fingerprint, name) for name in _TEXT_ARRAYS}
    else:
        header = {
            "version": VERSION,
            "kind": "image",
            "digest": fingerprint.digest,
            "width": fingerprint.width,
            "height": fingerprint.height,
            "quality": fingerprint.quality,
        }
        arrays = {name: getattr(fingerprint, name) for name in _IMAGE_ARRAYS}
        if fingerprint.layout is not None:
            arrays["layout"] = fingerprint.layout
    buffer = io.BytesIO()
    header_bytes = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    np.savez_compressed(buffer, header=header_bytes, **arrays)
    return buffer.getvalue()


def decode(data: bytes) -> Fingerprint:
    """The fingerprint stored in ``data``; :class:`InputError` if it is not one of ours."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode("utf-8"))
            if header.get("version") != VERSION:
                raise InputError(
                    f"The stored fingerprint has format {header.get('version')!r}, not {VERSION}."
                )
            if header["kind"] == "text":
                return TextFingerprint(
                    digest=str(header["digest"]),
                    words=int(header["words"]),
                    **{name: archive[name] for name in _TEXT_ARRAYS},
                )
            return ImageFingerprint(
                digest=str(header["digest"]),
                width=int(header["width"]),
                height=int(header["height"]),
                quality=int(header["quality"]),
                layout=archive["layout"] if "layout" in archive.files else None,
                **{name: archive[name] for name in _IMAGE_ARRAYS},
            )
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"The stored fingerprint cannot be read: {exc}") from None
