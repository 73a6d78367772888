"""Prior art: fingerprint every registered work, find near-copies, record and report matches.

Issue #5, items 2-4 (DESIGN.md, flow 1 "Register": "check for near-copies"). Each new work is
fingerprinted inside its analysis job (:mod:`hallmark.services.analysis`), so registration
never waits for it. The fingerprint is stored (``fingerprints`` table) and added to the
instance's :class:`~hallmark.similarity.base.SimilarityIndex`, chosen by the
``similarity_index`` setting. Then the work is compared with the works of *other* creators:

- every match is recorded (``similarity_matches``) with its score, its kind and which of the
  two works the log holds first (the lower first log index);
- the later of the two goes to the review queue with the reason in plain words;
- both creators get a notification on their dashboard.

The index lives in memory. It is saved in ``similarity_dir`` when the app stops and loaded at
the next start; what was added since (by this process before a crash, or by other processes)
is read from the database by sequence number before every use, so it is never stale. When the
saved copy is missing or does not fit the database, the index is rebuilt from the database
with a progress bar (:func:`rebuild`).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hallmark.analysis.base import Finding, Verdict
from hallmark.analysis.policy import Reason
from hallmark.errors import InputError, UnavailableError
from hallmark.plugins.manager import choose
from hallmark.services import media, notifications
from hallmark.services.instance import Instance
from hallmark.similarity import codec
from hallmark.similarity.base import Candidate, Fingerprint, SimilarityIndex
from hallmark.storage.models import (
    Certificate,
    FingerprintRow,
    LogEntry,
    SimilarityMatch,
    User,
    Work,
)
from hallmark.storage.spool import Content, as_content, stored_content

logger = logging.getLogger(__name__)

#: The detector name prior-art findings carry in a work's analysis.
DETECTOR = "prior-art"
#: Matches kept per work (the best ones); a work copied more often than this is rare.
MAX_MATCHES = 20
#: Works whose review is settled are not reopened by a later match (as in analysis).
_SETTLED = ("approved", "rejected", "appealed")

Progress = Callable[[int, int], None]


# Fingerprints --------------------------------------------------------------------------------


def fingerprint(kind: str, data: bytes | Content) -> Fingerprint:
    """The fingerprint of a text (UTF-8 bytes) or image work; an image given as a spooled
    :class:`Content` is decoded from its file."""
    from hallmark.similarity import fingerprints

    if kind == "text":
        raw = data.read() if isinstance(data, Content) else data
        return fingerprints.text_fingerprint(raw.decode("utf-8", errors="replace"))
    return fingerprints.image_fingerprint(data.stream() if isinstance(data, Content) else data)


# The index, one per instance -----------------------------------------------------------------


class _State:
    def __init__(self, index: SimilarityIndex) -> None:
        self.index = index
        self.lock = threading.Lock()
        self.ready = False


_states: dict[int, _State] = {}
_states_lock = threading.Lock()


def enabled(inst: Instance) -> bool:
    return bool(inst.settings.similarity_index)


def _state(inst: Instance) -> _State:
    if not enabled(inst):
        raise UnavailableError(
            "Near-copy search is turned off on this instance.",
            hint="Set similarity_index (for example to 'memory') to turn them on.",
        )
    with _states_lock:
        state = _states.get(id(inst))
        if state is None:
            factory = choose("hallmark_similarity_indexes", inst.settings.similarity_index)
            state = _states[id(inst)] = _State(factory(inst.settings))
            weakref.finalize(inst, _drop, id(inst))
        return state


def _drop(key: int) -> None:
    with _states_lock:
        _states.pop(key, None)


def index_for(inst: Instance, progress: Progress | None = None) -> SimilarityIndex:
    """The instance's index, loaded (or rebuilt) on first use and brought up to date."""
    state = _state(inst)
    with state.lock:
        if not state.ready:
            _load_or_rebuild(inst, state, progress)
            state.ready = True
        else:
            _catch_up(inst, state.index)
    return state.index


def _max_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(FingerprintRow.seq))) or 0)


