"""Drafts of a work made elsewhere: a series of text versions or image stages (issue #3, item 7).

A creator who writes or draws outside the Hallmark editor can still show how a work came to be:
they start a *series*, upload each draft as it is made (the server's clock records when each one
arrived, which the creator cannot back-date), and finally register the work with the series; or
they send the drafts together with the final file, in which case the drafts arrive at that
moment. Registration binds the series to the work in the same transaction as the certificate,
and the certificate commits to the progression with one evidence item::

    {"kind": "stages", "count": n,
     "sha256": SHA-256 of the RFC 8785 JSON list [{"sha256": ..., "arrived_at": ...}, ...]}

in stage order, ``arrived_at`` in the certificate's time format, so anyone given the list (the
progression API publishes it) can check it against the certificate.

The progression shows, for texts, what changed at each step (stage to stage, then the last
stage to the final work) as ``difflib`` statistics and, for the owner and admins only, the
unified diff; for images, the perceptual distance (pHash Hamming distance) of each stage to the
final work. Drafts themselves stay private: others see digests, dates, sizes and statistics.

A series has no table of its own; it exists through its stages. Its id carries a MAC over the
creator's id, keyed by the instance's secret, so a series that has no stages yet is still known
to belong to the creator who started it, and an id nobody started is "not found".
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import io
import itertools
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import imagehash
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.core.canonical import canonical_bytes
from hallmark.core.certificate import format_time
from hallmark.core.digests import decode_text, sha256_hex
from hallmark.errors import ConflictError, InputError, NotFoundError
from hallmark.services.instance import Instance
from hallmark.services.media import MediaInfo, inspect
from hallmark.services.registry import Evidence, Registration, get_work, register_work
from hallmark.storage.blobs import BlobStream
from hallmark.storage.models import User, Work, WorkStage
from hallmark.storage.spool import Content, as_content

logger = logging.getLogger(__name__)

#: Most stages one work can have (issue #3 brief): enough for any real progression, and a
#: bound on the work a progression page does.
MAX_STAGES = 50
MAX_NOTE = 500
#: Longest unified diff kept per step; longer ones are cut and marked as truncated.
MAX_DIFF_CHARS = 200_000
#: Changed blocks up to this many (old x new) characters are compared character by character;
#: larger ones count as wholly replaced, which keeps the cost of a step bounded.
_CHAR_DIFF_BUDGET = 1_000_000
_SERIES_ID = re.compile(r"^[0-9a-z_]{1,21}-[0-9a-f]{10}$")
_MAC_CONTEXT = b"hallmark series v1\x00"


@dataclass(frozen=True)
class StageUpload:
    """One draft file as sent (bytes, or an upload spooled as it arrived), before it is checked."""

    data: bytes | Content
    filename: str | None = None
    note: str = ""


@dataclass(frozen=True)
class _Checked:
    upload: StageUpload
    media: MediaInfo
    note: str


# Series ids ------------------------------------------------------------------------------------


def _series_mac(inst: Instance, base: str, creator_id: str) -> str:
    key = hashlib.sha256(_MAC_CONTEXT + inst.settings.secret_key.encode("utf-8")).digest()
    message = f"{base}\x00{creator_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:10]


def start_series(inst: Instance, creator_id: str) -> str:
    """A new, empty series for ``creator_id``; nothing is stored until its first stage."""
    base = inst.new_id("s")
    if not re.fullmatch(r"[0-9a-z_]{1,21}", base):
        raise AssertionError(f"the id generator gave an unusable series id {base!r}")
    return f"{base}-{_series_mac(inst, base, creator_id)}"


def _not_found(series_id: str) -> NotFoundError:
    return NotFoundError(
        f"There is no series '{series_id[:40]}'.",
        hint="A series belongs to the creator who started it; start a new one if needed.",
    )


def _series_rows(
    inst: Instance, session: Session, series_id: str, creator_id: str
) -> list[WorkStage]:
    """The series' stages in order, if it is ``creator_id``'s; otherwise "not found"."""
    if not _SERIES_ID.match(series_id):
        raise _not_found(series_id)
    rows = list(
        session.scalars(
            select(WorkStage).where(WorkStage.series_id == series_id).order_by(WorkStage.position)
        )
    )
    if rows:
        # Stored stages decide ownership, so a series keeps working if the secret is rotated.
        if rows[0].creator_id != creator_id:
            raise _not_found(series_id)
        return rows
    base, mac = series_id.rsplit("-", 1)
    if not hmac.compare_digest(mac, _series_mac(inst, base, creator_id)):
        raise _not_found(series_id)
    return rows


def _refuse_registered(rows: Sequence[WorkStage]) -> None:
    work_id = next((row.work_id for row in rows if row.work_id is not None), None)
    if work_id is not None:
        raise ConflictError(
            f"This series already belongs to the registered work '{work_id}'.",
            hint="A series shows how one work was made; start a new series for the next work.",
        )


def _check_kinds(existing: str | None, kinds: Sequence[str], *, single: bool = False) -> str:
    """The one kind of the whole series, or an error naming the file that does not fit."""
    kind = existing
    for number, new in enumerate(kinds, start=1):
        if kind is None:
            kind = new
        elif new != kind:
            subject = "The file" if single else f"Stage {number}"
            where = "the series" if existing is not None else "the first stage"
            raise InputError(
                f"{subject} is {_noun(new)}, but {where} holds {kind} drafts.",
                hint="A series is either all text versions or all image stages.",
            )
    if kind is None:
        raise AssertionError("no kind for an empty list of stages")
    return kind


def _noun(kind: str) -> str:
    return "an image" if kind == "image" else kind


def _check_count(current: int, adding: int) -> None:
    if current + adding > MAX_STAGES:
        raise InputError(
            f"A work can have at most {MAX_STAGES} stages; this would make {current + adding}.",
            hint="Keep the drafts that show the main steps.",
        )


def _clean_note(note: str | None) -> str:
    note = unicodedata.normalize("NFC", (note or "").strip())
    # As with titles, control characters could hide text from whoever reads the note.
    note = "".join(ch for ch in note if unicodedata.category(ch)[0] != "C" or ch in " \n")
    if len(note) > MAX_NOTE:
        raise InputError(f"The note is longer than {MAX_NOTE} characters.")
    return note


def _inspect(inst: Instance, upload: StageUpload, number: int | None = None) -> _Checked:
    settings = inst.settings
    try:
        media = inspect(
            upload.data,
            filename=upload.filename,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
            max_text_chars=settings.max_text_chars,
        )
        note = _clean_note(upload.note)
    except InputError as exc:
        if number is None:
            raise
        # Say which of several files was refused; the subclass keeps its HTTP status.
        name = f" ({upload.filename[:80]})" if upload.filename else ""
        raise type(exc)(f"Stage {number}{name}: {exc.detail}", hint=exc.hint) from None
    return _Checked(upload, media, note)


def _blob_in_use(session: Session, key: str) -> bool:
    for column in (Work.blob_key, WorkStage.blob_key):
        if session.scalar(select(column).where(column == key).limit(1)) is not None:
            return True
    return False


def _drop_unused_blobs(inst: Instance, keys: Sequence[str]) -> None:
    with inst.db.session() as session:
        for key in set(keys):
            if not _blob_in_use(session, key):
                inst.blobs.delete(key)


# Adding stages to a series ---------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stage_json(row: WorkStage) -> dict[str, Any]:
    return {
        "series_id": row.series_id,
        "stage_id": row.id,
        "position": row.position,
        "kind": row.kind,
        "media_type": row.media_type,
        "size": row.size,
        "sha256": row.sha256,
        "perceptual_hash": row.perceptual_hash,
        "note": row.note,
        "arrived_at": format_time(_utc(row.arrived_at)),
    }


def add_stage(
    inst: Instance,
    series_id: str,
    creator_id: str,
    data: bytes | Content,
    filename: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Check a draft, store it, and append it to the series with the server's arrival time."""
    checked = _inspect(inst, StageUpload(data, filename, note))
    media = checked.media
    with inst.db.session() as session:
        # Everything that can be refused is checked before any bytes are stored.
        rows = _series_rows(inst, session, series_id, creator_id)
        _refuse_registered(rows)
        _check_kinds(rows[0].kind if rows else None, [media.kind], single=True)
        _check_count(len(rows), 1)
    blob_key = as_content(data).put_into(inst.blobs)
    try:
        # The log's write lock serializes stage uploads with registrations: two uploads cannot
        # take the same position, and no stage slips into a series while it is registered.
        with inst.db.log_writer() as session:
            rows = _series_rows(inst, session, series_id, creator_id)
            _refuse_registered(rows)
            _check_kinds(rows[0].kind if rows else None, [media.kind], single=True)
            _check_count(len(rows), 1)
            row = WorkStage(
                id=inst.new_id("st"),
                series_id=series_id,
                creator_id=creator_id,
                work_id=None,
                position=len(rows) + 1,
                kind=media.kind,
                media_type=media.media_type,
                size=media.size,
                sha256=media.digests.sha256,
                perceptual_hash=media.digests.perceptual_hash,
                blob_key=blob_key,
                note=checked.note,
                arrived_at=inst.clock(),
            )
            session.add(row)
            session.flush()
            result = stage_json(row)
    except BaseException:
        _drop_unused_blobs(inst, [blob_key])
        raise
    logger.info("stage %d added to series %s", result["position"], series_id)
    return result


