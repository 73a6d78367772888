"""The muse, as a use case: asking it about a draft, keeping what it said, the draft's switches.

Issue #8 (DESIGN.md, "muse user"). :func:`ask` checks the request (the draft is the viewer's
and open, the mode exists, prose is allowed for the draft), builds the prompt from the draft
and, unless the creator turned it off, from passages of their earlier works, and starts the
backend chosen by the ``muse_backend`` setting. It waits for the first piece of text before
returning, so a backend that is down is reported as a clear error before any answer starts;
then it stores the suggestion and hands back a :class:`Run` that yields the rest as it comes.
When the run ends (finished, cancelled by the writer, or broken off by the backend) the full
text and how it ended are stored: every suggestion is evidence for the draft, used or not.

Whether a suggestion was used is not stored here: the journal says so, as a ``muse`` event
naming the suggestion (:mod:`hallmark.muse.record`). The panel also records each copy to the
clipboard, so the report can show what was taken out of the panel.

Privacy: like drafts, suggestions are their creator's alone; for anyone else they do not exist.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, select

from hallmark.errors import (
    ConfigError,
    ConflictError,
    HallmarkError,
    NotFoundError,
    TooLargeError,
)
from hallmark.muse import prompts, record, voice
from hallmark.muse.base import Mode, MuseBackend, MuseUnavailable
from hallmark.plugins.manager import choose
from hallmark.services import drafts
from hallmark.services.instance import Instance
from hallmark.storage.models import (
    Authorship,
    Certificate,
    Draft,
    JournalEvent,
    MuseSuggestion,
    User,
    Work,
)

logger = logging.getLogger(__name__)

#: The longest selection the muse is sent; the prompt quotes at most the first
#: ``prompts.SELECTION_CHARS`` characters of it.
MAX_SELECTION_CHARS = 20_000
#: How many of the creator's newest text works are searched for passages in their voice.
VOICE_WORKS = 20
#: Works whose passages may be quoted as the creator's voice: their own writing, not text an
#: AI generated for them.
VOICE_LABELS = ("human-made", "ai-assisted")
#: Characters of the draft, before the cursor, that passages are matched against.
_QUERY_CHARS = 600
#: Passages and embeddings kept per work (keyed by the work's SHA-256), newest used last.
_PASSAGE_CACHE_WORKS = 512


# The backend, one per instance ---------------------------------------------------------------


_backends: dict[int, MuseBackend] = {}
_backends_lock = threading.Lock()
_warming: set[int] = set()
_embedder_warm = False


def enabled(inst: Instance) -> bool:
    return bool(inst.settings.muse_backend)


def backend_for(inst: Instance) -> MuseBackend:
    """The instance's muse backend, built on first use from the ``muse_backend`` setting."""
    if not enabled(inst):
        raise MuseUnavailable(
            "The muse is turned off on this instance.",
            hint="If you run this instance, set muse_backend (for example to 'smollm2').",
        )
    key = id(inst)
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            try:
                factory = choose("hallmark_muse_backends", inst.settings.muse_backend)
                backend = factory(inst.settings)
            except ConfigError as exc:
                logger.error("the muse cannot start: %s", exc.diagnostics())
                raise MuseUnavailable(
                    "The muse is not set up correctly on this instance.",
                    hint="If you run this instance: " + exc.diagnostics().replace("\n", " "),
                ) from None
            _backends[key] = backend
            weakref.finalize(inst, _forget, key)
        return backend


def _forget(key: int) -> None:
    with _backends_lock:
        _backends.pop(key, None)
        _warming.discard(key)


