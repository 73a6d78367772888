"""Whether two fingerprints match, how well, and how (issue #5).

:func:`compare` decides; the per-signal helpers let an index score its candidates with the
same arithmetic. Everything here is numpy on the arrays of :mod:`hallmark.similarity.base`;
importing it loads neither torch nor scipy.

Texts
-----
Identical normalized texts are :attr:`~MatchKind.EXACT`. Otherwise the evidence is:

- *containment* (:func:`containment`): for each chunk of the shorter text, the largest share of
  its word pairs found in one chunk of the longer (estimated from MinHash), averaged over its
  chunks: how much of the shorter text is in the longer;
- *semantic similarity* (:func:`semantic_similarity`): the mean of the cosine of the two
  texts' mean embeddings and of how well each text's chunk embeddings are matched in the other.

The rules, in order:

1. a text under :data:`MIN_WORDS` words matches only exactly (single sentences of 11-24 words
   from unrelated test texts reached a containment of 0.64 through shared phrasing);
2. a text :data:`PASSAGE_LENGTH_RATIO` or more times shorter than the other, with containment
   of at least :data:`PASSAGE_CONTAINMENT`, is a passage of it
   (:attr:`~MatchKind.CONTAINS_PASSAGE`); nothing else is reported for such pairs;
3. otherwise containment of at least :data:`NEAR_COPY_CONTAINMENT` is a
   :attr:`~MatchKind.NEAR_COPY`: shared wording comes first, so a paraphrase that keeps a third
   of the word pairs is a near-copy too;
4. otherwise semantic similarity of at least :data:`PARAPHRASE_SIMILARITY` is a
   :attr:`~MatchKind.PARAPHRASE`.

When the shorter text is under one chunk
(:data:`~hallmark.similarity.fingerprints.CHUNK_WORDS` words) rules 2 and 3 need
:data:`SHORT_TEXT_CONTAINMENT` instead: unrelated texts of 30-60 words reached 0.42.

Measured (``tests/similarity``: 30 works of 110-150 words per alteration, hosts of ~200 words,
every pair of different works as unrelated, 7,860 pairs; ranges are min-max):

==================================  ===========  ==========  ==========
pair                                containment  semantic    MinHash J
==================================  ===========  ==========  ==========
a third of the words replaced       0.36-0.54    0.67-0.84   0.20-0.40
sentences reordered                 0.64-0.86    0.84-0.95   0.79-0.95
a quarter of the sentences dropped  0.70-0.99    0.87-0.96   0.65-0.88
a paragraph dropped                 0.70-1.00    0.71-0.96   0.32-0.86
paraphrased (templates, synonyms)   0.15-0.36    0.86-0.93   0.07-0.25
inside a text 2.2-3x longer         0.82-0.98    0.54-0.76   0.30-0.51
unrelated, comparable length        max 0.25     max 0.71    max 0.16
unrelated, one 2x longer or more    max 0.32     max 0.66    max 0.17
==================================  ===========  ==========  ==========

On longer texts (200-word works, 600-word hosts, 15,660 pairs) the figures were alike: words
replaced 0.37-0.55 containment; paraphrases 0.87 semantic or more; unrelated at most 0.28
containment (0.31 with one 2x longer) and 0.75 semantic. Whole-text MinHash similarity
reached 0.23 between unrelated 600-word texts, more than some copies with a third of their
words replaced, so it only ranks candidates (an index's LSH); containment, averaged over
chunks, separates them.

Images
------
The same decoded pixels are :attr:`~MatchKind.EXACT`. Otherwise two images are a
:attr:`~MatchKind.NEAR_COPY` when their closest eligible row pair (:func:`eligible_pairs`) is
at most :data:`IMAGE_DISTANCE` apart (:func:`image_distance`: the mean of the PDQ and pHash
shares of differing bits), unless either image is too flat to hash: PDQ quality under
:data:`MIN_IMAGE_QUALITY`. Measured on the test scenes and 100 more (distances, max):

=====================================================  ==========
pair                                                   distance
=====================================================  ==========
resized 0.4-2x, JPEG quality 50-95, mirrored           0.03
brightness, saturation, contrast and tint changed      0.05
caption bar over the bottom tenth                      0.02
half-transparent watermark text over the middle        0.07
cropped up to 10% per side (one side always 10%)       0.21
unrelated scenes (33,600 pairs)                        min 0.26
=====================================================  ==========

Without the crop rows a 10% crop was as far as an unrelated scene (PDQ 100-160 of 256 bits).
Solid colours have PDQ quality 0 and hash alike (distance about 0.1); a bare gradient has
about 45; the test scenes 18-100, one in twenty under 58.
"""