def _load_or_rebuild(inst: Instance, state: _State, progress: Progress | None) -> None:
    folder = inst.settings.similarity_path
    with inst.db.session() as session:
        newest = _max_seq(session)
    if state.index.load(folder) and state.index.high_water <= newest:
        _catch_up(inst, state.index)
        return
    # A saved index from a database that has since been restored or replaced would hold keys
    # the database does not: start again from the database.
    state.index = choose("hallmark_similarity_indexes", inst.settings.similarity_index)(
        inst.settings
    )
    _catch_up(inst, state.index, progress)


def _catch_up(inst: Instance, index: SimilarityIndex, progress: Progress | None = None) -> None:
    """Add the rows stored since the index's high-water mark; drop the ones deactivated."""
    with inst.db.session() as session:
        mark = index.high_water
        total = session.scalar(
            select(func.count()).select_from(FingerprintRow).where(FingerprintRow.seq > mark)
        )
        query = (
            select(FingerprintRow.seq, FingerprintRow.data, FingerprintRow.active)
            .where(FingerprintRow.seq > mark)
            .order_by(FingerprintRow.seq)
            .execution_options(yield_per=1000)
        )
        for done, (seq, data, active) in enumerate(session.execute(query), 1):
            if active:
                try:
                    index.add(int(seq), codec.decode(data))
                except InputError:
                    logger.warning("fingerprint %s cannot be read; skipped", seq)
            if progress is not None and (done % 1000 == 0 or done == total):
                progress(done, int(total or 0))
        inactive = session.scalars(
            select(FingerprintRow.seq).where(
                FingerprintRow.active.is_(False), FingerprintRow.seq <= mark
            )
        )
        for seq in inactive:
            index.remove(int(seq))


def rebuild(inst: Instance, progress: Progress | None = None) -> int:
    """Rebuild the index from the database, save it, and return how many works it holds."""
    state = _state(inst)
    with state.lock:
        state.index = choose("hallmark_similarity_indexes", inst.settings.similarity_index)(
            inst.settings
        )
        _catch_up(inst, state.index, progress)
        state.ready = True
        state.index.save(inst.settings.similarity_path)
        return len(state.index)


def save(inst: Instance) -> None:
    """Save the index for the next start (the app calls this when it stops)."""
    with _states_lock:
        state = _states.get(id(inst))
    if state is None or not state.ready:
        return
    with state.lock:
        state.index.save(inst.settings.similarity_path)


# At registration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A match of one stored work, with what the service knows of it."""

    work: Work
    score: float
    kind: str
    log_index: int | None


def first_log_indexes(session: Session, work_ids: Sequence[str]) -> dict[str, int]:
    """Each work's first log index: when it was first registered (reissues come later)."""
    rows = session.execute(
        select(Certificate.work_id, func.min(Certificate.log_index))
        .where(Certificate.work_id.in_(list(work_ids)))
        .group_by(Certificate.work_id)
    )
    return {work_id: int(index) for work_id, index in rows}


def _logged_at(session: Session, log_index: int | None) -> str | None:
    if log_index is None:
        return None
    entry = session.get(LogEntry, log_index)
    return entry.created_at.isoformat() if entry else None


def resolve(
    session: Session, candidates: Sequence[Candidate], *, exclude_seq: int | None = None
) -> list[Found]:
    """The active works behind index candidates, best first, with their first log index."""
    wanted = {c.key: c for c in candidates if c.key != exclude_seq}
    if not wanted:
        return []
    rows = session.execute(
        select(FingerprintRow.seq, Work)
        .join(Work, Work.id == FingerprintRow.work_id)
        .where(FingerprintRow.seq.in_(list(wanted)), FingerprintRow.active.is_(True))
    ).all()
    indexes = first_log_indexes(session, [work.id for _, work in rows])
    found = [
        Found(work, wanted[seq].score, wanted[seq].kind.value, indexes.get(work.id))
        for seq, work in rows
    ]
    found.sort(key=lambda f: (-f.score, f.log_index if f.log_index is not None else 0))
    return found