def warm_up(inst: Instance, creator_id: str | None = None) -> None:
    """Load the muse's model in the background, once per instance, and the embedder once per
    process when ``creator_id`` has earlier works to quote, so the first question a writer asks
    does not wait for them (the editor page calls this)."""
    if not enabled(inst):
        return
    with _backends_lock:
        backend_cold = id(inst) not in _warming
        _warming.add(id(inst))
    embedder_cold = (
        not _embedder_warm and creator_id is not None and _has_voice_works(inst, creator_id)
    )
    if not (backend_cold or embedder_cold):
        return

    def load() -> None:
        global _embedder_warm
        try:
            if backend_cold:
                backend_for(inst).warm_up()
            if embedder_cold:
                _embedder()
                _embedder_warm = True
        except HallmarkError as exc:
            logger.warning("the muse could not warm up: %s", exc.detail)

    threading.Thread(target=load, name="muse-warm-up", daemon=True).start()


# The draft's switches ------------------------------------------------------------------------


@dataclass(frozen=True)
class Switches:
    """The creator's choices for one draft: may the muse write prose (``continue``), and may
    it draw on their earlier works (``personal``)."""

    allow_continue: bool
    personal: bool

    def to_json(self) -> dict[str, bool]:
        return {"continue": self.allow_continue, "personal": self.personal}


def switches(inst: Instance, draft_id: str, viewer: User) -> Switches:
    with inst.db.session() as session:
        draft = drafts.owned_draft(session, draft_id, viewer)
        return Switches(draft.muse_continue, draft.muse_personal)


def set_switches(
    inst: Instance,
    draft_id: str,
    viewer: User,
    *,
    allow_continue: bool | None = None,
    personal: bool | None = None,
) -> Switches:
    """Change the draft's switches; those given as None stay as they are."""
    with inst.db.session() as session:
        draft = drafts.owned_draft(session, draft_id, viewer, lock=True)
        _require_open(draft)
        if allow_continue is not None:
            draft.muse_continue = bool(allow_continue)
        if personal is not None:
            draft.muse_personal = bool(personal)
        return Switches(draft.muse_continue, draft.muse_personal)


def _require_open(draft: Draft) -> None:
    if draft.status != "open":
        raise ConflictError(
            "This draft was submitted; the muse works on open drafts only.",
            hint="Start a new draft to keep writing.",
        )


# The creator's voice -------------------------------------------------------------------------


_passages: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
_passages_lock = threading.Lock()


def _embedder() -> Any:
    from hallmark.similarity.fingerprints import shared_embedder

    return shared_embedder()


def _work_passages(
    inst: Instance, sha256: str, blob_key: str, embedder: Any
) -> tuple[list[str], np.ndarray]:
    """A work's passages and their embeddings, cached by the work's digest."""
    with _passages_lock:
        cached = _passages.get(sha256)
        if cached is not None:
            _passages.move_to_end(sha256)
            return cached
    text = inst.blobs.get(blob_key).decode("utf-8", errors="replace")
    found = voice.passages(text)
    vectors = embedder.embed(found)
    with _passages_lock:
        _passages[sha256] = (found, vectors)
        while len(_passages) > _PASSAGE_CACHE_WORKS:
            _passages.popitem(last=False)
    return found, vectors


def _voice_works(creator_id: str) -> Select[Work]:
    """The creator's works the muse may quote: their text works that are not AI-generated,
    while their certificate stands (a revoked work may not be theirs at all)."""
    return (
        select(Work)
        .join(Certificate, (Certificate.work_id == Work.id) & Certificate.superseded.is_(False))
        .where(
            Work.creator_id == creator_id,
            Work.kind == "text",
            Work.label.in_(VOICE_LABELS),
            ~Certificate.revocation.has(),
        )
    )


def _has_voice_works(inst: Instance, creator_id: str) -> bool:
    with inst.db.session() as session:
        return session.scalar(_voice_works(creator_id).limit(1)) is not None


