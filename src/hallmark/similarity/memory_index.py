"""The default similarity index, ``memory``: every fingerprint held in this process (issue #5).

An index answers "which stored fingerprints are near this one?" in two steps. It first
gathers *candidates* quickly, with structures that may miss nothing the thresholds accept but
may return too much, then scores each candidate with :func:`hallmark.similarity.compare.compare`
against the fingerprint it holds, so an answer's score and kind are exactly what ``compare``
says of the two fingerprints. The candidates come from:

- **Texts, shared words**: MinHash LSH over every chunk signature and every whole-text
  signature. A signature is cut into ``b`` bands of ``r`` values, the ``(b, r)`` datasketch
  computes for :data:`LSH_THRESHOLD` weighted towards recall; two signatures are candidates
  when a band agrees. Band keys are kept in sorted NumPy runs rather than in
  :class:`datasketch.MinHashLSH`, whose Python dictionaries need about 13 kB per signature
  (a million works of a few chunks would need tens of gigabytes); here a band costs 8 bytes.
  See ``docs/similarity.md`` and ``benchmarks/README.md``.
- **Texts, shared meaning**: an HNSW graph (hnswlib, inner product on unit vectors, that is
  cosine) over each text's mean vector and, for texts of several chunks, each chunk vector.
  The query's mean and chunk vectors each ask for their nearest neighbours; those at a cosine
  a paraphrase could have are candidates. LSH finds copies that keep the words; the vectors
  find those that keep the meaning (``compare`` accepts both, and LSH alone would need bands
  so short that every text shares one with thousands of others).
- **Images, layout**: an HNSW graph over each image's layout (a coarse colour map of its inner
  part, ``fingerprints.image_layouts``). The query's layouts for each of its boxes and their
  mirror images each ask for their :attr:`MemoryIndex.layout_neighbours` nearest; those are
  the candidates.
- **Images, rows**: the candidates' hash rows (kept as one record per image, so gathering a
  few hundred is cheap) are then scanned exactly with ``np.bitwise_count`` on 64-bit words
  laid out row plane by row plane, over exactly the row
  pairs ``compare.eligible_pairs`` allows, with the distance ``compare.image_distance`` uses.
  Scanning every stored image this way (about 400 row pairs each with 82 rows) took 2.3 s a
  query at a million images; the layout graph cuts that to the few hundred worth scanning.
  Fingerprints stored before layouts existed have none: they are always scanned, and a query
  without a layout scans every image, so nothing stored earlier is lost.

Removing a key takes it out of every answer at once (its LSH entries and HNSW nodes are marked
dead and skipped; they are dropped for good at the next :meth:`MemoryIndex.save`). The index is
saved as NumPy ``.npy`` files, hnswlib's own file and a JSON manifest with the format version,
the parameters, the high-water mark and each file's SHA-256 (:meth:`MemoryIndex.save`);
:meth:`MemoryIndex.load` refuses, without raising, a snapshot that is missing, of another
format, or damaged, so the service rebuilds from the database.

One lock guards the state, since web requests query while a background job adds; the only long
step, merging large LSH runs, is done outside it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

from hallmark.errors import InputError
from hallmark.plugins.hookspecs import hookimpl
from hallmark.similarity import compare as scoring
from hallmark.similarity.base import (
    Candidate,
    Fingerprint,
    ImageFingerprint,
    TextFingerprint,
)
from hallmark.similarity.fingerprints import (
    EMBEDDING_DIM,
    FIRST_CROP_ROW,
    IMAGE_ROWS,
    LAYOUT_DIM,
    NUM_PERM,
    mirror_layouts,
)

logger = logging.getLogger(__name__)

NAME = "memory"
#: Names the snapshot layout; a snapshot of another format is not loaded (the index is rebuilt).
FORMAT = "hallmark-memory-index/2"
MANIFEST = "manifest.json"

#: Chunks sharing this Jaccard similarity are found nearly always (94% for one pair of chunks at
#: 0.4, 99.6% at 0.5), and datasketch weighs a missed pair nine times a spurious one: a
#: spurious candidate costs one ``compare``, a missed one is a copy never reported. Lighter
#: reuse (a third of the words replaced gives chunk pairs near 0.3) is left to the vectors.
LSH_THRESHOLD = 0.4
LSH_WEIGHTS = (0.1, 0.9)
#: Vector neighbours under ``2 * PARAPHRASE_SIMILARITY - 1`` minus this are not candidates.
#: ``compare``'s semantic similarity is the mean of the mean-vector cosine and the chunk
#: alignment, both at most 1, so a paraphrase has a mean-vector cosine of at least
#: ``2 * PARAPHRASE_SIMILARITY - 1``; the margin absorbs HNSW's rounding.
VECTOR_MARGIN = 0.05

# Two 32-bit halves of a packed LSH entry: the band key above, the signature row below.
_LOW32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
_BAND_MIX = np.uint64(0xBF58476D1CE4E5B9)
_MIX_SHIFT = np.uint64(31)
#: A new LSH run is merged into the one before it once it holds a quarter as many entries, so
#: a query searches at most about log4(entries) runs and an entry is rewritten a few times per
#: fourfold growth.
_MERGE_RATIO = 4
#: Images the scan handles at once: enough that NumPy's cost per call vanishes, few enough
#: that the temporaries (crop rows x images) stay small. Measured best of 2**10 to 2**16.
_SCAN_BLOCK = 1 << 13
_PDQ_WORDS = 4  # 256 bits
_PHASH_WORDS = 1  # 64 bits
_ROW_WORDS = _PDQ_WORDS + _PHASH_WORDS
#: ``compare.image_distance`` of two rows is ``(pdq / 256 + phash / 64) / 2``, that is
#: ``(pdq + 4 * phash) / 512``: the scan works on that integer, exactly.
_PHASH_WEIGHT = (_PDQ_WORDS * 64) // (_PHASH_WORDS * 64)
_DISTANCE_SCALE = 2 * _PDQ_WORDS * 64
_DIGEST_BYTES = 32

_TEXT_SLOT = np.dtype(
    [
        ("key", "<i8"),
        ("alive", "?"),
        # A SHA-256 hex digest is kept as its 32 bytes; any other digest in ``_odd_digests``.
        ("plain", "?"),
        ("digest", "u1", (_DIGEST_BYTES,)),
        ("words", "<i8"),
        ("sig_start", "<i8"),  # first chunk signature row; the chunks follow it
        ("chunks", "<i4"),
        ("whole", "<i8"),  # the whole-text signature row (the chunk row of a one-chunk text)
        ("vec_start", "<i8"),  # HNSW label of the mean vector; chunk vectors follow it
        ("vecs", "<i4"),
    ]
)
_IMAGE_SLOT = np.dtype(
    [
        ("key", "<i8"),
        ("alive", "?"),
        ("plain", "?"),
        ("digest", "u1", (_DIGEST_BYTES,)),
        ("width", "<i8"),
        ("height", "<i8"),
        ("quality", "<i8"),
        ("rows", "<i4"),  # rows of the fingerprint (the table keeps ``image_rows`` per image)
        ("laid", "?"),  # whether its layout is in the graph (HNSW label = slot); else scanned
    ]
)


@functools.cache
def lsh_parameters(num_perm: int = NUM_PERM) -> tuple[int, int]:
    """The LSH bands and rows per band, as datasketch chooses them for the shipped threshold."""
    # datasketch brings scipy (about a second): imported when an index is first made, not
    # when the plugin is registered at every process start.
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=num_perm, weights=LSH_WEIGHTS)
    return int(lsh.b), int(lsh.r)


# Growing arrays ----------------------------------------------------------------------------


class _Rows:
    """A NumPy array that grows along its first axis; ``data`` is the filled part."""

    def __init__(self, dtype: Any, shape: tuple[int, ...] = (), initial: np.ndarray | None = None):
        self._shape = shape
        if initial is None:
            self._array = np.empty((16, *shape), dtype=dtype)
            self.size = 0
        else:
            self._array = np.array(initial, dtype=dtype, copy=True)
            self.size = len(initial)

    @property
    def data(self) -> np.ndarray:
        return self._array[: self.size]

    def append(self, rows: np.ndarray) -> int:
        """Append ``rows`` and return the index of the first."""
        start, end = self.size, self.size + len(rows)
        if end > len(self._array):
            # Grow by half rather than double: the signature rows are the largest array of a big
            # index, and doubling would leave up to half of it allocated and unused.
            grown = np.empty(
                (max(end, len(self._array) * 3 // 2, 16), *self._shape), self._array.dtype
            )
            grown[:start] = self._array[:start]
            self._array = grown
        self._array[start:end] = rows
        self.size = end
        return start


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indexes ``starts[i] .. starts[i] + counts[i] - 1`` for every ``i``, concatenated."""
    ends = np.cumsum(counts)
    return np.repeat(starts - ends + counts, counts) + np.arange(int(ends[-1]) if len(ends) else 0)