def get_series(inst: Instance, series_id: str, creator_id: str) -> dict[str, Any]:
    """The series as its owner sees it: its stages, and the work it belongs to, if any."""
    with inst.db.session() as session:
        rows = _series_rows(inst, session, series_id, creator_id)
        return {
            "series_id": series_id,
            "kind": rows[0].kind if rows else None,
            "work_id": next((r.work_id for r in rows if r.work_id is not None), None),
            "max_stages": MAX_STAGES,
            "stages": [stage_json(row) for row in rows],
        }


# Registering a work with its stages ------------------------------------------------------------


def stages_evidence(stages: Sequence[tuple[str, datetime]]) -> dict[str, Any]:
    """The certificate's evidence item for stages given as (sha256, arrived_at), in order."""
    listing = [{"sha256": sha, "arrived_at": format_time(_utc(at))} for sha, at in stages]
    return {"kind": "stages", "sha256": sha256_hex(canonical_bytes(listing)), "count": len(listing)}


@dataclass
class StagePlan:
    """Stages checked for one registration: a series' stored ones, then any sent with the work.

    Built by :func:`plan_stages` before anything is stored; :func:`attach_series` binds it to
    the new work inside the registration's transaction.
    """

    creator_id: str
    series_id: str
    kind: str
    stored: list[tuple[str, str, datetime]]  # (stage id, sha256, arrived_at) as read
    new: list[_Checked]
    arrived_at: datetime
    blob_keys: list[str] = field(default_factory=list)

    @property
    def evidence_item(self) -> dict[str, Any]:
        entries = [(sha, at) for _, sha, at in self.stored]
        entries += [(c.media.digests.sha256, self.arrived_at) for c in self.new]
        return stages_evidence(entries)