def creator_voice(inst: Instance, creator_id: str, query: str) -> list[voice.Passage]:
    """Passages of the creator's newest :data:`VOICE_WORKS` works that may be quoted, nearest
    to ``query`` first. Without the embedder (the server extras are not installed) the muse
    simply goes without."""
    from hallmark.similarity.fingerprints import EmbedderUnavailable

    if not query.strip():
        return []
    with inst.db.session() as session:
        # Read what is needed and let the session go: embedding takes a while the first time.
        works = [
            (work.id, work.sha256, work.blob_key)
            for work in session.scalars(
                _voice_works(creator_id)
                .order_by(Work.created_at.desc(), Work.id)
                .limit(VOICE_WORKS)
            )
        ]
    if not works:
        return []
    try:
        embedder = _embedder()
        found: list[voice.Passage] = []
        rows: list[np.ndarray] = []
        for work_id, sha256, blob_key in works:
            texts, vectors = _work_passages(inst, sha256, blob_key, embedder)
            found.extend(voice.Passage(work_id, text) for text in texts)
            rows.append(vectors)
        if not found:
            return []
        query_vector = embedder.embed([query])[0]
    except EmbedderUnavailable as exc:
        logger.warning("the muse goes without the creator's voice: %s", exc.detail)
        return []
    return [found[i] for i in voice.nearest(query_vector, np.vstack(rows))]


# Asking --------------------------------------------------------------------------------------


def _stamp(moment: datetime) -> str:
    # SQLite hands back naive datetimes; they were stored as UTC.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.isoformat()


class Run:
    """One suggestion as it is being written: iterate over it for its text, piece by piece.

    The suggestion is stored before the first piece is handed out. When the iteration ends,
    or the iterator is closed (the writer cancelled: the web face closes it when the
    connection drops), the backend is stopped and the suggestion's full text and status are
    stored: ``complete``, ``cancelled`` or ``failed`` (the backend broke off; the error is
    raised to the caller after the partial text is stored).
    """

    def __init__(
        self,
        inst: Instance,
        *,
        suggestion_id: str,
        mode: Mode,
        backend: MuseBackend,
        prompt_sha256: str,
        sources: list[str],
        created_at: datetime,
        first: str | None,
        pieces: Iterator[str],
        cancel: threading.Event,
    ) -> None:
        self.inst = inst
        self.id = suggestion_id
        self.mode = mode
        self.backend = backend.name
        self.model = backend.model
        self.prompt_sha256 = prompt_sha256
        self.sources = sources
        self.created_at = created_at
        self.status = "streaming"
        self._first = first
        self._pieces = pieces
        self._cancel = cancel
        self._parts: list[str] = []
        self._started = False
        self._finished = False
        self._iterator = self._run()

    def __iter__(self) -> Iterator[str]:
        return self._iterator

    @property
    def text(self) -> str:
        """The text so far; once finished, the suggestion as stored (see ``prompts.tidy``)."""
        raw = "".join(self._parts)
        return raw if self.status == "streaming" else prompts.tidy(self.mode, raw)

    def cancel(self) -> None:
        """Ask the backend to stop after the piece it is writing."""
        self._cancel.set()

    def close(self) -> None:
        """Stop now: the suggestion is stored as cancelled unless it had finished."""
        self._cancel.set()
        if self._started:
            self._iterator.close()
        elif not self._finished:
            self._iterator.close()
            self._stop_backend()
            self._finish("cancelled")

    def _stop_backend(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()

    def _run(self) -> Generator[str, None, None]:
        self._started = True
        outcome = "cancelled"
        try:
            piece = self._first
            while piece is not None:
                self._parts.append(piece)
                yield piece
                piece = next(self._pieces, None)
            outcome = "cancelled" if self._cancel.is_set() else "complete"
        except MuseUnavailable:
            outcome = "failed"
            raise
        finally:
            self._stop_backend()
            self._finish(outcome)

    def _finish(self, outcome: str) -> None:
        if self._finished:
            return
        self._finished = True
        self.status = outcome
        try:
            with self.inst.db.writer() as session:
                row = session.get(MuseSuggestion, self.id)
                # A draft submitted meanwhile ended the suggestion where it stood, and the
                # certificate states it so (drafts.submit_draft): it stays as it was.
                if row is not None and row.status == "streaming":
                    row.output = self.text
                    row.status = outcome
                    row.finished_at = self.inst.clock()
        except Exception:
            # The writer already has the text; losing its record must not break the editor.
            logger.exception("the muse's suggestion %s could not be stored", self.id)

    def collect(self) -> dict[str, Any]:
        """Read the whole suggestion, then describe it (the JSON answer)."""
        for _ in self:
            pass
        return self.to_json()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mode": self.mode.value,
            "text": self.text,
            "status": self.status,
            "backend": self.backend,
            "model": self.model,
            "created_at": _stamp(self.created_at),
            "prompt_sha256": self.prompt_sha256,
            "sources": list(self.sources),
        }

    def start_json(self) -> dict[str, Any]:
        """What is known before the text: the first server-sent event."""
        doc = self.to_json()
        del doc["text"], doc["status"]
        return doc


