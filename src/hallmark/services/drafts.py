"""Drafts written in the editor: their process journal, and turning one into a certified work.

This is DESIGN.md flow 2, "Write" (issue #3). A draft keeps the state that
:func:`hallmark.core.journal.ingest` needs (text, next sequence number, chain head), so each
batch of events is checked and chained without replaying the journal. Submitting replays the
whole journal, requires it to give exactly the submitted text, recomputes the root hash, and
registers the work with the journal as evidence: the label and the AI share follow from the
attribution, and the level is ``process-verified`` unless a human-ness flag sends the work to
review (docs/journal.md).

Privacy: drafts and raw journals are the creator's own. Anyone else is told "not found", so
their existence does not leak. The certificate states only the journal's root hash and shares;
the authorship report is public only when the creator says so.

Concurrency: a batch is accepted in one transaction that holds the draft's row lock
(``SELECT ... FOR UPDATE`` on PostgreSQL, the database write lock on SQLite), so two batches
for one draft are applied one after the other and never both with the same sequence numbers.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hallmark.core import journal
from hallmark.core.labels import AssuranceLevel, OriginLabel, check_ai_share
from hallmark.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    TooLargeError,
)
from hallmark.muse import record as muse_record
from hallmark.services import registry
from hallmark.services.instance import Instance
from hallmark.services.registry import Evidence, Registration
from hallmark.storage.models import Authorship, Draft, JournalEvent, MuseSuggestion, User, Work

logger = logging.getLogger(__name__)

#: Most events one batch may carry: an editor sends a few seconds of writing at a time, and a
#: bigger batch would hold the draft's lock for long.
MAX_BATCH_EVENTS = 5_000
#: Most events one journal may hold: a novel typed key by key stays well under this.
MAX_JOURNAL_EVENTS = 2_000_000
_ORDER = (OriginLabel.HUMAN_MADE, OriginLabel.AI_ASSISTED, OriginLabel.AI_GENERATED)
# Events are inserted through the table, not the ORM class: a plain executemany skips the
# ORM's per-row bookkeeping, a third of the cost of a batch on SQLite (benchmarks/README.md).
_EVENTS_TABLE = cast(Table, JournalEvent.__table__)
_EVENT_COLUMNS = (
    JournalEvent.seq,
    JournalEvent.t,
    JournalEvent.op,
    JournalEvent.pos,
    JournalEvent.text,
    JournalEvent.len,
    JournalEvent.ref,
    JournalEvent.src,
)


@dataclass(frozen=True)
class DraftView:
    """A draft as its creator sees it; ``stats`` is the replay's summary, when asked for."""

    draft_id: str
    title: str
    text: str
    next_seq: int
    head: str
    status: str
    work_id: str | None
    created_at: str
    updated_at: str
    stats: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "draft_id": self.draft_id,
            "title": self.title,
            "text": self.text,
            "next_seq": self.next_seq,
            "length": len(self.text),
            "head": self.head,
            "status": self.status,
            "work_id": self.work_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if self.stats is not None:
            doc["stats"] = self.stats
        return doc

    def summary(self) -> dict[str, Any]:
        """What a list of drafts shows: everything but the text itself."""
        doc = self.to_json()
        del doc["text"]
        doc.pop("stats", None)
        return doc


@dataclass(frozen=True)
class Appended:
    """The answer to a batch: how many events were new, and where the journal now stands."""

    accepted: int
    next_seq: int
    length: int
    head: str

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "next_seq": self.next_seq,
            "length": self.length,
            "head": self.head,
        }


@dataclass(frozen=True)
class Submission:
    """A submitted draft: its registration, and what the journal said about it."""

    registration: Registration
    report: journal.Report
    report_public: bool

    @property
    def review_status(self) -> str:
        return "pending" if self.report.flags else "none"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.registration.to_json(),
            "bundle": self.registration.bundle,
            "authorship": {
                "journal_root": self.report.root.hex(),
                "events": self.report.events,
                "shares": self.report.shares,
                "ai_share": self.report.ai_share,
                "flags": self.report.flags,
                "public": self.report_public,
            },
            "review": {"status": self.review_status, "reasons": self.report.flags},
        }