def plan_stages(
    inst: Instance,
    *,
    creator_id: str,
    series_id: str | None = None,
    uploads: Sequence[StageUpload] = (),
) -> StagePlan | None:
    """Check a series and the drafts sent with a work; None when there are neither."""
    if series_id is None and not uploads:
        return None
    checked = [_inspect(inst, upload, number) for number, upload in enumerate(uploads, 1)]
    rows: list[WorkStage] = []
    if series_id is not None:
        with inst.db.session() as session:
            rows = _series_rows(inst, session, series_id, creator_id)
            _refuse_registered(rows)
    if not rows and not checked:
        raise InputError(
            "The series has no stages yet.",
            hint="Add the drafts to the series first, or send them with the work.",
        )
    kind = _check_kinds(rows[0].kind if rows else None, [c.media.kind for c in checked])
    _check_count(len(rows), len(checked))
    return StagePlan(
        creator_id=creator_id,
        series_id=series_id or start_series(inst, creator_id),
        kind=kind,
        stored=[(row.id, row.sha256, _utc(row.arrived_at)) for row in rows],
        new=checked,
        arrived_at=inst.clock(),
    )


def attach_series(inst: Instance, plan: StagePlan) -> Callable[[Session, str], None]:
    """An ``Evidence.attach`` that binds the planned stages to the new work, atomically."""

    def attach(session: Session, work_id: str) -> None:
        work = session.get(Work, work_id)
        if work is None:
            raise AssertionError("attach runs after the work is inserted")
        if work.kind != plan.kind:
            raise InputError(
                f"The work is {_noun(work.kind)}, but its stages are {plan.kind} drafts.",
                hint="Drafts show how this work was made, so they are of the same kind.",
            )
        rows = list(
            session.scalars(
                select(WorkStage)
                .where(WorkStage.series_id == plan.series_id)
                .order_by(WorkStage.position)
            )
        )
        # The evidence item was computed before the write lock was taken; refuse if the series
        # moved since, so the certificate never commits to a progression other than the stored.
        _refuse_registered(rows)
        if [(r.id, r.sha256) for r in rows] != [(i, sha) for i, sha, _ in plan.stored]:
            raise ConflictError(
                "The series changed while the work was being registered.",
                hint="Register the work again.",
            )
        for row in rows:
            row.work_id = work_id
        for offset, checked in enumerate(plan.new, start=len(rows) + 1):
            media = checked.media
            session.add(
                WorkStage(
                    id=inst.new_id("st"),
                    series_id=plan.series_id,
                    creator_id=plan.creator_id,
                    work_id=work_id,
                    position=offset,
                    kind=media.kind,
                    media_type=media.media_type,
                    size=media.size,
                    sha256=media.digests.sha256,
                    perceptual_hash=media.digests.perceptual_hash,
                    blob_key=plan.blob_keys[offset - len(rows) - 1],
                    note=checked.note,
                    arrived_at=plan.arrived_at,
                )
            )
        session.flush()

    return attach


