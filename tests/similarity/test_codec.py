"""Stored fingerprints round-trip exactly, and bad bytes are refused clearly (issue #5)."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest

from hallmark.errors import InputError
from hallmark.similarity import codec
from hallmark.similarity.base import ImageFingerprint, TextFingerprint
from hallmark.similarity.fingerprints import image_fingerprint
from tests.similarity.perturb import encode, make_image


def text_fp() -> TextFingerprint:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = rng.integers(0, 2**32, size=(3, 128), dtype=np.uint64).astype(np.uint32)
    return TextFingerprint(
        digest="ab" * 32,
        words=150,
        minhash=chunks.min(axis=0),
        chunk_minhashes=chunks,
        vectors=vectors,
        vector=vectors.mean(axis=0),
    )


def test_a_text_fingerprint_round_trips() -> None:
    fp = text_fp()
    back = codec.decode(codec.encode(fp))
    assert isinstance(back, TextFingerprint)
    assert (back.digest, back.words) == (fp.digest, fp.words)
    for name in ("minhash", "chunk_minhashes", "vectors", "vector"):
        assert np.array_equal(getattr(back, name), getattr(fp, name))
        assert getattr(back, name).dtype == getattr(fp, name).dtype
    assert codec.kind_of(back) == "text"


def test_an_image_fingerprint_round_trips() -> None:
    fp = image_fingerprint(encode(make_image(5, (200, 160))))
    back = codec.decode(codec.encode(fp))
    assert isinstance(back, ImageFingerprint)
    assert (back.digest, back.width, back.height, back.quality) == (
        fp.digest,
        fp.width,
        fp.height,
        fp.quality,
    )
    assert np.array_equal(back.pdq, fp.pdq) and np.array_equal(back.phash, fp.phash)
    assert fp.layout is not None and back.layout is not None
    assert np.array_equal(back.layout, fp.layout) and back.layout.dtype == np.float32
    assert codec.kind_of(back) == "image"


def test_an_image_fingerprint_stored_before_layouts_still_reads() -> None:
    fp = image_fingerprint(encode(make_image(6, (180, 120))))
    old = dataclasses.replace(fp, layout=None)
    back = codec.decode(codec.encode(old))
    assert isinstance(back, ImageFingerprint) and back.layout is None
    assert np.array_equal(back.pdq, fp.pdq)


@pytest.mark.parametrize("data", [b"", b"not an archive", b"PK\x03\x04broken"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        codec.decode(data)


def test_another_format_version_is_refused() -> None:
    buffer = io.BytesIO()
    header = json.dumps({"version": "hallmark-fp/0", "kind": "text"}).encode()
    np.savez(buffer, header=np.frombuffer(header, dtype=np.uint8))
    with pytest.raises(InputError, match="format"):
        codec.decode(buffer.getvalue())


def test_pickled_arrays_are_never_loaded() -> None:
    buffer = io.BytesIO()
    header = json.dumps({"version": codec.VERSION, "kind": "text"}).encode()
    np.savez(buffer, header=np.frombuffer(header, dtype=np.uint8), minhash=np.array([object()]))
    with pytest.raises(InputError):
        codec.decode(buffer.getvalue())