def _digest_parts(digest: str) -> tuple[bool, np.ndarray]:
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raw = b""
    if len(raw) == _DIGEST_BYTES and raw.hex() == digest:
        return True, np.frombuffer(raw, dtype=np.uint8)
    return False, np.zeros(_DIGEST_BYTES, dtype=np.uint8)


# MinHash LSH -------------------------------------------------------------------------------


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The 32-bit key of each band of each signature: ``uint32[n, bands]``.

    The band's number is mixed in, so equal values in different bands do not collide. Keys are
    hashes, so unequal bands collide now and then (about once in four billion): that only adds
    a candidate, which ``compare`` then turns down.
    """
    count = signatures.shape[0]
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(count, bands, rows)
    keys = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _BAND_SALT, (count, bands))
    keys = keys.copy()
    for column in range(rows):
        keys ^= values[:, :, column]
        keys *= _BAND_MIX
        keys ^= keys >> _MIX_SHIFT
    return (keys >> _SHIFT32).astype(np.uint32)


class _BandTable:
    """LSH buckets as sorted runs of ``band key << 32 | signature row`` (``uint64``).

    Runs never change once made: new entries form a new run, and runs are merged in the
    background of :meth:`MemoryIndex.add`, so readers can keep using the runs they hold.
    """

    def __init__(self, runs: list[np.ndarray] | None = None) -> None:
        self.runs: list[np.ndarray] = runs if runs is not None else []

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Add ``keys`` (``uint32[n, bands]``) of signature ``rows`` (``int[n]``)."""
        packed = (keys.astype(np.uint64) << _SHIFT32) | rows.astype(np.uint64)[:, None]
        run = packed.ravel()
        run.sort()
        self.runs.append(run)

    def next_merge(self) -> tuple[np.ndarray, np.ndarray] | None:
        if len(self.runs) >= 2 and len(self.runs[-2]) <= _MERGE_RATIO * len(self.runs[-1]):
            return self.runs[-2], self.runs[-1]
        return None

    def replace(self, older: np.ndarray, newer: np.ndarray, merged: np.ndarray) -> None:
        for position in range(len(self.runs) - 1):
            if self.runs[position] is older and self.runs[position + 1] is newer:
                self.runs[position : position + 2] = [merged]
                return
        raise AssertionError("LSH runs changed during a merge")

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The signature rows sharing a band key with ``keys``, once per shared key."""
        wanted = np.unique(keys).astype(np.uint64) << _SHIFT32
        found = []
        for run in self.runs:
            starts = np.searchsorted(run, wanted, side="left")
            counts = np.searchsorted(run, wanted | _LOW32, side="right") - starts
            hit = counts > 0
            if hit.any():
                found.append(run[_ranges(starts[hit], counts[hit])])
        if not found:
            return np.zeros(0, dtype=np.int64)
        return (np.concatenate(found) & _LOW32).astype(np.int64)

    def merged(self, live_rows: np.ndarray) -> np.ndarray:
        """Every entry in one run, without the rows where ``live_rows`` is false."""
        if not self.runs:
            return np.zeros(0, dtype=np.uint64)
        everything = np.concatenate(self.runs)
        everything.sort(kind="stable")
        kept: np.ndarray = everything[live_rows[(everything & _LOW32).astype(np.int64)]]
        return kept


def merge_runs(older: np.ndarray, newer: np.ndarray) -> np.ndarray:
    merged = np.concatenate([older, newer])
    # NumPy's stable sort is a timsort for 64-bit integers: it finds the two sorted runs and
    # merges them in linear time, ten times faster than sorting from scratch.
    merged.sort(kind="stable")
    return merged


# Hamming scan ------------------------------------------------------------------------------


def _close_pairs(
    stored: list[np.ndarray], query: list[np.ndarray], limit: int
) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The positions and scores of the row pairs scoring at most ``limit``.

    ``stored`` and ``query`` hold one array per word (4 PDQ words, then the pHash word) that
    broadcast to one shape; the score is ``pdq + 4 * phash`` differing bits. The pHash word and
    the first PDQ word are counted for every pair and already exceed the limit for nearly all
    unrelated rows (4 * 32 + 32 on average, against a limit near 118), so the three other words
    are counted only for the few pairs left.
    """
    bound = np.bitwise_count(stored[_PDQ_WORDS] ^ query[_PDQ_WORDS]).astype(np.uint16)
    bound *= _PHASH_WEIGHT
    bound += np.bitwise_count(stored[0] ^ query[0])
    near = np.nonzero(bound <= limit)
    score = bound[near].astype(np.int64)
    if score.size:
        for word in range(1, _PDQ_WORDS):
            left = np.broadcast_to(stored[word], bound.shape)[near]
            right = np.broadcast_to(query[word], bound.shape)[near]
            score += np.bitwise_count(left ^ right)
        keep = score <= limit
        return tuple(axis[keep] for axis in near), score[keep]
    return near, score