def register_with_stages(
    inst: Instance,
    *,
    creator_id: str,
    series_id: str | None = None,
    stages: Sequence[StageUpload] = (),
    **work: Any,
) -> Registration:
    """:func:`~hallmark.services.registry.register_work` with a series and/or drafts attached.

    ``work`` holds register_work's other arguments. A refused stage refuses the whole
    registration, and nothing of it is stored.
    """
    plan = plan_stages(inst, creator_id=creator_id, series_id=series_id, uploads=stages)
    if plan is None:
        return register_work(inst, creator_id=creator_id, **work)
    plan.blob_keys = [as_content(c.upload.data).put_into(inst.blobs) for c in plan.new]
    evidence = Evidence(items=[plan.evidence_item], attach=attach_series(inst, plan))
    try:
        registration = register_work(inst, creator_id=creator_id, evidence=evidence, **work)
    except BaseException:
        _drop_unused_blobs(inst, plan.blob_keys)
        raise
    logger.info(
        "work %s registered with %d stages (series %s)",
        registration.work_id,
        len(plan.stored) + len(plan.new),
        plan.series_id,
    )
    return registration


# The progression -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextChange:
    """What changed from one text to the next, as ``difflib`` sees it.

    Lines are compared first; changed blocks are then compared character by character (up to
    a budget), so ``chars_added``/``chars_removed`` count characters, line breaks included.
    ``similarity`` is 2*M/T (M matching characters, T both texts' length), like
    ``SequenceMatcher.ratio``.
    """

    lines_added: int
    lines_removed: int
    chars_added: int
    chars_removed: int
    similarity: float
    diff: str
    diff_truncated: bool

    def to_json(self, *, with_diff: bool) -> dict[str, Any]:
        return {
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "chars_added": self.chars_added,
            "chars_removed": self.chars_removed,
            "similarity": self.similarity,
            "diff": self.diff if with_diff else None,
            "diff_truncated": self.diff_truncated if with_diff else None,
        }