# Storage helpers ------------------------------------------------------------------------------


@contextmanager
def _draft_writer(inst: Instance) -> Iterator[Session]:
    """A write transaction in which the draft row lock below is real on both databases.

    SQLite ignores ``FOR UPDATE``; its write lock is the whole database, which the log writer
    session takes at ``BEGIN``. PostgreSQL locks the one row, so drafts do not wait on the log.
    """
    if inst.db.dialect == "sqlite":
        with inst.db.log_writer() as session:
            yield session
    else:
        with inst.db.session() as session:
            yield session


def _owned(session: Session, draft_id: str, viewer: User, *, lock: bool = False) -> Draft:
    """The viewer's draft; anyone else's, or a missing one, is "not found" alike."""
    query = select(Draft).where(Draft.id == draft_id)
    if lock:
        query = query.with_for_update()
    draft = session.scalar(query) if len(draft_id) <= 40 else None
    if draft is None or draft.creator_id != viewer.id:
        raise NotFoundError(f"There is no draft '{draft_id[:40]}'.")
    return draft


def owned_draft(session: Session, draft_id: str, viewer: User, *, lock: bool = False) -> Draft:
    """The viewer's draft row, for the editor's other services (the muse, issue #8); anyone
    else's, or a missing one, is "not found" alike."""
    return _owned(session, draft_id, viewer, lock=lock)


def _event_of(row: Sequence[Any]) -> dict[str, Any]:
    """A stored row as the canonical event it was accepted as (absent fields left out)."""
    seq, t, op, pos, text, length, ref, src = row
    event: dict[str, Any] = {"seq": seq, "t": t, "op": op, "pos": pos}
    if text is not None:
        event["text"] = text
    if length is not None:
        event["len"] = length
    if ref is not None:
        event["ref"] = ref
    if src is not None:
        event["src"] = src
    return event


def load_events(
    session: Session, draft_id: str, *, start: int = 0, stop: int | None = None
) -> list[dict[str, Any]]:
    """The draft's stored events in order, from ``start`` up to (not including) ``stop``."""
    query = select(*_EVENT_COLUMNS).where(JournalEvent.draft_id == draft_id)
    if start:
        query = query.where(JournalEvent.seq >= start)
    if stop is not None:
        query = query.where(JournalEvent.seq < stop)
    # Through the Core connection: the ORM's result handling adds a quarter to the time it
    # takes to read a long journal, and plain columns need none of it.
    rows = session.connection().execute(query.order_by(JournalEvent.seq))
    return [_event_of(row) for row in rows]


def _stamp(moment: datetime) -> str:
    # SQLite hands back naive datetimes; they were stored as UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.isoformat()


def muse_records(session: Session, draft_id: str) -> list[muse_record.SuggestionRecord]:
    """The muse's suggestions for a draft, in the order they were made, as evidence.

    A suggestion still being written is recorded as ``cancelled`` with the text stored so far:
    submitting the draft ends it (:func:`submit_draft` marks it so in the same transaction),
    so the record the certificate states never changes afterwards.
    """
    rows = session.scalars(
        select(MuseSuggestion)
        .where(MuseSuggestion.draft_id == draft_id)
        .order_by(MuseSuggestion.created_at, MuseSuggestion.id)
    )
    return [
        muse_record.SuggestionRecord(
            id=row.id,
            mode=row.mode,
            backend=row.backend,
            model=row.model,
            created_at=_stamp(row.created_at),
            prompt_sha256=row.prompt_sha256,
            output_sha256=muse_record.text_sha256(row.output),
            status="cancelled" if row.status == "streaming" else row.status,
            chars=len(row.output),
            copies=row.copies,
            sources=tuple(str(source) for source in row.sources or ()),
        )
        for row in rows
    ]