def _store_fingerprint(inst: Instance, work_id: str, fp: Fingerprint) -> int:
    # The writer lock serializes the sequence: seq order is commit order (see the model).
    with inst.db.log_writer() as session:
        existing = session.scalar(select(FingerprintRow).where(FingerprintRow.work_id == work_id))
        if existing is not None:
            return existing.seq
        seq = _max_seq(session) + 1
        session.add(
            FingerprintRow(
                seq=seq,
                work_id=work_id,
                kind=codec.kind_of(fp),
                version=codec.VERSION,
                data=codec.encode(fp),
                active=True,
                created_at=inst.clock(),
            )
        )
        return seq


def _stored(inst: Instance, work_id: str) -> tuple[int, Fingerprint] | None:
    with inst.db.session() as session:
        row = session.scalar(select(FingerprintRow).where(FingerprintRow.work_id == work_id))
        if row is None or row.version != codec.VERSION:
            return None
        return row.seq, codec.decode(row.data)


def _describe(found: Found, viewer_id: str) -> str:
    """How a match is named to a creator who may or may not see the other work."""
    shown = found.work.visibility in ("public", "unlisted") or found.work.creator_id == viewer_id
    name = f"'{found.work.title}' ({found.work.id})" if shown else "a private work"
    return f"{name}, similarity {found.score:.2f}, {found.kind}"


def check_work(inst: Instance, work_id: str) -> Finding | None:
    """Fingerprint a registered work, compare it with other creators' works, record matches.

    Returns the prior-art finding for the work's analysis (None when prior-art checks are off).
    Safe to run again for the same work: the fingerprint and the matches are stored once.
    """
    if not enabled(inst):
        return None
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        if work is None:
            raise InputError(f"There is no work '{work_id[:40]}'.")
        kind, blob_key, creator_id = work.kind, work.blob_key, work.creator_id
    stored = _stored(inst, work_id)
    if stored is None:
        with stored_content(inst.blobs, blob_key) as content:
            fp = fingerprint(kind, content)
        seq = _store_fingerprint(inst, work_id, fp)
    else:
        seq, fp = stored
    index = index_for(inst)
    candidates = index.query(fp, limit=MAX_MATCHES + 1)

    with inst.db.log_writer() as session:
        work = session.get(Work, work_id)
        assert work is not None
        mine = first_log_indexes(session, [work_id]).get(work_id)
        found = [
            f
            for f in resolve(session, candidates, exclude_seq=seq)
            if f.work.creator_id != creator_id
        ][:MAX_MATCHES]
        matches = []
        for f in found:
            other_first = f.log_index is not None and (mine is None or f.log_index < mine)
            first_id = f.work.id if other_first else work_id
            matches.append(
                {
                    "work_id": f.work.id,
                    "score": round(f.score, 4),
                    "kind": f.kind,
                    "log_index": f.log_index,
                    "first": first_id,
                }
            )
            _record_match(inst, session, work, f, first_id)
    if not matches:
        return Finding(
            detector=DETECTOR,
            version=codec.VERSION,
            verdict=Verdict.CONSISTENT,
            explanation="No registered work of another creator resembles this one.",
            score=0.0,
            details={"matches": []},
        )
    best = found[0]
    earlier = [m for m in matches if m["first"] != work_id]
    explanation = (
        f"This work resembles {len(matches)} registered work(s) of other creators; the "
        f"closest is {_describe(best, creator_id)}."
    )
    if earlier:
        explanation += " The log holds the other work first, so a reviewer will compare them."
    return Finding(
        detector=DETECTOR,
        version=codec.VERSION,
        # A near-copy of an earlier work contradicts the claim that this work is the creator's
        # own; the policy sends it to a person whatever label was declared.
        verdict=Verdict.CONTRADICTS if earlier else Verdict.CONSISTENT,
        explanation=explanation,
        score=best.score,
        details={"matches": matches},
    )