def ask(
    inst: Instance,
    draft_id: str,
    viewer: User,
    *,
    mode: str,
    selection: str | None = None,
    position: int | None = None,
    personal: bool | None = None,
    seed: int | None = None,
    charge: Callable[[], None] | None = None,
) -> Run:
    """Ask the muse about the viewer's draft; see the module docstring.

    ``position`` is the writer's cursor in code points (default: the end of the text);
    ``personal`` overrides the draft's switch for this request; ``seed`` makes sampling
    repeatable (tests, benchmarks). ``charge`` is called once the request has passed every
    check and a backend is configured, just before the model runs (the web's per-user
    budget): a request refused for its draft, its mode or its size costs nothing.
    """
    chosen = Mode.parse(mode)
    if selection is not None and len(selection) > MAX_SELECTION_CHARS:
        raise TooLargeError(
            f"The selection is longer than {MAX_SELECTION_CHARS:,} characters.",
            hint="Select a shorter passage: the muse reads its first "
            f"{prompts.SELECTION_CHARS:,} characters.",
        )
    with inst.db.session() as session:
        draft = drafts.owned_draft(session, draft_id, viewer)
        _require_open(draft)
        if chosen.writes_prose and not draft.muse_continue:
            raise ConflictError(
                "Prose from the muse is switched off for this draft.",
                hint="Ask for questions, ideas or critique instead, or switch 'continue' on "
                "in the muse's panel.",
            )
        text, creator_id = draft.text, draft.creator_id
        use_voice = draft.muse_personal if personal is None else bool(personal)
    backend = backend_for(inst)
    if charge is not None:
        charge()
    where = len(text) if position is None else max(0, min(int(position), len(text)))
    passages: list[voice.Passage] = []
    if use_voice:
        query = (selection or "").strip() or text[max(0, where - _QUERY_CHARS) : where]
        passages = creator_voice(inst, creator_id, query)
    prompt = prompts.build_prompt(
        chosen,
        text=text,
        position=where,
        selection=selection,
        voice=[passage.text for passage in passages],
    )
    cancel = threading.Event()
    pieces = iter(
        backend.stream(prompt, max_tokens=inst.settings.muse_max_tokens, cancel=cancel, seed=seed)
    )
    # The first piece before anything is stored or answered: a backend that is down says so
    # now, as a plain error, rather than in the middle of an answer.
    first = next(pieces, None)
    suggestion_id = inst.new_id("m")
    created_at = inst.clock()
    sources = list(dict.fromkeys(passage.work_id for passage in passages))
    try:
        with inst.db.session() as session:
            session.add(
                MuseSuggestion(
                    id=suggestion_id,
                    draft_id=draft_id,
                    mode=chosen.value,
                    backend=backend.name,
                    model=backend.model,
                    prompt_sha256=prompt.sha256(),
                    sources=sources,
                    output="",
                    status="streaming",
                    copies=0,
                    created_at=created_at,
                )
            )
    except BaseException:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
        raise
    logger.info(
        "muse %s: %s for draft %s (%s)", suggestion_id, chosen.value, draft_id, backend.name
    )
    return Run(
        inst,
        suggestion_id=suggestion_id,
        mode=chosen,
        backend=backend,
        prompt_sha256=prompt.sha256(),
        sources=sources,
        created_at=created_at,
        first=first,
        pieces=pieces,
        cancel=cancel,
    )