def image_scan(
    table: np.ndarray, queries: np.ndarray, first_crop: int, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every eligible row pair of a query and the stored images scoring at most ``limit``.

    ``table`` is ``uint64[5 * rows, n]``: word ``w`` of row ``r`` of image ``s`` is
    ``table[5 * r + w, s]``, so each word of each row is one contiguous plane over the images.
    ``queries`` is ``uint64[m, 5]``, at most ``rows`` rows. The pairs are those of
    :func:`hallmark.similarity.compare.eligible_pairs`: rows under ``first_crop`` (as uploaded,
    mirrored) of either side with every row of the other, and each crop row with the same crop
    row. Returns the image, query row, stored row and score of each pair found.
    """
    count = table.shape[1]
    rows = len(queries)
    planes = queries.T  # word -> query rows
    heads = min(first_crop, rows)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, count, _SCAN_BLOCK):
        end = min(count, start + _SCAN_BLOCK)
        for row in range(heads):
            # This stored head row against every query row: shape (query rows, images).
            stored = [table[_ROW_WORDS * row + word, start:end][None, :] for word in range(5)]
            (query_row, image), score = _close_pairs(
                stored, [planes[word][:, None] for word in range(5)], limit
            )
            found.append((image + start, query_row, np.full(len(score), row), score))
        if rows > first_crop:
            # Every stored crop row at once: shape (crop rows, images).
            crops = [
                table[_ROW_WORDS * first_crop + word : _ROW_WORDS * rows : _ROW_WORDS, start:end]
                for word in range(5)
            ]
            for head in range(heads):
                (crop, image), score = _close_pairs(
                    crops, [planes[word][head] for word in range(5)], limit
                )
                found.append((image + start, np.full(len(score), head), crop + first_crop, score))
            (crop, image), score = _close_pairs(
                crops, [planes[word][first_crop:rows, None] for word in range(5)], limit
            )
            found.append((image + start, crop + first_crop, crop + first_crop, score))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    images, query_rows, stored_rows, scores = (
        np.concatenate(part) for part in zip(*found, strict=True)
    )
    return images, query_rows, stored_rows, scores


def _scan_records(
    records: np.ndarray, queries: np.ndarray, first_crop: int, limit: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`image_scan` over ``records`` (``uint64[n, 5 * rows]``, one image per record),
    turned into planes a block at a time: the full scan a query without a layout needs."""
    parts = []
    for start in range(0, len(records), _SCAN_BLOCK):
        block = np.ascontiguousarray(records[start : start + _SCAN_BLOCK].T)
        found, query_row, stored_row, score = image_scan(block, queries, first_crop, limit)
        parts.append((found + start, query_row, stored_row, score))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    images, query_rows, stored_rows, scores = (
        np.concatenate(part) for part in zip(*parts, strict=True)
    )
    return images, query_rows, stored_rows, scores


# The index ---------------------------------------------------------------------------------


@dataclass
class _TextState:
    slots: _Rows
    signatures: _Rows  # uint32[NUM_PERM] per chunk or whole-text signature
    signature_owner: _Rows  # text slot of each signature row
    vector_owner: _Rows  # text slot of each HNSW label
    bands: _BandTable
    hnsw: Any  # hnswlib.Index, made on the first text
    dead_vectors: int
    # The chunk vector of a one-chunk text, when it is not bit for bit its mean vector.
    lone_chunks: dict[int, np.ndarray]
    odd_digests: dict[int, str]


@dataclass
class _ImageState:
    slots: _Rows
    table: _Rows  # uint64[5 * image_rows] per slot: every row of the image, one record each
    odd_digests: dict[int, str]
    hnsw: Any = None  # hnswlib.Index of layouts, made on the first image that has one
    dead_layouts: int = 0


def _new_text_state(num_perm: int) -> _TextState:
    return _TextState(
        slots=_Rows(_TEXT_SLOT),
        signatures=_Rows(np.uint32, (num_perm,)),
        signature_owner=_Rows(np.int64),
        vector_owner=_Rows(np.int64),
        bands=_BandTable(),
        hnsw=None,
        dead_vectors=0,
        lone_chunks={},
        odd_digests={},
    )


def _new_image_state(rows: int) -> _ImageState:
    return _ImageState(
        slots=_Rows(_IMAGE_SLOT), table=_Rows(np.dtype("<u8"), (_ROW_WORDS * rows,)), odd_digests={}
    )


class MemoryIndex:
    """The in-process :class:`~hallmark.similarity.base.SimilarityIndex` (see the module).

    ``image_rows`` and ``first_crop`` are the fingerprints module's rows per image and first
    crop row (an image with more rows is refused). ``hnsw_m``, ``ef_construction`` and
    ``ef_search`` are hnswlib's graph degree, build effort and search effort; ``neighbours``
    is how many nearest vectors each query vector asks for; ``max_candidates`` caps how many
    candidates one query scores with ``compare`` (the most promising first), so a passage
    found in thousands of works cannot make a query slow. ``layout_neighbours`` is how many
    nearest stored layouts each of an image query's layouts asks for (10 layouts a query).

    ``ef_search`` is high because random vectors, the benchmark's worst case, hide a close
    neighbour well: among 100,000 of them, one at a cosine of 0.9 was found 92% of the time
    at 128, 98.8% at 256 and always at 512 (3.4 ms a search on the 2-core test machine).
    """

    def __init__(
        self,
        *,
        num_perm: int = NUM_PERM,
        dim: int = EMBEDDING_DIM,
        image_rows: int = IMAGE_ROWS,
        first_crop: int = FIRST_CROP_ROW,
        hnsw_m: int = 16,
        ef_construction: int = 100,
        ef_search: int = 512,
        neighbours: int = 16,
        max_candidates: int = 256,
        layout_neighbours: int = 100,
        layout_ef_search: int = 200,
    ) -> None:
        self.num_perm = num_perm
        self.dim = dim
        self.image_rows = image_rows
        self.first_crop = first_crop
        self.hnsw_m = hnsw_m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.neighbours = neighbours
        self.max_candidates = max_candidates
        self.layout_neighbours = layout_neighbours
        self.layout_ef_search = layout_ef_search
        self.bands, self.rows = lsh_parameters(num_perm)
        self.vector_floor = 2 * scoring.PARAPHRASE_SIMILARITY - 1 - VECTOR_MARGIN
        # The largest integer score whose distance compare.compare_images still accepts.
        self.image_limit = max(
            (
                score
                for score in range(_DISTANCE_SCALE + 1)
                if score / _DISTANCE_SCALE <= scoring.IMAGE_DISTANCE
            ),
            default=-1,
        )
        self._lock = threading.RLock()
        self._merge_lock = threading.Lock()
        self._text = _new_text_state(num_perm)
        self._image = _new_image_state(image_rows)
        self._keys: dict[int, tuple[bool, int]] = {}  # key -> (is text, slot)
        self._high_water = 0

    # The protocol ----------------------------------------------------------------------

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)

    @property
    def high_water(self) -> int:
        with self._lock:
            return self._high_water

    def add(self, key: int, fingerprint: Fingerprint) -> None:
        """Add ``fingerprint`` under ``key``, replacing what the key held before."""
        key = int(key)
        if isinstance(fingerprint, TextFingerprint):
            prepared_text = self._check_text(fingerprint)
            with self._lock:
                self._remove_locked(key)
                self._add_text(key, fingerprint, *prepared_text)
                self._high_water = max(self._high_water, key)
            self._merge_bands()
        elif isinstance(fingerprint, ImageFingerprint):
            words, layout = self._check_image(fingerprint)
            if len(words) > self.image_rows:
                raise InputError(
                    f"The image fingerprint has {len(words)} rows; this index holds at most "
                    f"{self.image_rows}.",
                    hint="Compute the fingerprint again with hallmark.similarity.fingerprints.",
                )
            with self._lock:
                self._remove_locked(key)
                self._add_image(key, fingerprint, words, layout)
                self._high_water = max(self._high_water, key)
        else:
            raise InputError(f"Cannot index a {type(fingerprint).__name__}.")

    def remove(self, key: int) -> None:
        """Take ``key`` out of every answer; a key not held is ignored."""
        with self._lock:
            self._remove_locked(int(key))

    def query(self, fingerprint: Fingerprint, limit: int = 10) -> list[Candidate]:
        """The held fingerprints ``compare`` matches with ``fingerprint``, best first."""
        if limit < 1:
            return []
        stored: list[tuple[int, Fingerprint]]
        if isinstance(fingerprint, TextFingerprint):
            signatures, vectors = self._check_text(fingerprint)[:2]
            with self._lock:
                slots = self._text_candidates(signatures, vectors, limit)
                stored = [(int(self._text.slots.data[s]["key"]), self._text_at(s)) for s in slots]
        elif isinstance(fingerprint, ImageFingerprint):
            words, layout = self._check_image(fingerprint)
            with self._lock:
                slots = self._image_candidates(words[: self.image_rows], layout, limit)
                stored = [(int(self._image.slots.data[s]["key"]), self._image_at(s)) for s in slots]
        else:
            raise InputError(f"Cannot search with a {type(fingerprint).__name__}.")
        # Scoring needs nothing but the copies made above, so other requests need not wait.
        answers = []
        for key, other in stored:
            match = scoring.compare(fingerprint, other)
            if match is not None:
                answers.append(Candidate(key=key, score=match.score, kind=match.kind))
        answers.sort(key=lambda c: (-c.score, c.key))
        return answers[:limit]

    # Checking input --------------------------------------------------------------------

    def _check_text(self, fp: TextFingerprint) -> tuple[np.ndarray, np.ndarray, bool]:
        """The signatures to band and the vectors to search, or :class:`InputError`.

        Returns ``[whole, *chunks]`` signatures (the whole one left out when a single chunk
        equals it), ``[mean, *chunks]`` vectors, and whether the whole signature is separate.
        """
        whole = np.asarray(fp.minhash)
        chunks = np.asarray(fp.chunk_minhashes)
        vectors = np.asarray(fp.vectors, dtype=np.float32)
        mean = np.asarray(fp.vector, dtype=np.float32)
        count = chunks.shape[0] if chunks.ndim == 2 else 0
        if (
            whole.shape != (self.num_perm,)
            or chunks.shape != (count, self.num_perm)
            or count < 1
            or vectors.shape != (count, self.dim)
            or mean.shape != (self.dim,)
        ):
            raise InputError(
                f"The text fingerprint has the wrong shape: this index holds {self.num_perm} "
                f"MinHash values and {self.dim}-value vectors per chunk.",
                hint="Compute the fingerprint again with hallmark.similarity.fingerprints.",
            )
        separate = not (count == 1 and np.array_equal(chunks[0], whole))
        signatures = np.vstack([whole[None], chunks]) if separate else chunks
        return (
            signatures.astype(np.uint32),
            np.vstack([mean[None], vectors]) if count > 1 else mean[None],
            separate,
        )

    @staticmethod
    def _check_image(fp: ImageFingerprint) -> tuple[np.ndarray, np.ndarray | None]:
        """The fingerprint's rows as ``uint64[rows, 5]`` (4 PDQ words, the pHash word) and its
        layouts (or None), or :class:`InputError`."""
        layout = None
        if fp.layout is not None:
            layout = np.asarray(fp.layout, dtype=np.float32)
            if layout.ndim != 2 or layout.shape[1:] != (LAYOUT_DIM,) or not len(layout):
                raise InputError(
                    f"The image fingerprint's layout has the wrong shape: it needs rows of "
                    f"{LAYOUT_DIM} numbers.",
                    hint="Compute the fingerprint again with hallmark.similarity.fingerprints.",
                )
            if not np.isfinite(layout).all():
                raise InputError(
                    "The image fingerprint's layout holds numbers that are not finite."
                )
        pdq = np.asarray(fp.pdq)
        phash = np.asarray(fp.phash)
        if (
            pdq.ndim != 2
            or pdq.shape[1:] != (_PDQ_WORDS * 8,)
            or len(pdq) < 1
            or phash.shape != (len(pdq), _PHASH_WORDS * 8)
        ):
            raise InputError(
                "The image fingerprint has the wrong shape: it needs rows of 32 PDQ bytes and "
                "as many rows of 8 pHash bytes.",
                hint="Compute the fingerprint again with hallmark.similarity.fingerprints.",
            )
        words = np.hstack(
            [
                np.ascontiguousarray(pdq, dtype=np.uint8).view("<u8"),
                np.ascontiguousarray(phash, dtype=np.uint8).view("<u8"),
            ]
        )
        return words, layout

    # Texts -----------------------------------------------------------------------------

    def _hnsw(self, more: int) -> Any:
        text = self._text
        if text.hnsw is None:
            text.hnsw = hnswlib.Index(space="ip", dim=self.dim)
            text.hnsw.init_index(
                max_elements=max(1024, more), M=self.hnsw_m, ef_construction=self.ef_construction
            )
            text.hnsw.set_ef(self.ef_search)
        needed = text.hnsw.get_current_count() + more
        if needed > text.hnsw.get_max_elements():
            text.hnsw.resize_index(max(needed, text.hnsw.get_max_elements() * 2))
        return text.hnsw

    def _add_text(
        self,
        key: int,
        fp: TextFingerprint,
        signatures: np.ndarray,
        vectors: np.ndarray,
        separate: bool,
    ) -> None:
        text = self._text
        slot = text.slots.size
        chunks = len(fp.chunk_minhashes)
        first = text.signatures.append(signatures)
        text.signature_owner.append(np.full(len(signatures), slot, dtype=np.int64))
        hnsw = self._hnsw(len(vectors))
        label = text.vector_owner.append(np.full(len(vectors), slot, dtype=np.int64))
        # Vectors are added one at a time from the caller's thread: hnswlib's own threads
        # would only be worth starting for large batches.
        hnsw.add_items(vectors, np.arange(label, label + len(vectors)), num_threads=1)
        if chunks == 1 and not np.array_equal(vectors[0], fp.vectors[0]):
            text.lone_chunks[slot] = np.array(fp.vectors, dtype=np.float32)
        plain, digest = _digest_parts(fp.digest)
        if not plain:
            text.odd_digests[slot] = fp.digest
        row = np.zeros(1, dtype=_TEXT_SLOT)
        row["key"], row["alive"], row["plain"], row["digest"] = key, True, plain, digest
        row["words"], row["chunks"] = fp.words, chunks
        row["sig_start"] = first + 1 if separate else first
        row["whole"] = first
        row["vec_start"], row["vecs"] = label, len(vectors)
        text.slots.append(row)
        text.bands.add(
            band_keys(signatures, self.bands, self.rows),
            np.arange(first, first + len(signatures), dtype=np.int64),
        )
        self._keys[key] = (True, slot)

    def _merge_bands(self) -> None:
        """Merge LSH runs until they are few again, holding the main lock only to swap."""
        with self._merge_lock:
            while True:
                with self._lock:
                    bands = self._text.bands
                    pair = bands.next_merge()
                if pair is None:
                    return
                merged = merge_runs(*pair)
                with self._lock:
                    if self._text.bands is not bands:
                        return  # a load replaced the whole state meanwhile
                    bands.replace(pair[0], pair[1], merged)

    def _text_candidates(
        self, signatures: np.ndarray, vectors: np.ndarray, limit: int
    ) -> list[int]:
        text = self._text
        if not text.slots.size:
            return []
        slots = text.slots.data
        # Two ways to be a candidate: shared LSH bands or a close vector. For ranking only, the
        # share of bands shared is put on the cosine's 0-1 scale: a band is shared with
        # chance J**r, so (share)**(1/r) is about the Jaccard similarity.
        priority: dict[int, float] = {}
        rows = text.bands.lookup(band_keys(signatures, self.bands, self.rows))
        if len(rows):
            owners, shared = np.unique(text.signature_owner.data[rows], return_counts=True)
            estimate = np.minimum(shared / self.bands, 1.0) ** (1 / self.rows)
            for slot, value in zip(owners.tolist(), estimate.tolist(), strict=True):
                priority[slot] = value
        for label, similarity in self._vector_neighbours(vectors, limit):
            slot = int(text.vector_owner.data[label])
            priority[slot] = max(priority.get(slot, 0.0), similarity)
        alive = [slot for slot in priority if slots[slot]["alive"]]
        alive.sort(key=lambda slot: (-priority[slot], slot))
        return alive[: max(self.max_candidates, limit)]

    def _vector_neighbours(self, vectors: np.ndarray, limit: int) -> list[tuple[int, float]]:
        text = self._text
        live = 0 if text.hnsw is None else text.hnsw.get_current_count() - text.dead_vectors
        k = min(max(self.neighbours, limit), live)
        while k > 0:
            text.hnsw.set_ef(max(self.ef_search, k))
            try:
                labels, distances = text.hnsw.knn_query(vectors, k=k, num_threads=1)
                break
            except RuntimeError:
                # With many nodes marked dead, hnswlib can find fewer than k live ones and
                # refuses to answer; ask for fewer.
                k //= 2
        else:
            return []
        # Inner-product distance is 1 - cosine for unit vectors.
        similarity = 1.0 - distances
        close = similarity >= self.vector_floor
        return list(zip(labels[close].tolist(), similarity[close].tolist(), strict=True))

    def _text_at(self, slot: int) -> TextFingerprint:
        text = self._text
        row = text.slots.data[slot]
        start, chunks = int(row["sig_start"]), int(row["chunks"])
        first, count = int(row["vec_start"]), int(row["vecs"])
        stored = np.asarray(text.hnsw.get_items(np.arange(first, first + count)), dtype=np.float32)
        vectors = stored[1:] if chunks > 1 else text.lone_chunks.get(slot, stored[:1])
        return TextFingerprint(
            digest=self._digest(row, text.odd_digests, slot),
            words=int(row["words"]),
            minhash=text.signatures.data[int(row["whole"])].copy(),
            chunk_minhashes=text.signatures.data[start : start + chunks].copy(),
            vectors=np.array(vectors, dtype=np.float32),
            vector=stored[0].copy(),
        )

    @staticmethod
    def _digest(row: np.ndarray, odd: dict[int, str], slot: int) -> str:
        return bytes(row["digest"]).hex() if row["plain"] else odd[slot]

    # Images ----------------------------------------------------------------------------

    def _layout_graph(self, more: int) -> Any:
        image = self._image
        if image.hnsw is None:
            image.hnsw = hnswlib.Index(space="ip", dim=LAYOUT_DIM)
            image.hnsw.init_index(
                max_elements=max(1024, more), M=self.hnsw_m, ef_construction=self.ef_construction
            )
            image.hnsw.set_ef(self.layout_ef_search)
        needed = image.hnsw.get_current_count() + more
        if needed > image.hnsw.get_max_elements():
            image.hnsw.resize_index(max(needed, image.hnsw.get_max_elements() * 2))
        return image.hnsw

    def _add_image(
        self, key: int, fp: ImageFingerprint, words: np.ndarray, layout: np.ndarray | None
    ) -> None:
        image = self._image
        slot = image.slots.size
        if layout is not None:
            # The stored image's centred box (row 0); queries bring their other boxes.
            self._layout_graph(1).add_items(layout[:1], np.array([slot]), num_threads=1)
        record = np.zeros((1, _ROW_WORDS * self.image_rows), dtype="<u8")
        record[0, : words.size] = words.ravel()
        image.table.append(record)
        plain, digest = _digest_parts(fp.digest)
        if not plain:
            image.odd_digests[slot] = fp.digest
        row = np.zeros(1, dtype=_IMAGE_SLOT)
        row["key"], row["alive"], row["plain"], row["digest"] = key, True, plain, digest
        row["width"], row["height"], row["quality"] = fp.width, fp.height, fp.quality
        row["rows"] = len(words)
        row["laid"] = layout is not None
        image.slots.append(row)
        self._keys[key] = (False, slot)

    def _layout_neighbours(self, layout: np.ndarray) -> np.ndarray:
        """The slots of the stored layouts nearest to the query's layouts and their mirrors."""
        image = self._image
        graph = image.hnsw
        live = 0 if graph is None else graph.get_current_count() - image.dead_layouts
        k = min(self.layout_neighbours, live)
        queries = np.vstack([layout, mirror_layouts(layout)])
        while k > 0:
            graph.set_ef(max(self.layout_ef_search, k))
            try:
                labels, _ = graph.knn_query(queries, k=k, num_threads=1)
                return np.unique(labels.astype(np.int64))
            except RuntimeError:
                k //= 2  # too few live nodes reachable (many marked dead): ask for fewer
        return np.zeros(0, dtype=np.int64)

    def _image_candidates(
        self, words: np.ndarray, layout: np.ndarray | None, limit: int
    ) -> list[int]:
        image = self._image
        if not image.slots.size:
            return []
        slots = image.slots.data
        if layout is None:
            # A fingerprint from before layouts: compare its rows with every stored image.
            found, query_row, stored_row, score = _scan_records(
                image.table.data, words, self.first_crop, self.image_limit
            )
        else:
            unlaid = np.flatnonzero(~slots["laid"] & slots["alive"])
            near = np.union1d(self._layout_neighbours(layout), unlaid)
            # Each image's rows are one record, so gathering a few hundred is a few hundred
            # short copies (reading them from planes cost one cache miss per word: 14 ms).
            found, query_row, stored_row, score = image_scan(
                np.ascontiguousarray(image.table.data[near].T),
                words,
                self.first_crop,
                self.image_limit,
            )
            found = near[found]
        # compare only pairs rows that both images have (eligible_pairs of the fewer rows);
        # the table pads shorter images with zero rows, which must not count.
        held = slots["rows"][found]
        valid = (query_row < held) & (stored_row < held) & slots["alive"][found]
        found, score = found[valid], score[valid]
        order = np.lexsort((found, score))
        found, score = found[order], score[order]
        best = np.sort(np.unique(found, return_index=True)[1])
        chosen: list[int] = found[best][: max(self.max_candidates, limit)].tolist()
        return chosen

    def _image_at(self, slot: int) -> ImageFingerprint:
        image = self._image
        row = image.slots.data[slot]
        words = image.table.data[slot].reshape(self.image_rows, _ROW_WORDS)[: int(row["rows"])]
        return ImageFingerprint(
            digest=self._digest(row, image.odd_digests, slot),
            width=int(row["width"]),
            height=int(row["height"]),
            pdq=np.ascontiguousarray(words[:, :_PDQ_WORDS]).view(np.uint8),
            phash=np.ascontiguousarray(words[:, _PDQ_WORDS:]).view(np.uint8),
            quality=int(row["quality"]),
        )

    # Removing --------------------------------------------------------------------------

    def _remove_locked(self, key: int) -> None:
        held = self._keys.pop(key, None)
        if held is None:
            return
        is_text, slot = held
        if not is_text:
            image = self._image
            image.slots.data[slot]["alive"] = False
            if image.slots.data[slot]["laid"]:
                image.hnsw.mark_deleted(slot)
                image.dead_layouts += 1
            return
        text = self._text
        row = text.slots.data[slot]
        row["alive"] = False
        first = int(row["vec_start"])
        for label in range(first, first + int(row["vecs"])):
            text.hnsw.mark_deleted(label)
        text.dead_vectors += int(row["vecs"])
        text.lone_chunks.pop(slot, None)

    # Persistence -----------------------------------------------------------------------

    def _parameters(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "num_perm": self.num_perm,
            "dim": self.dim,
            "lsh_bands": self.bands,
            "lsh_rows": self.rows,
            "image_rows": self.image_rows,
            "layout_dim": LAYOUT_DIM,
        }

    def save(self, folder: Path) -> None:
        """Write a snapshot into ``folder``, replacing the one there only once it is complete.

        The files go into a new ``snapshot-*`` folder; the manifest naming it replaces the old
        manifest in one atomic rename, so a crash midway leaves the previous snapshot usable.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"snapshot-{uuid.uuid4().hex[:12]}"
        staging = folder / f"{name}.partial"
        staging.mkdir()
        try:
            with self._lock:
                files = self._write_files(staging)
                manifest = {
                    **self._parameters(),
                    "snapshot": name,
                    "high_water": self._high_water,
                    "texts": int(self._text.slots.size),
                    "images": int(self._image.slots.size),
                    "files": files,
                }
            manifest["manifest_sha256"] = _manifest_digest(manifest)
            staging.rename(folder / name)
            # Several processes (serve --workers N) may save into one folder at once: each
            # writes its own partial manifest, and the last rename wins.
            partial = folder / f"{MANIFEST}.{name}.partial"
            partial.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(partial, folder / MANIFEST)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._drop_old_snapshots(folder)

    @staticmethod
    def _drop_old_snapshots(folder: Path) -> None:
        """Delete finished snapshots the manifest does not name; leave other processes'
        unfinished ones (``.partial``) unless they are an hour old (a crashed save)."""
        try:
            current = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["snapshot"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        now = time.time()
        for old in folder.glob("snapshot-*"):
            if old.name == current:
                continue
            with contextlib.suppress(OSError):
                if old.name.endswith(".partial") and now - old.stat().st_mtime < 3600:
                    continue
                shutil.rmtree(old, ignore_errors=True)

    def _write_files(self, staging: Path) -> dict[str, dict[str, Any]]:
        text, image = self._text, self._image
        # Dead LSH entries are dropped here, the one time the runs are rewritten whole.
        live_signatures = text.slots.data["alive"][text.signature_owner.data]
        bands = text.bands.merged(live_signatures)
        text.bands = _BandTable([bands] if len(bands) else [])
        lone_slots = np.array(sorted(text.lone_chunks), dtype=np.int64)
        arrays: dict[str, np.ndarray] = {
            "text_slots": text.slots.data,
            "text_signatures": text.signatures.data,
            "text_signature_owner": text.signature_owner.data,
            "text_vector_owner": text.vector_owner.data,
            "text_bands": bands,
            "text_lone_slots": lone_slots,
            "text_lone_vectors": (
                np.vstack([text.lone_chunks[s] for s in lone_slots.tolist()])
                if len(lone_slots)
                else np.zeros((0, self.dim), dtype=np.float32)
            ),
            "image_slots": image.slots.data,
            "image_table": image.table.data,
        }
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (staging / "odd_digests.json").write_text(
            json.dumps(
                {
                    "text": {str(k): v for k, v in text.odd_digests.items()},
                    "image": {str(k): v for k, v in image.odd_digests.items()},
                }
            ),
            encoding="utf-8",
        )
        if text.hnsw is not None:
            text.hnsw.save_index(str(staging / "text_vectors.hnsw"))
        if image.hnsw is not None:
            image.hnsw.save_index(str(staging / "image_layouts.hnsw"))
        return {path.name: _file_facts(path) for path in sorted(staging.iterdir())}

    def load(self, folder: Path) -> bool:
        """Replace the contents with the snapshot in ``folder``.

        Returns False, leaving the index as it was, when there is no snapshot, when it was
        written with another format or other parameters, or when any file is damaged.
        """
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            logger.info("no similarity index saved in %s", folder)
            return False
        except (OSError, ValueError) as exc:
            logger.warning("the similarity index manifest in %s is unreadable: %s", folder, exc)
            return False
        if not isinstance(manifest, dict) or manifest.get("manifest_sha256") != _manifest_digest(
            manifest
        ):
            logger.warning("the similarity index manifest in %s is damaged", folder)
            return False
        if any(manifest.get(name) != value for name, value in self._parameters().items()):
            logger.warning(
                "the similarity index saved in %s has another format or parameters; it will "
                "be rebuilt",
                folder,
            )
            return False
        try:
            loaded = self._read_snapshot(folder, manifest)
        except (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
            logger.warning("the similarity index saved in %s is damaged: %s", folder, exc)
            return False
        with self._lock:
            self._text, self._image, self._keys, self._high_water = loaded
        return True

    def _read_snapshot(
        self, folder: Path, manifest: dict[str, Any]
    ) -> tuple[_TextState, _ImageState, dict[int, tuple[bool, int]], int]:
        snapshot = folder / str(manifest["snapshot"])
        files = manifest["files"]
        if not isinstance(files, dict) or snapshot.parent != folder:
            raise ValueError("the manifest's file list is malformed")
        for name, facts in files.items():
            if Path(name).name != name:
                raise ValueError(f"the manifest names a file outside the snapshot: {name!r}")
            if _file_facts(snapshot / name) != facts:
                raise ValueError(f"{name} does not match its checksum")

        def array(name: str) -> np.ndarray:
            if f"{name}.npy" not in files:
                raise ValueError(f"{name}.npy is missing")
            loaded: np.ndarray = np.load(snapshot / f"{name}.npy", allow_pickle=False)
            return loaded

        odd = json.loads((snapshot / "odd_digests.json").read_text(encoding="utf-8"))
        text_slots = array("text_slots")
        signatures = array("text_signatures")
        signature_owner = array("text_signature_owner")
        vector_owner = array("text_vector_owner")
        bands = array("text_bands")
        lone_slots = array("text_lone_slots")
        lone_vectors = array("text_lone_vectors")
        image_slots = array("image_slots")
        table = array("image_table")
        if (
            text_slots.dtype != _TEXT_SLOT
            or image_slots.dtype != _IMAGE_SLOT
            or len(text_slots) != manifest["texts"]
            or len(image_slots) != manifest["images"]
            or signatures.shape[1:] != (self.num_perm,)
            or len(signature_owner) != len(signatures)
            or table.shape != (len(image_slots), _ROW_WORDS * self.image_rows)
            or lone_vectors.shape != (len(lone_slots), self.dim)
        ):
            raise ValueError("the arrays do not fit together")

        hnsw = None
        dead_vectors = 0
        if len(vector_owner):
            if "text_vectors.hnsw" not in files:
                raise ValueError("text_vectors.hnsw is missing")
            hnsw = hnswlib.Index(space="ip", dim=self.dim)
            hnsw.load_index(str(snapshot / "text_vectors.hnsw"), max_elements=len(vector_owner))
            hnsw.set_ef(self.ef_search)
            if hnsw.get_current_count() != len(vector_owner):
                raise ValueError("the vector graph does not hold every vector")
            dead = ~text_slots["alive"]
            dead_vectors = int(text_slots["vecs"][dead].sum())

        image_graph = None
        laid = int(image_slots["laid"].sum())
        if laid:
            if "image_layouts.hnsw" not in files:
                raise ValueError("image_layouts.hnsw is missing")
            image_graph = hnswlib.Index(space="ip", dim=LAYOUT_DIM)
            image_graph.load_index(str(snapshot / "image_layouts.hnsw"), max_elements=laid)
            image_graph.set_ef(self.layout_ef_search)
            if image_graph.get_current_count() != laid:
                raise ValueError("the layout graph does not hold every layout")

        text = _TextState(
            slots=_Rows(_TEXT_SLOT, initial=text_slots),
            signatures=_Rows(np.uint32, (self.num_perm,), initial=signatures),
            signature_owner=_Rows(np.int64, initial=signature_owner),
            vector_owner=_Rows(np.int64, initial=vector_owner),
            bands=_BandTable([bands.astype(np.uint64)] if len(bands) else []),
            hnsw=hnsw,
            dead_vectors=dead_vectors,
            lone_chunks={
                int(slot): lone_vectors[i : i + 1].copy()
                for i, slot in enumerate(lone_slots.tolist())
            },
            odd_digests={int(k): str(v) for k, v in odd["text"].items()},
        )
        image = _ImageState(
            slots=_Rows(_IMAGE_SLOT, initial=image_slots),
            table=_Rows(np.dtype("<u8"), (_ROW_WORDS * self.image_rows,), initial=table),
            odd_digests={int(k): str(v) for k, v in odd["image"].items()},
            hnsw=image_graph,
            dead_layouts=int((image_slots["laid"] & ~image_slots["alive"]).sum()),
        )
        keys: dict[int, tuple[bool, int]] = {}
        for slot in np.flatnonzero(text_slots["alive"]).tolist():
            keys[int(text_slots["key"][slot])] = (True, slot)
        for slot in np.flatnonzero(image_slots["alive"]).tolist():
            keys[int(image_slots["key"][slot])] = (False, slot)
        return text, image, keys, int(manifest["high_water"])


def _manifest_digest(manifest: dict[str, Any]) -> str:
    """The SHA-256 of the manifest without this digest, so that a changed manifest shows."""
    rest = {name: value for name, value in manifest.items() if name != "manifest_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode("utf-8")).hexdigest()


def _file_facts(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return {"bytes": path.stat().st_size, "sha256": digest}


def memory_index_factory(settings: Any = None) -> MemoryIndex:
    """Build an empty ``memory`` index; it needs no settings (the service loads and saves it)."""
    return MemoryIndex()


@hookimpl
def hallmark_similarity_indexes() -> dict[str, Any]:
    return {NAME: memory_index_factory}
