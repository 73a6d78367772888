"""The prior-art seam: fingerprints, matches, and the index protocol (issue #5).

A *fingerprint* is what Hallmark keeps of a work to find its near-copies later: for text, MinHash
signatures and sentence embeddings of the normalized text and of its overlapping chunks (so a
passage copied into a longer text is found); for images, PDQ and pHash perfect hashes of the
image and of its variants (so mirrored and cropped copies are found). Fingerprints are pure
data: computed by :mod:`hallmark.similarity.fingerprints`, stored in the database by the
service, held in memory by a :class:`SimilarityIndex`.

A :class:`SimilarityIndex` answers "which stored fingerprints are near this one?" with
:class:`Candidate` keys and scores. Indexes are plugins (hook ``hallmark_similarity_indexes``)
chosen by the ``similarity_index`` setting; the default keeps everything in process.
This module is pure: no database, no web.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


class MatchKind(enum.StrEnum):
    """How a match relates to the work it was found for."""

    #: The same normalized text, or the same image pixels up to re-encoding.
    EXACT = "exact"
    #: The same work with light changes: words swapped, sentences moved, resized, cropped.
    NEAR_COPY = "near-copy"
    #: The same content in other words (found by the sentence embeddings, not by shared words).
    PARAPHRASE = "paraphrase"
    #: One text holds a passage of the other (the shorter one is contained in the longer).
    CONTAINS_PASSAGE = "contains-passage"


@dataclass(frozen=True)
class TextFingerprint:
    """What is kept of a text work.

    ``digest`` is the SHA-256 of the normalized text (normalization: the fingerprints module).
    ``minhash`` is the whole text's MinHash signature (``uint32[NUM_PERM]``); ``chunk_minhashes``
    holds one signature per overlapping chunk of words (``uint32[n, NUM_PERM]``, ``n >= 1``);
    ``vectors`` holds one unit-length MiniLM embedding per chunk (``float32[n, 384]``, row ``i``
    embeds chunk ``i``) and ``vector`` the unit-length mean of them (``float32[384]``).
    """

    digest: str
    words: int
    minhash: np.ndarray
    chunk_minhashes: np.ndarray
    vectors: np.ndarray
    vector: np.ndarray


@dataclass(frozen=True)
class ImageFingerprint:
    """What is kept of an image work.

    ``pdq`` is ``uint8[k, 32]`` (256-bit PDQ hashes) and ``phash`` ``uint8[k, 8]`` (64-bit
    pHash), row 0 for the image as uploaded, row 1 for its mirror image and the other rows
    for crops of up to 10% on any sides (the fingerprints module's ``IMAGE_ROWS``), so a
    cropped copy meets a stored row cut the same way; ``quality`` is PDQ's quality of row 0
    (0-100; flat images hash badly and are not matched).

    ``layout`` is ``float32[5, 108]`` (the fingerprints module's ``image_layouts``): coarse
    colour maps an index searches by cosine to find candidates. Fingerprints stored before
    layouts existed have None, and an index must still find them (by scanning their rows).
    """

    digest: str
    width: int
    height: int
    pdq: np.ndarray
    phash: np.ndarray
    quality: int
    layout: np.ndarray | None = None


Fingerprint = TextFingerprint | ImageFingerprint


@dataclass(frozen=True)
class Match:
    """How similar two fingerprints are: a score in [0, 1] and the kind of match, or no match."""

    score: float
    kind: MatchKind


@dataclass(frozen=True)
class Candidate:
    """One answer of an index: the key the fingerprint was added under, and the match."""

    key: int
    score: float
    kind: MatchKind


@runtime_checkable
class SimilarityIndex(Protocol):
    """Stored fingerprints, searchable by similarity.

    Keys are the integers the caller chose when adding (the service uses the fingerprint row's
    sequence number, which only grows). ``query`` answers only candidates at or above the
    shipped match thresholds, best first, at most ``limit``. ``high_water`` is the largest key
    added, so a process can bring its index up to date with the rows added since (by itself
    after a restart, or by other processes). ``save``/``load`` persist the index in a folder
    so a restart need not rebuild it.
    """

    def add(self, key: int, fingerprint: Fingerprint) -> None: ...

    def remove(self, key: int) -> None: ...

    def query(self, fingerprint: Fingerprint, limit: int = 10) -> list[Candidate]: ...

    def __len__(self) -> int: ...

    @property
    def high_water(self) -> int: ...

    def save(self, folder: Path) -> None: ...

    def load(self, folder: Path) -> bool: ...