def _view(draft: Draft, stats: dict[str, Any] | None = None) -> DraftView:
    return DraftView(
        draft_id=draft.id,
        title=draft.title,
        text=draft.text,
        next_seq=draft.next_seq,
        head=bytes(draft.head).hex(),
        status=draft.status,
        work_id=draft.work_id,
        created_at=_stamp(draft.created_at),
        updated_at=_stamp(draft.updated_at),
        stats=stats,
    )


def _draft_title(title: str | None) -> str:
    # A draft may be untitled until it is submitted; a given title follows the work rules.
    cleaned = unicodedata.normalize("NFC", (title or "").strip())
    return registry.clean_title(cleaned) if cleaned else ""


# Writing -------------------------------------------------------------------------------------


def start_draft(inst: Instance, creator_id: str, title: str | None = "") -> DraftView:
    """Start an empty draft whose journal chain begins at the draft's genesis hash."""
    title = _draft_title(title)
    now = inst.clock()
    draft_id = inst.new_id("d")
    with inst.db.writer() as session:
        if session.get(User, creator_id) is None:
            raise NotFoundError("The creator account does not exist.")
        draft = Draft(
            id=draft_id,
            creator_id=creator_id,
            title=title,
            text="",
            next_seq=0,
            head=journal.genesis_hash(draft_id),
            status="open",
            work_id=None,
            created_at=now,
            updated_at=now,
        )
        session.add(draft)
        session.flush()
        return _view(draft)


def _check_batch(events: Any) -> list[Any]:
    if not isinstance(events, list):
        raise InputError("'events' must be a list of journal events.")
    if len(events) > MAX_BATCH_EVENTS:
        raise TooLargeError(
            f"The batch has {len(events):,} events; at most {MAX_BATCH_EVENTS:,} are accepted.",
            hint="Send the events in several batches, in order.",
        )
    return events


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _same_event(raw: Any, stored: dict[str, Any]) -> bool:
    """Whether a resent wire event is the one recorded: the same fields with the same JSON
    types and values, which is what equal canonical bytes (and so equal hashes) mean.

    ``bool`` is compared as its own type: Python has ``True == 1``, JSON does not.
    """
    if not isinstance(raw, dict):
        return False
    # The wire may carry an absent optional field as null; the canonical event leaves it out.
    given = {k: v for k, v in raw.items() if not (k in ("ref", "src") and v is None)}
    if given.keys() != stored.keys():
        return False
    return all(
        type(given[key]) is type(value) and given[key] == value for key, value in stored.items()
    )


def _skip_resent(session: Session, draft: Draft, batch: list[Any]) -> list[Any]:
    """Drop the leading events the journal already holds, after checking they are identical.

    A client that lost an answer resends its batch; the events it already delivered must be
    the very same, or the client and the server disagree about the journal.
    """
    resent = 0
    for raw in batch:
        seq = _int(raw.get("seq")) if isinstance(raw, dict) else None
        if seq is None or seq >= draft.next_seq:
            break
        resent += 1
    if not resent:
        return batch
    first = batch[0]["seq"]
    for offset, raw in enumerate(batch[:resent]):
        if raw["seq"] != first + offset or raw["seq"] < 0:
            raise InputError(
                f"Event {raw['seq']}: repeats or reorders the journal; "
                f"the next event is {draft.next_seq}."
            )
    stored = load_events(session, draft.id, start=first, stop=first + resent)
    for raw, event in zip(batch[:resent], stored, strict=True):
        if not _same_event(raw, event):
            raise ConflictError(
                f"Event {event['seq']} differs from the one already recorded.",
                hint=f"Events up to {draft.next_seq - 1} are recorded and cannot change; "
                f"send new events from seq {draft.next_seq}.",
            )
    return batch[resent:]