# Reading and recording -----------------------------------------------------------------------


def _inserted(session: Any, draft_id: str) -> dict[str | None, int]:
    rows = session.execute(
        select(JournalEvent.op, JournalEvent.ref, JournalEvent.text).where(
            JournalEvent.draft_id == draft_id, JournalEvent.op == "muse"
        )
    )
    return dict(
        record.inserted_by_ref({"op": op, "ref": ref, "text": text} for op, ref, text in rows)
    )


def _suggestion_json(row: MuseSuggestion, inserted: dict[str | None, int]) -> dict[str, Any]:
    chars_in = int(inserted.get(row.id, 0))
    return {
        "id": row.id,
        "mode": row.mode,
        "text": row.output,
        "status": row.status,
        "backend": row.backend,
        "model": row.model,
        "created_at": _stamp(row.created_at),
        "finished_at": _stamp(row.finished_at) if row.finished_at else None,
        "prompt_sha256": row.prompt_sha256,
        "output_sha256": record.text_sha256(row.output),
        "sources": list(row.sources or []),
        "copies": row.copies,
        "inserted_chars": chars_in,
        "used": chars_in > 0,
    }


def list_suggestions(inst: Instance, draft_id: str, viewer: User) -> dict[str, Any]:
    """Every suggestion the muse made for the viewer's draft, oldest first, with what the
    journal did with each, and the draft's switches."""
    with inst.db.session() as session:
        draft = drafts.owned_draft(session, draft_id, viewer)
        rows = session.scalars(
            select(MuseSuggestion)
            .where(MuseSuggestion.draft_id == draft.id)
            .order_by(MuseSuggestion.created_at, MuseSuggestion.id)
        ).all()
        inserted = _inserted(session, draft.id)
        return {
            "draft_id": draft.id,
            "settings": Switches(draft.muse_continue, draft.muse_personal).to_json(),
            "suggestions": [_suggestion_json(row, inserted) for row in rows],
        }


def record_copy(inst: Instance, draft_id: str, suggestion_id: str, viewer: User) -> dict[str, Any]:
    """The creator copied a suggestion out of the panel: count it."""
    with inst.db.writer() as session:
        draft = drafts.owned_draft(session, draft_id, viewer)
        row = session.get(MuseSuggestion, suggestion_id) if len(suggestion_id) <= 40 else None
        if row is None or row.draft_id != draft.id:
            raise NotFoundError(
                f"There is no muse suggestion '{suggestion_id[:40]}' for this draft."
            )
        row.copies += 1
        return {"id": row.id, "copies": row.copies}


def texts_for_work(inst: Instance, work_id: str, viewer: User | None) -> dict[str, str]:
    """The suggestions' texts behind a work written in the editor, by id: for its creator and
    admins, who may read the raw journal too (the public report shows digests only)."""
    if viewer is None or len(work_id) > 40:
        return {}
    with inst.db.session() as session:
        found = session.get(Authorship, work_id)
        work = session.get(Work, work_id)
        if found is None or work is None:
            return {}
        if viewer.id != work.creator_id and viewer.role != "admin":
            return {}
        rows = session.execute(
            select(MuseSuggestion.id, MuseSuggestion.output).where(
                MuseSuggestion.draft_id == found.draft_id
            )
        )
        return {suggestion_id: output for suggestion_id, output in rows}