def _record_match(
    inst: Instance, session: Session, work: Work, found: Found, first_id: str
) -> None:
    exists = session.scalar(
        select(SimilarityMatch.id).where(
            SimilarityMatch.work_id == work.id, SimilarityMatch.matched_work_id == found.work.id
        )
    )
    if exists is not None:
        return
    match = SimilarityMatch(
        id=inst.new_id("m"),
        work_id=work.id,
        matched_work_id=found.work.id,
        score=found.score,
        kind=found.kind,
        first_work_id=first_id,
        created_at=inst.clock(),
    )
    session.add(match)
    session.flush()
    later = work if first_id == found.work.id else found.work
    notifications.notify(
        inst,
        session,
        found.work.creator_id,
        "near-copy",
        f"A newly registered work, '{work.title}', resembles your work '{found.work.title}' "
        f"(similarity {found.score:.2f}, {found.kind}). "
        + (
            "Your work is first in the log. If it was copied, you can open a dispute."
            if first_id == found.work.id
            else "The new work is first in the log."
        ),
        work_id=found.work.id,
        match_id=match.id,
    )
    notifications.notify(
        inst,
        session,
        work.creator_id,
        "near-copy",
        f"Your work '{work.title}' resembles {_describe(found, work.creator_id)}, registered by "
        "another creator. "
        + (
            "The log holds the other work first; a reviewer will compare the two."
            if later is work
            else "Your work is first in the log. If it was copied, you can open a dispute."
        ),
        work_id=work.id,
        match_id=match.id,
    )
    if later is not work and later.review_status not in _SETTLED:
        # The other work was registered later but checked before this one existed (two
        # registrations at once): it is the one a person should look at.
        later.review_status = "pending"
        reason = _reason(work.id, found.score, found.kind)
        later.review_reasons = [*(later.review_reasons or []), reason.to_json()]


def _reason(earlier_work_id: str, score: float, kind: str) -> Reason:
    return Reason(
        code=f"{DETECTOR}:{earlier_work_id}",
        explanation=(
            "This work closely resembles a work registered earlier by another creator "
            f"(similarity {score:.2f}, {kind}). A reviewer will compare the two; your "
            "certificate stays valid meanwhile."
        ),
    )


def reasons(finding: Finding | None) -> tuple[Reason, ...]:
    """The review reasons a prior-art finding gives its work (earlier works it resembles)."""
    if finding is None or finding.verdict is not Verdict.CONTRADICTS:
        return ()
    return tuple(
        _reason(m["work_id"], float(m["score"]), str(m["kind"]))
        for m in finding.details.get("matches", [])
        if m["first"] == m["work_id"]
    )


def deactivate(session: Session, work_id: str) -> None:
    """Take a work out of prior-art matching (its certificate was revoked); same transaction."""
    row = session.scalar(select(FingerprintRow).where(FingerprintRow.work_id == work_id))
    if row is not None:
        row.active = False


# On request ----------------------------------------------------------------------------------


def find_similar(
    inst: Instance,
    data: bytes | Content,
    *,
    filename: str | None = None,
    viewer: User | None = None,
    limit: int = 10,
    include_private: bool = False,
) -> list[dict[str, Any]]:
    """Registered works near the given text or image, best first (``POST /api/v1/similar``).

    Only public works (and the viewer's own) are answered, so the search reveals nothing
    private (``include_private``: every work, for the operator's CLI); only matches at or
    above the index's shipped thresholds are returned.
    """
    if not 1 <= limit <= 100:
        raise InputError("limit must be between 1 and 100.")
    data = as_content(data)
    info = media.inspect(
        data,
        filename=filename,
        max_bytes=inst.settings.max_upload_bytes,
        max_pixels=inst.settings.max_image_pixels,
        max_text_chars=inst.settings.max_text_chars,
    )
    fp = fingerprint(info.kind, data)
    index = index_for(inst)
    # Ask for more than the limit: some answers may be private works the viewer cannot see.
    candidates = index.query(fp, limit=max(limit * 3, limit + 10))
    with inst.db.session() as session:
        visible = [
            f
            for f in resolve(session, candidates)
            if include_private
            or f.work.visibility == "public"
            or (viewer is not None and (viewer.id == f.work.creator_id or viewer.role == "admin"))
        ]
        return [match_json(session, f) for f in visible[:limit]]


def match_json(session: Session, found: Found) -> dict[str, Any]:
    work = found.work
    return {
        "work_id": work.id,
        "score": round(found.score, 4),
        "kind": found.kind,
        "log_index": found.log_index,
        "logged_at": _logged_at(session, found.log_index),
        "creator": work.creator.handle,
        "title": work.title,
        "label": work.label,
        "level": work.level,
        "work_kind": work.kind,
    }