def compare_texts(before: str, after: str, *, from_name: str, to_name: str) -> TextChange:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, old, new)
    lines_added = lines_removed = chars_added = chars_removed = matched = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = "".join(old[i1:i2]), "".join(new[j1:j2])
        if tag == "equal":
            matched += len(removed)
            continue
        lines_removed += i2 - i1
        lines_added += j2 - j1
        same = 0
        if tag == "replace" and len(removed) * len(added) <= _CHAR_DIFF_BUDGET:
            blocks = difflib.SequenceMatcher(None, removed, added, autojunk=False)
            same = sum(block.size for block in blocks.get_matching_blocks())
        matched += same
        chars_removed += len(removed) - same
        chars_added += len(added) - same
    total = len(before) + len(after)
    diff, truncated = _unified_diff(old, new, from_name, to_name)
    return TextChange(
        lines_added=lines_added,
        lines_removed=lines_removed,
        chars_added=chars_added,
        chars_removed=chars_removed,
        similarity=round(2 * matched / total, 4) if total else 1.0,
        diff=diff,
        diff_truncated=truncated,
    )


def _unified_diff(old: list[str], new: list[str], from_name: str, to_name: str) -> tuple[str, bool]:
    parts: list[str] = []
    size = 0
    for line in difflib.unified_diff(old, new, fromfile=from_name, tofile=to_name):
        if not line.endswith("\n"):
            # As in diff(1): the texts differ in whether they end with a line break.
            line += "\n\\ No newline at end of file\n"
        size += len(line)
        if size > MAX_DIFF_CHARS:
            return "".join(parts), True
        parts.append(line)
    return "".join(parts), False


def perceptual_distance(hash_a: str, hash_b: str) -> int:
    """Hamming distance of two ``phash:<hex>`` perceptual hashes: 0 means alike."""
    return int(
        imagehash.hex_to_hash(hash_a.removeprefix("phash:"))
        - imagehash.hex_to_hash(hash_b.removeprefix("phash:"))
    )


class _Memo:
    """A small thread-safe LRU cache. Blob keys are content addresses, so results computed
    from them never go stale."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_TEXT_STEPS = _Memo(128)
_IMAGE_SIZES = _Memo(1024)


def _image_size(inst: Instance, blob_key: str) -> tuple[int, int]:
    def measure() -> tuple[int, int]:
        # Only the header is needed (the image was fully checked when it was uploaded): the
        # first chunk holds it, unless metadata before it is larger than a chunk.
        with inst.blobs.stream(blob_key) as blob:
            head = next(iter(blob), b"")
        try:
            with Image.open(io.BytesIO(head)) as image:
                width, height = image.size
        except (OSError, SyntaxError, ValueError):
            with Image.open(io.BytesIO(inst.blobs.get(blob_key))) as image:
                width, height = image.size
        return int(width), int(height)

    size: tuple[int, int] = _IMAGE_SIZES.get(blob_key, measure)
    return size


def _text_step(inst: Instance, old: tuple[str, str], new: tuple[str, str]) -> TextChange:
    """The change from ``old`` to ``new``, each given as (name, blob key)."""

    def compute() -> TextChange:
        return compare_texts(
            decode_text(inst.blobs.get(old[1])),
            decode_text(inst.blobs.get(new[1])),
            from_name=old[0],
            to_name=new[0],
        )

    change: TextChange = _TEXT_STEPS.get((old, new), compute)
    return change


def may_see_drafts(work: Work, viewer: User | None) -> bool:
    """Drafts, diffs and notes are the creator's: only they and admins see them."""
    return viewer is not None and (viewer.id == work.creator_id or viewer.role == "admin")


