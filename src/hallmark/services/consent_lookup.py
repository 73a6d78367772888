"""The consent lookup for AI developers and crawlers (issue #6, item 4).

``POST /api/v1/consent/lookup`` sends up to :data:`MAX_ITEMS` items, each one of

- ``{"sha256": HEX}``: the SHA-256 of a file (or of a normalized text);
- ``{"text": STR}``: a text;
- ``{"image_b64": STR}``: an image file, base64-encoded;
- ``{"pdq": HEX}``: the 256-bit PDQ hash of an image (64 hex digits, in the order Meta's PDQ
  reference implementation prints them, which is also the order of ``pdqhash``'s bits);

and gets, for each item in order, the *public* works that match it and their AI-training
consent. Works whose certificate was revoked are left out: their registration does not stand.

How items match:

- Exact digests always: a ``sha256`` item against each work's SHA-256 and normalized-text
  SHA-256; a text by its UTF-8 bytes' SHA-256 and its normalized-text SHA-256 (the digests of
  :mod:`hallmark.core.digests`); an image by its bytes' SHA-256.
- Altered copies only when near-copy search is on (the ``similarity_index`` setting): texts and
  images are fingerprinted and looked up in the similarity index, with the same thresholds as
  prior-art checks (:mod:`hallmark.similarity.compare`).
- A ``pdq`` item cannot use the index, whose image distance is the mean of the PDQ and the
  pHash distances: a query without a pHash would be scored by half a fingerprint. It is
  matched here instead, by Hamming distance against the PDQ of each stored image as uploaded
  and mirrored (fingerprint rows 0 and 1), at most :data:`PDQ_MAX_DISTANCE` bits apart. The
  crop rows are not kept for this (they are 41 times the memory); a cropped copy is found by
  sending the image itself.

The work each item costs is stated by :func:`cost`, which the web face charges to the caller's
rate limit before anything is computed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hallmark.core.digests import normalize_text, sha256_hex
from hallmark.errors import InputError
from hallmark.services import consent as consent_rules
from hallmark.services import media, similarity
from hallmark.services.instance import Instance
from hallmark.similarity import codec
from hallmark.similarity.base import Candidate, ImageFingerprint, MatchKind
from hallmark.similarity.compare import MIN_IMAGE_QUALITY
from hallmark.similarity.fingerprints import FIRST_CROP_ROW
from hallmark.storage.models import FingerprintRow, Work

logger = logging.getLogger(__name__)

MAX_ITEMS = 1000
#: Matches answered per item, best first.
MAX_MATCHES = 10
#: Largest PDQ Hamming distance (of 256 bits) of a match for a ``pdq`` item: Meta's PDQ
#: documentation names 31 as the near-duplicate threshold. Measured on 30 test scenes
#: (``tests/similarity/perturb.py``, hashed at 480x360): resized 0.5-1.7x and saved as JPEG,
#: recoloured, or mirrored, a copy was at most 20 bits from its original; unrelated scenes at
#: least 106 (435 pairs).
PDQ_MAX_DISTANCE = 31
ITEM_KINDS = ("sha256", "text", "image_b64", "pdq")
#: What an item costs against ``consent_lookup_items_per_minute``: a digest is looked up once;
#: a text or an image is fingerprinted (about a quarter of a second of CPU for an image, or
#: for every 1,000 words of text), so it counts :data:`FINGERPRINT_WEIGHT`, per started
#: :data:`TEXT_CHARS_PER_WEIGHT` characters for texts.
FINGERPRINT_WEIGHT = 10
TEXT_CHARS_PER_WEIGHT = 10_000

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
#: How the formats :func:`hallmark.services.media.inspect` reads as images begin (PNG, JPEG,
#: GIF, and RIFF for WebP): anything else is refused as "not an image" before decoding.
_IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF")


@dataclass
class Query:
    """One item of a lookup, checked."""

    index: int
    kind: str
    #: Digests any of which an exact match has (lowercase hex SHA-256).
    digests: tuple[str, ...] = ()
    text: str | None = None
    image: bytes | None = None
    pdq: bytes | None = None
    #: work id -> (score, kind): the best match found for each work so far.
    found: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add(self, work_id: str, score: float, kind: str) -> None:
        best = self.found.get(work_id)
        if best is None or score > best[0]:
            self.found[work_id] = (score, kind)


def _where(index: int, key: str | None = None) -> str:
    return f"items[{index}]" + (f".{key}" if key else "")


def parse_items(raw: Any, *, max_text_chars: int, max_image_bytes: int) -> list[Query]:
    """Check the items of a lookup; :class:`InputError` names the first bad one.

    Cheap checks only (shape, hex, base64, sizes): images are decoded later, by
    :func:`lookup`, once the caller's rate limit has been charged.
    """
    if not isinstance(raw, list):
        raise InputError(
            "'items' must be a list.", hint='Send {"items": [{"sha256": "..."}, ...]}.'
        )
    if len(raw) > MAX_ITEMS:
        raise InputError(
            f"A lookup takes at most {MAX_ITEMS:,} items; this one has {len(raw):,}.",
            hint=f"Split it into requests of {MAX_ITEMS:,} items or fewer.",
        )
    return [
        _parse_item(i, item, max_text_chars=max_text_chars, max_image_bytes=max_image_bytes)
        for i, item in enumerate(raw)
    ]


def _parse_item(index: int, item: Any, *, max_text_chars: int, max_image_bytes: int) -> Query:
    kinds = ", ".join(ITEM_KINDS)
    if not isinstance(item, dict):
        raise InputError(
            f"{_where(index)} is not an object.",
            hint=f"Each item is an object with one of: {kinds}.",
        )
    keys = sorted(str(k) for k in item)
    if len(keys) != 1 or keys[0] not in ITEM_KINDS:
        found = ", ".join(f"'{k[:20]}'" for k in keys[:5]) or "no keys"
        raise InputError(
            f"{_where(index)} has {found}; an item has exactly one of: {kinds}.",
            hint='For example {"sha256": "<64 hex digits>"} or {"text": "..."}.',
        )
    kind = keys[0]
    value = item[kind]
    if not isinstance(value, str):
        raise InputError(f"{_where(index, kind)} must be a string.")
    if kind in ("sha256", "pdq"):
        if not _HEX64.fullmatch(value):
            raise InputError(
                f"{_where(index, kind)} must be 64 hexadecimal digits ({len(value)} characters "
                "were sent).",
                hint="A SHA-256 digest and a PDQ hash are both 256 bits, written in hex.",
            )
        if kind == "sha256":
            return Query(index, kind, digests=(value.lower(),))
        return Query(index, kind, pdq=bytes.fromhex(value))
    if kind == "text":
        if not value.strip():
            raise InputError(f"{_where(index, kind)} is empty.")
        if len(value) > max_text_chars:
            raise InputError(
                f"{_where(index, kind)} has {len(value):,} characters; the limit is "
                f"{max_text_chars:,}."
            )
        normalized = normalize_text(value).encode("utf-8")
        digests = (sha256_hex(value.encode("utf-8")), sha256_hex(normalized))
        return Query(index, kind, digests=digests, text=value)
    # image_b64. Base64 is 4/3 of the bytes plus line breaks: twice the limit is a cheap bound
    # that spares decoding something far too large; the decoded size is checked exactly below.
    if len(value) > 2 * max_image_bytes:
        raise InputError(
            f"{_where(index, kind)} is larger than the limit of {max_image_bytes:,} bytes."
        )
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            f"{_where(index, kind)} is not valid base64.",
            hint="Send the image file's bytes in standard base64 (RFC 4648, section 4).",
        ) from None
    if not data:
        raise InputError(f"{_where(index, kind)} is empty.")
    if len(data) > max_image_bytes:
        raise InputError(
            f"{_where(index, kind)} is {len(data):,} bytes; the limit is {max_image_bytes:,}."
        )
    return Query(index, kind, digests=(sha256_hex(data),), image=data)


def cost(queries: list[Query], *, near_copies: bool) -> int:
    """What the lookup costs against the per-minute item budget (see the weights above)."""
    total = 0
    for query in queries:
        if not near_copies or query.kind in ("sha256", "pdq"):
            total += 1
        elif query.text is not None:
            total += FINGERPRINT_WEIGHT * max(1, math.ceil(len(query.text) / TEXT_CHARS_PER_WEIGHT))
        else:
            total += FINGERPRINT_WEIGHT
    return total


# Looking up ----------------------------------------------------------------------------------


def lookup(inst: Instance, queries: list[Query]) -> dict[str, Any]:
    """The matches of every item, in order: ``{"results": [{"matches": [...]}, ...]}``."""
    settings = inst.settings
    for query in queries:
        if query.image is not None:
            _check_image(query, settings.max_image_pixels, settings.max_upload_bytes)
    near = similarity.enabled(inst)
    with inst.db.session() as session:
        _exact(session, queries)
    if near:
        _near_copies(inst, queries)
    with inst.db.session() as session:
        results = [{"matches": _matches(session, inst, query)} for query in queries]
    return {"results": results, "near_copies_searched": near}


def _check_image(query: Query, max_pixels: int, max_bytes: int) -> None:
    assert query.image is not None
    where = _where(query.index, "image_b64")
    hint = "Send a PNG, JPEG, WebP or GIF file, base64-encoded; send texts as 'text'."
    if not query.image.startswith(_IMAGE_SIGNATURES):
        raise InputError(f"{where} is not a PNG, JPEG, WebP or GIF image.", hint=hint)
    try:
        media.inspect(query.image, max_bytes=max_bytes, max_pixels=max_pixels, max_text_chars=1)
    except InputError as exc:
        raise InputError(f"{where} cannot be read as an image: {exc.detail}", hint=hint) from None


def _exact(session: Session, queries: list[Query]) -> None:
    wanted = sorted({digest for query in queries for digest in query.digests})
    by_digest: dict[str, set[str]] = {}
    # Batches keep every statement's parameter list well under each database's limit.
    for start in range(0, len(wanted), 500):
        batch = wanted[start : start + 500]
        rows = session.execute(
            select(Work.id, Work.sha256, Work.normalized_text_sha256).where(
                or_(Work.sha256.in_(batch), Work.normalized_text_sha256.in_(batch))
            )
        )
        for work_id, sha, normalized in rows:
            for digest in (sha, normalized):
                if digest:
                    by_digest.setdefault(digest, set()).add(work_id)
    for query in queries:
        for digest in query.digests:
            for work_id in by_digest.get(digest, ()):
                query.add(work_id, 1.0, MatchKind.EXACT.value)


def _near_copies(inst: Instance, queries: list[Query]) -> None:
    # Imported here: it brings the sentence embedder (torch), which exact lookups never need.
    from hallmark.similarity import fingerprints

    index = similarity.index_for(inst)
    texts = [q for q in queries if q.text is not None]
    prints: list[tuple[Query, Any]] = []
    if texts:
        # One embedding batch for every text of the request.
        batch = fingerprints.text_fingerprints([q.text or "" for q in texts])
        prints.extend(zip(texts, batch, strict=True))
    for query in queries:
        if query.image is not None:
            prints.append((query, similarity.fingerprint("image", query.image)))
    asked: list[tuple[Query, list[Candidate]]] = [
        # Ask for more than are answered: some candidates are private or revoked works.
        (query, index.query(fp, limit=MAX_MATCHES * 3))
        for query, fp in prints
    ]
    pdq_queries = [q for q in queries if q.pdq is not None]
    if pdq_queries:
        table = _pdq_table(inst)
        asked.extend((query, table.query(query.pdq or b"")) for query in pdq_queries)
    with inst.db.session() as session:
        for query, candidates in asked:
            for found in similarity.resolve(session, candidates):
                query.add(found.work.id, found.score, found.kind)


def _matches(session: Session, inst: Instance, query: Query) -> list[dict[str, Any]]:
    base = inst.settings.public_url.rstrip("/")
    ranked = sorted(query.found.items(), key=lambda item: (-item[1][0], item[0]))
    matches: list[dict[str, Any]] = []
    for work_id, (score, kind) in ranked:
        work = session.get(Work, work_id)
        if work is None or work.visibility != "public":
            continue
        cert = work.certificate
        if cert is None or cert.revocation is not None:
            continue
        consent = consent_rules.of_work(work)
        matches.append(
            {
                "work_id": work.id,
                **consent.to_json(),
                "score": round(score, 4),
                "kind": kind,
                "title": work.title,
                "creator": work.creator.handle,
                "url": f"{base}/works/{work.id}",
            }
        )
        if len(matches) == MAX_MATCHES:
            break
    return matches


# PDQ alone -----------------------------------------------------------------------------------


class PdqTable:
    """The PDQ hashes of every stored image fingerprint (rows as uploaded and mirrored), kept
    in memory and brought up to date from the database by sequence number before each use,
    as the similarity index is. Rows of revoked works stay until the process restarts;
    :func:`hallmark.services.similarity.resolve` drops them from every answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.high_water = 0
        self.keys = np.empty(0, dtype=np.int64)
        #: ``uint64[rows, 4]``: each 256-bit hash as four words, for a fast XOR and popcount.
        self.words = np.empty((0, 4), dtype="<u8")

    def catch_up(self, session: Session) -> None:
        rows = session.execute(
            select(FingerprintRow.seq, FingerprintRow.data)
            .where(
                FingerprintRow.seq > self.high_water,
                FingerprintRow.kind == "image",
                FingerprintRow.version == codec.VERSION,
                FingerprintRow.active.is_(True),
            )
            .order_by(FingerprintRow.seq)
            .execution_options(yield_per=1000)
        )
        keys: list[np.ndarray] = []
        words: list[np.ndarray] = []
        mark = self.high_water
        for seq, data in rows:
            mark = max(mark, int(seq))
            try:
                fp = codec.decode(data)
            except InputError:
                logger.warning("fingerprint %s cannot be read; left out of PDQ lookups", seq)
                continue
            # Flat images hash alike whatever they show; compare.py does not match them either.
            if not isinstance(fp, ImageFingerprint) or fp.quality < MIN_IMAGE_QUALITY:
                continue
            head = np.ascontiguousarray(fp.pdq[:FIRST_CROP_ROW], dtype=np.uint8)
            words.append(head.view("<u8"))
            keys.append(np.full(len(head), int(seq), dtype=np.int64))
        if words:
            self.keys = np.concatenate([self.keys, *keys])
            self.words = np.concatenate([self.words, *words])
        self.high_water = mark

    def query(self, pdq: bytes, limit: int = MAX_MATCHES * 3) -> list[Candidate]:
        """Stored images within :data:`PDQ_MAX_DISTANCE` bits of ``pdq``, nearest first."""
        target = np.frombuffer(pdq, dtype="<u8")
        with self.lock:
            keys, words = self.keys, self.words
        if not len(keys):
            return []
        distances = np.bitwise_count(words ^ target).sum(axis=1, dtype=np.int64)
        close = np.flatnonzero(distances <= PDQ_MAX_DISTANCE)
        best: dict[int, int] = {}
        for row in close[np.argsort(distances[close], kind="stable")].tolist():
            best.setdefault(int(keys[row]), int(distances[row]))
        return [
            Candidate(key=key, score=1.0 - distance / 256, kind=MatchKind.NEAR_COPY)
            for key, distance in list(best.items())[:limit]
        ]


_tables: dict[int, PdqTable] = {}
_tables_lock = threading.Lock()


def _pdq_table(inst: Instance) -> PdqTable:
    with _tables_lock:
        table = _tables.get(id(inst))
        if table is None:
            table = _tables[id(inst)] = PdqTable()
            weakref.finalize(inst, _drop_table, id(inst))
    with table.lock, inst.db.session() as session:
        table.catch_up(session)
    return table


def _drop_table(key: int) -> None:
    with _tables_lock:
        _tables.pop(key, None)


__all__ = [
    "FINGERPRINT_WEIGHT",
    "ITEM_KINDS",
    "MAX_ITEMS",
    "MAX_MATCHES",
    "PDQ_MAX_DISTANCE",
    "PdqTable",
    "Query",
    "cost",
    "lookup",
    "parse_items",
]