def append_events(inst: Instance, draft_id: str, viewer: User, events: Any) -> Appended:
    """Check, chain and store a batch of events, all or nothing.

    Events the journal already holds may be resent (they are compared, then skipped), so a
    client that lost an answer can send the same batch again. A batch that skips, repeats or
    reorders events, or edits outside the text, is refused with nothing stored.
    """
    batch = _check_batch(events)
    try:
        with _draft_writer(inst) as session:
            draft = _owned(session, draft_id, viewer, lock=True)
            if draft.status != "open":
                raise ConflictError(
                    "This draft was submitted; its journal is closed.",
                    hint="Start a new draft to keep writing.",
                )
            fresh = _skip_resent(session, draft, batch)
            if draft.next_seq + len(fresh) > MAX_JOURNAL_EVENTS:
                raise TooLargeError(
                    f"A journal holds at most {MAX_JOURNAL_EVENTS:,} events.",
                    hint="Submit this draft, or start a new one.",
                )
            state, accepted = journal.ingest(
                journal.Ingest(draft.text, draft.next_seq, bytes(draft.head)), fresh
            )
            if accepted:
                session.execute(
                    insert(_EVENTS_TABLE),
                    [
                        {
                            "draft_id": draft.id,
                            "seq": event["seq"],
                            "t": event["t"],
                            "op": event["op"],
                            "pos": event["pos"],
                            "text": event.get("text"),
                            "len": event.get("len"),
                            "ref": event.get("ref"),
                            "src": event.get("src"),
                            "hash": digest,
                        }
                        for event, digest in accepted
                    ],
                )
                draft.text = state.text
                draft.next_seq = state.next_seq
                draft.head = state.head
                draft.updated_at = inst.clock()
            result = Appended(len(accepted), state.next_seq, len(state.text), state.head.hex())
    except IntegrityError:
        # Only reachable if the row lock was bypassed: the primary key (draft, seq) still
        # makes sure two batches never both claim the same place in the journal.
        with inst.db.session() as session:
            current = _owned(session, draft_id, viewer).next_seq
        raise ConflictError(
            "Another batch for this draft was recorded at the same time.",
            hint=f"Resend from seq {current}.",
        ) from None
    return result


# Reading -------------------------------------------------------------------------------------


def _stats(report: journal.Report) -> dict[str, Any]:
    stats = report.to_json()
    del stats["timeline"]
    return stats


def get_draft(inst: Instance, draft_id: str, viewer: User, *, stats: bool = True) -> DraftView:
    """The viewer's draft with its text and, unless ``stats`` is false, the replay's summary."""
    with inst.db.session() as session:
        draft = _owned(session, draft_id, viewer)
        summary = None
        if stats:
            report = journal.replay(
                load_events(session, draft.id), root=bytes(draft.head), timeline_points=1
            )
            summary = _stats(report)
        return _view(draft, summary)


def list_drafts(inst: Instance, viewer: User) -> list[DraftView]:
    """The viewer's open drafts, most recently changed first."""
    with inst.db.session() as session:
        drafts = session.scalars(
            select(Draft)
            .where(Draft.creator_id == viewer.id, Draft.status == "open")
            .order_by(Draft.updated_at.desc(), Draft.id)
        )
        return [_view(draft) for draft in drafts]


# Submitting ----------------------------------------------------------------------------------