def progression(inst: Instance, work_id: str, viewer: User | None) -> dict[str, Any]:
    """How the work came to be, from its stages; "not found" where the work is not visible.

    Everyone who may see the work sees the stages' digests, sizes, arrival dates and the
    statistics; the creator and admins also see the notes and the diffs.
    """
    with inst.db.session() as session:
        work = get_work(session, work_id, viewer)
        rows = list(
            session.scalars(
                select(WorkStage).where(WorkStage.work_id == work.id).order_by(WorkStage.position)
            )
        )
    # The rows outlive the session; blobs are read and compared with no transaction held open.
    owner = may_see_drafts(work, viewer)
    stages = []
    for row in rows:
        item = stage_json(row)
        del item["series_id"], item["stage_id"]
        item["note"] = row.note if owner else None
        stages.append(item)
    result: dict[str, Any] = {
        "work_id": work.id,
        "kind": work.kind,
        "count": len(rows),
        "evidence": stages_evidence([(r.sha256, r.arrived_at) for r in rows]) if rows else None,
        "final": {
            "sha256": work.sha256,
            "size": work.size,
            "media_type": work.media_type,
            "arrived_at": format_time(_utc(work.created_at)),
        },
        "stages": stages,
        "steps": [],
        "distance_bits": None,
        "drafts_visible": owner,
    }
    if not rows:
        return result
    if work.kind == "image":
        _add_distances(inst, work, rows, result)
    else:
        named = [(f"stage {r.position}", r.blob_key) for r in rows]
        named.append(("final", work.blob_key))
        result["steps"] = [
            {"from": old[0], "to": new[0], **_text_step(inst, old, new).to_json(with_diff=owner)}
            for old, new in itertools.pairwise(named)
        ]
    return result


def _add_distances(
    inst: Instance, work: Work, rows: Sequence[WorkStage], result: dict[str, Any]
) -> None:
    final = result["final"]
    final["perceptual_hash"] = work.perceptual_hash
    final["width"], final["height"] = _image_size(inst, work.blob_key)
    if work.perceptual_hash:
        result["distance_bits"] = len(work.perceptual_hash.removeprefix("phash:")) * 4
    for row, item in zip(rows, result["stages"], strict=True):
        item["width"], item["height"] = _image_size(inst, row.blob_key)
        item["distance"] = (
            perceptual_distance(row.perceptual_hash, work.perceptual_hash)
            if row.perceptual_hash and work.perceptual_hash
            else None
        )


def stage_file(
    inst: Instance, work_id: str, position: int, viewer: User | None
) -> tuple[WorkStage, BlobStream]:
    """A stage's bytes, opened for reading in chunks (close the stream), for the work's creator
    and admins; "not found" for anyone else."""
    with inst.db.session() as session:
        work = get_work(session, work_id, viewer)
        row = None
        if may_see_drafts(work, viewer):
            row = session.scalar(
                select(WorkStage).where(
                    WorkStage.work_id == work.id, WorkStage.position == position
                )
            )
        if row is None:
            raise NotFoundError(f"The work '{work.id}' has no stage {position} you may see.")
        session.expunge(row)
    return row, inst.blobs.stream(row.blob_key)


__all__ = [
    "MAX_STAGES",
    "StagePlan",
    "StageUpload",
    "TextChange",
    "add_stage",
    "attach_series",
    "compare_texts",
    "get_series",
    "perceptual_distance",
    "plan_stages",
    "progression",
    "register_with_stages",
    "stage_file",
    "stages_evidence",
    "start_series",
]