from __future__ import annotations

import numpy as np

from hallmark.similarity.base import (
    Fingerprint,
    ImageFingerprint,
    Match,
    MatchKind,
    TextFingerprint,
)
from hallmark.similarity.fingerprints import CHUNK_WORDS, FIRST_CROP_ROW, SHINGLE, chunk_spans

#: Texts shorter than this (in words) match only when identical after normalization.
MIN_WORDS = 25
#: Containment of the shorter text in the longer, for a near-copy of comparable length.
NEAR_COPY_CONTAINMENT = 0.33
#: Containment of the shorter text in the longer, for a passage of a much longer text.
PASSAGE_CONTAINMENT = 0.40
#: Containment needed by either kind when the shorter text is under one chunk long.
SHORT_TEXT_CONTAINMENT = 0.55
#: How many times longer (in words) a text must be to hold the other as a passage.
PASSAGE_LENGTH_RATIO = 2.0
#: Semantic similarity for a paraphrase (texts of comparable length only).
PARAPHRASE_SIMILARITY = 0.81
#: Largest image distance (0-1) of a near-copy.
IMAGE_DISTANCE = 0.23
#: PDQ quality (0-100) both images need to be matched other than exactly.
MIN_IMAGE_QUALITY = 30


# Texts -------------------------------------------------------------------------------------


def minhash_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The share of positions where two MinHash signatures agree: an estimate of Jaccard."""
    return float(np.mean(a == b))


def minhash_similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`minhash_similarity` of every row of ``a`` with every row of ``b``: ``[n, m]``."""
    return np.asarray(np.mean(a[:, None, :] == b[None, :, :], axis=2))


def chunk_shingles(words: int) -> np.ndarray:
    """How many shingles each chunk of a text of ``words`` words holds (at most)."""
    return np.array([max(1, end - start - SHINGLE + 1) for start, end in chunk_spans(words)])


def chunk_containments(a: TextFingerprint, b: TextFingerprint) -> np.ndarray:
    """For each chunk of ``a``, the largest share of its shingles found in one chunk of ``b``.

    The share comes from the MinHash estimate ``J`` of the chunks' Jaccard similarity and
    their sizes: ``|A & B| / |A| = J (|A| + |B|) / ((1 + J) |A|)``, capped at 1. Unlike ``J``
    it does not shrink when a short chunk sits inside a longer one.
    """
    jaccard = minhash_similarities(a.chunk_minhashes, b.chunk_minhashes)
    size_a = chunk_shingles(a.words).astype(np.float64)[:, None]
    size_b = chunk_shingles(b.words).astype(np.float64)[None, :]
    shares = jaccard * (size_a + size_b) / ((1 + jaccard) * size_a)
    return np.asarray(np.minimum(shares.max(axis=1), 1.0))


def containment(a: TextFingerprint, b: TextFingerprint) -> float:
    """How much of text ``a`` is found in text ``b`` (0-1), chunk by chunk."""
    return float(chunk_containments(a, b).mean())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of two unit vectors."""
    return float(np.dot(a, b))


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """How well the rows of ``a`` (unit vectors) are matched in ``b``: mean best cosine."""
    return float((a @ b.T).max(axis=1).mean())


def semantic_similarity(a: TextFingerprint, b: TextFingerprint) -> float:
    """How alike two texts are in meaning (about -1 to 1; unrelated texts mostly under 0.6).

    The whole-text cosine alone rates two texts on one topic nearly as high as a paraphrase;
    requiring every chunk to be matched in the other text too (in both directions) does not.
    """
    chunks = min(alignment(a.vectors, b.vectors), alignment(b.vectors, a.vectors))
    return (cosine(a.vector, b.vector) + chunks) / 2


def compare_texts(a: TextFingerprint, b: TextFingerprint) -> Match | None:
    """The match between two texts, or None; see the module docstring for the rules."""
    if a.digest == b.digest:
        return Match(1.0, MatchKind.EXACT)
    short, long = (a, b) if (a.words, a.digest) <= (b.words, b.digest) else (b, a)
    if short.words < MIN_WORDS:
        return None
    found = containment(short, long)
    is_short = short.words < CHUNK_WORDS
    if long.words >= PASSAGE_LENGTH_RATIO * short.words:
        if found >= (SHORT_TEXT_CONTAINMENT if is_short else PASSAGE_CONTAINMENT):
            return Match(found, MatchKind.CONTAINS_PASSAGE)
        return None
    if found >= (SHORT_TEXT_CONTAINMENT if is_short else NEAR_COPY_CONTAINMENT):
        return Match(found, MatchKind.NEAR_COPY)
    meaning = semantic_similarity(short, long)
    if meaning >= PARAPHRASE_SIMILARITY:
        return Match(min(meaning, 1.0), MatchKind.PARAPHRASE)
    return None


# Images ------------------------------------------------------------------------------------


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits that differ between packed hash rows (uint8, last axis), broadcast over the rest."""
    return np.asarray(np.bitwise_count(np.bitwise_xor(a, b)).sum(axis=-1, dtype=np.int64))