def _first_difference(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def _check_same_text(replayed: str, submitted: str) -> None:
    if replayed == submitted:
        return
    where = _first_difference(replayed, submitted)
    raise ConflictError(
        f"The submitted text is not what the journal replays to: the journal gives "
        f"{len(replayed):,} characters, the submitted text has {len(submitted):,}, and they "
        f"first differ at character {where:,}.",
        hint="Send every change as a journal event before submitting, then submit the text "
        "the draft holds (GET the draft to see it).",
    )


def decide_label(
    computed_ai_share: float, declare: str, ai_share: float | None
) -> tuple[OriginLabel, float | None]:
    """The label and AI share to certify: the stricter of what the journal shows and what the
    creator declares.

    The journal can only see AI text that arrived through the muse or a paste marked as AI, so
    its share is a floor: a creator who declares more keeps their label and their share.
    """
    declared = OriginLabel.parse(declare)
    if ai_share is not None or declared is not OriginLabel.AI_ASSISTED:
        # An ai-assisted declaration may leave the share to the journal; anything else is
        # checked as declared, so a contradictory one is refused rather than quietly fixed.
        check_ai_share(declared, ai_share)
    if computed_ai_share >= 100:
        computed = OriginLabel.AI_GENERATED
    elif computed_ai_share > 0:
        computed = OriginLabel.AI_ASSISTED
    else:
        computed = OriginLabel.HUMAN_MADE
    label = max(declared, computed, key=_ORDER.index)
    if label is OriginLabel.AI_ASSISTED:
        shares = [computed_ai_share] if computed_ai_share > 0 else []
        if declared is OriginLabel.AI_ASSISTED and ai_share is not None:
            shares.append(float(ai_share))
        return label, max(shares) if shares else None
    return label, None


def submit_draft(
    inst: Instance,
    draft_id: str,
    viewer: User,
    *,
    title: str,
    declare: str,
    text: str,
    ai_share: float | None = None,
    visibility: str | None = "public",
    report_public: bool = False,
    statement: str | None = None,
    consent: str | None = None,
    consent_policy_url: str | None = None,
    analyse: bool = False,
) -> Submission:
    """Replay the draft's journal, check it gives ``text`` exactly, and register the work.

    The draft is closed and its authorship report stored in the registration's own
    transaction, so either the work is certified with its journal or nothing changes; so is
    its analysis queued, with ``analyse`` (see ``registry.register_work``).
    """
    if not text.strip():
        raise InputError("The text is empty.", hint="Write the work before submitting it.")
    with inst.db.session() as session:
        draft = _owned(session, draft_id, viewer)
        if draft.status != "open":
            raise ConflictError(
                "This draft was already submitted.",
                hint=f"Its work is {draft.work_id}." if draft.work_id else None,
            )
        events = load_events(session, draft.id)
        head = bytes(draft.head)
        suggestions = muse_records(session, draft.id)
    root = journal.journal_root(events, draft_id=draft_id)
    if root != head or len(events) != draft.next_seq:
        # The stored events no longer chain to the head recorded as they arrived: someone
        # changed the database behind the service. Nothing is certified from it.
        logger.error("journal of draft %s does not chain to its recorded head", draft_id)
        raise ConflictError(
            "The journal was altered after it was recorded, so it cannot be certified.",
            hint="Tell the operator of this instance.",
        )
    report = journal.replay(events, root=root)
    _check_same_text(report.text, text)
    label, share = decide_label(report.ai_share, declare, ai_share)
    level = AssuranceLevel.DECLARED if report.flags else AssuranceLevel.PROCESS_VERIFIED
    draft_title = _draft_title(title)
    report_doc = report.to_json()
    items: list[dict[str, Any]] = [
        {"kind": "journal", "sha256": root.hex(), "events": report.events}
    ]
    muse_digest = muse_record.record_sha256(suggestions)
    if suggestions or report.counts["muse"]:
        # Issue #8: the report lists what the muse offered and what was used; the certificate
        # commits to the suggestions by digest, so none can be added or dropped afterwards.
        muse = muse_record.summary(
            suggestions, muse_record.inserted_by_ref(events), share=report.shares["muse"]
        )
        report_doc["muse"] = muse
        if suggestions:
            items.append(
                {
                    "kind": "muse",
                    "sha256": muse["record_sha256"],
                    "suggestions": muse["offered"],
                    "used": muse["used"],
                }
            )

    def attach(session: Session, work_id: str) -> None:
        locked = session.scalar(select(Draft).where(Draft.id == draft_id).with_for_update())
        if locked is None or locked.status != "open" or bytes(locked.head) != root:
            raise ConflictError(
                "The draft changed while it was being submitted.",
                hint="Fetch the draft and submit its text again.",
            )
        locked.status = "submitted"
        locked.work_id = work_id
        locked.title = draft_title
        locked.updated_at = inst.clock()
        if suggestions:
            # The suggestions as certified: a suggestion that finished meanwhile would no
            # longer match the digest, and one still being written ends here.
            if muse_record.record_sha256(muse_records(session, draft_id)) != muse_digest:
                raise ConflictError(
                    "The muse finished a suggestion while the draft was being submitted.",
                    hint="Submit the draft again.",
                )
            session.execute(
                update(MuseSuggestion)
                .where(MuseSuggestion.draft_id == draft_id, MuseSuggestion.status == "streaming")
                .values(status="cancelled", finished_at=inst.clock())
            )
        session.add(
            Authorship(
                work_id=work_id,
                draft_id=draft_id,
                journal_root=root.hex(),
                report=report_doc,
                public=bool(report_public),
            )
        )

    registration = registry.register_work(
        inst,
        creator_id=viewer.id,
        data=text.encode("utf-8"),
        title=title,
        declare=label.value,
        ai_share=share,
        visibility=visibility,
        statement=statement,
        consent=consent,
        consent_policy_url=consent_policy_url,
        evidence=Evidence(
            level=level,
            items=items,
            authorship={
                "journal_root": root.hex(),
                "shares": report.shares,
                "ai_share": report.ai_share,
            },
            review_reasons=report.flags,
            attach=attach,
        ),
        analyse=analyse,
    )
    logger.info(
        "draft %s submitted as %s (%s, %s)", draft_id, registration.work_id, label.value, level
    )
    return Submission(registration, report, bool(report_public))


# The authorship report and the raw journal ---------------------------------------------------


def _is_owner(work: Work, viewer: User | None) -> bool:
    return viewer is not None and (viewer.id == work.creator_id or viewer.role == "admin")


def _authorship(session: Session, work_id: str) -> tuple[Work, Authorship] | None:
    if len(work_id) > 40:
        return None
    row = session.get(Authorship, work_id)
    if row is None:
        return None
    work = session.get(Work, work_id)
    return (work, row) if work is not None else None


def _no_report(work_id: str) -> NotFoundError:
    return NotFoundError(f"There is no authorship report for work '{work_id[:40]}'.")


def authorship_report(inst: Instance, work_id: str, viewer: User | None) -> dict[str, Any]:
    """The authorship report: to the creator and admins always, to others when made public
    (and only while the work itself is visible to them)."""
    with inst.db.session() as session:
        found = _authorship(session, work_id)
        if found is None:
            raise _no_report(work_id)
        work, row = found
        if not _is_owner(work, viewer) and not (row.public and registry.can_see(work, viewer)):
            raise _no_report(work_id)
        return {**row.report, "work_id": work.id, "public": row.public}


def set_report_public(inst: Instance, work_id: str, viewer: User, public: bool) -> dict[str, Any]:
    """The creator (or an admin) decides whether the authorship report is public."""
    with inst.db.session() as session:
        found = _authorship(session, work_id)
        if found is None:
            raise _no_report(work_id)
        work, row = found
        if not _is_owner(work, viewer):
            if row.public and registry.can_see(work, viewer):
                raise PermissionDeniedError(
                    "Only the work's creator decides whether its authorship report is public."
                )
            raise _no_report(work_id)
        row.public = bool(public)
        return {"work_id": work.id, "public": row.public}


def journal_for(inst: Instance, work_id: str, viewer: User | None) -> dict[str, Any]:
    """The raw journal behind a work: to its creator and admins only, as it is private."""
    with inst.db.session() as session:
        found = _authorship(session, work_id)
        if found is None or not _is_owner(found[0], viewer):
            raise NotFoundError(f"There is no journal for work '{work_id[:40]}'.")
        work, row = found
        return {
            "work_id": work.id,
            "journal_root": row.journal_root,
            "events": load_events(session, row.draft_id),
        }