def eligible_pairs(rows: int) -> np.ndarray:
    """Which row pairs of two image fingerprints are compared: ``bool[rows, rows]``.

    Rows 0 and 1 (as uploaded, mirrored) of either side meet every row of the other: a cropped
    copy meets the original's crop rows, a mirrored copy its mirror row, a mirrored crop its
    crop rows through the mirror row. A crop row also meets the same crop row of the other
    side, so that an overlay in a border strip (a caption bar) is cut off on both.
    """
    eligible = np.eye(rows, dtype=bool)
    eligible[:FIRST_CROP_ROW, :] = True
    eligible[:, :FIRST_CROP_ROW] = True
    return eligible


def _row_distances(
    pdq_a: np.ndarray, phash_a: np.ndarray, pdq_b: np.ndarray, phash_b: np.ndarray
) -> np.ndarray:
    """Distances of hash rows, paired by broadcasting: mean share of differing PDQ and pHash
    bits."""
    pdq = hamming(pdq_a, pdq_b) / (8 * pdq_a.shape[-1])
    phash = hamming(phash_a, phash_b) / (8 * phash_a.shape[-1])
    return np.asarray((pdq + phash) / 2)


def image_distances(a: ImageFingerprint, b: ImageFingerprint) -> np.ndarray:
    """The distance (0-1) of every row of ``a`` to every row of ``b``; ineligible pairs get 1.

    The distance of two rows is the mean of their PDQ and pHash distances, each as a share of
    its bits: 0 for the same picture, about 0.5 for unrelated ones. For looking into a match;
    :func:`image_distance` computes only the eligible pairs.
    """
    distances = _row_distances(
        a.pdq[:, None, :], a.phash[:, None, :], b.pdq[None, :, :], b.phash[None, :, :]
    )
    rows = min(len(a.pdq), len(b.pdq))
    eligible = np.zeros(distances.shape, dtype=bool)
    eligible[:rows, :rows] = eligible_pairs(rows)
    return np.where(eligible, distances, 1.0)


def image_distance(a: ImageFingerprint, b: ImageFingerprint) -> float:
    """The smallest distance over the eligible row pairs (see :func:`eligible_pairs`)."""
    rows = min(len(a.pdq), len(b.pdq))
    head = min(rows, FIRST_CROP_ROW)
    a_pdq, a_phash, b_pdq, b_phash = a.pdq[:rows], a.phash[:rows], b.pdq[:rows], b.phash[:rows]
    a_heads = _row_distances(
        a_pdq[:head, None, :], a_phash[:head, None, :], b_pdq[None, :, :], b_phash[None, :, :]
    )
    b_heads = _row_distances(
        b_pdq[:head, None, :], b_phash[:head, None, :], a_pdq[None, :, :], a_phash[None, :, :]
    )
    same_crops = _row_distances(a_pdq, a_phash, b_pdq, b_phash)
    return float(min(a_heads.min(), b_heads.min(), same_crops.min()))


def compare_images(a: ImageFingerprint, b: ImageFingerprint) -> Match | None:
    """The match between two images, or None; see the module docstring for the rules."""
    if a.digest == b.digest:
        return Match(1.0, MatchKind.EXACT)
    if min(a.quality, b.quality) < MIN_IMAGE_QUALITY:
        return None
    distance = image_distance(a, b)
    if distance <= IMAGE_DISTANCE:
        return Match(1.0 - distance, MatchKind.NEAR_COPY)
    return None


def compare(a: Fingerprint, b: Fingerprint) -> Match | None:
    """How ``a`` and ``b`` match, or None when they do not (a text never matches an image).

    Symmetric: ``compare(a, b) == compare(b, a)``. The score is in [0, 1]: 1 for an exact
    match; for texts the containment (near-copy, passage) or the semantic similarity
    (paraphrase); for images one minus the distance.
    """
    if isinstance(a, TextFingerprint) and isinstance(b, TextFingerprint):
        return compare_texts(a, b)
    if isinstance(a, ImageFingerprint) and isinstance(b, ImageFingerprint):
        return compare_images(a, b)
    return None
