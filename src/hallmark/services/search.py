"""Full-text search over listed works (issue #7, item 2): titles, creators' handles and display
names, and the text of text works.

The index is built by migration 0006 and differs by database:

- SQLite: an FTS5 table ``work_search`` (tokenizer ``unicode61``, diacritics folded), whose
  rowid is ``work_search_rows.id``, the row that names the work.
- PostgreSQL: ``work_search``, one ``tsvector`` per work with a GIN index, queried with
  ``websearch_to_tsquery``.

Both use no stemming and no stop words (PostgreSQL's ``simple`` configuration), so a query
finds the same works on either; only SQLite also folds diacritics ("ines" finds "Inès"), which
PostgreSQL would need its ``unaccent`` extension for. Results come newest first and page with
the same cursor as the gallery (:mod:`hallmark.services.listing`).

What people type is never handed to the database as query syntax. :func:`parse_query` keeps
only words (letters and digits) and double-quoted phrases, and :func:`match_expression` writes
each back in double quotes, which FTS5 and ``websearch_to_tsquery`` both read as a plain word or
phrase: ``NEAR(``, ``*``, ``-``, ``OR``, ``:`` and stray quotes become ordinary words or vanish,
and no query is ever a syntax error.

The index holds listed works only (public, current certificate not revoked).
:func:`index_work` puts a work in or takes it out, in the transaction of whatever changed it:
registration, revocation, a change of visibility.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from sqlalchemy import ColumnElement, column, exists, select, table, text
from sqlalchemy.orm import Session, selectinload

from hallmark.core.digests import decode_text
from hallmark.errors import HallmarkError
from hallmark.services import listing
from hallmark.services.instance import Instance
from hallmark.storage.models import Certificate, Work

logger = logging.getLogger(__name__)

#: How much of a text work is indexed: whole poems, stories and essays, a novel's opening
#: chapters. PostgreSQL refuses a tsvector over 1 MB, which a text this long stays well under.
TEXT_CHARS = 100_000
MAX_QUERY_CHARS = 500
MAX_TERMS = 16
#: Longer "words" are not words people search for; PostgreSQL would not index them either.
MAX_WORD_CHARS = 200
#: SQLite: a query that matches at least this many works is answered by walking the works
#: newest first and checking each against the index, which finds a page of them at once; a
#: rarer one by collecting its matches first and sorting them. Either way costs at most a few
#: tens of milliseconds at 100,000 works (benchmarks/gallery_bench.py), where the other way
#: round costs a few hundred.
DENSE_MATCHES = 10_000

_WORD = re.compile(r"[^\W_]+")

Phrase = tuple[str, ...]

# The SQLite index's tables, named for queries; migration 0006 creates them.
_ROWS = table("work_search_rows", column("id"), column("work_id"))
_FTS = table("work_search", column("rowid"))


def parse_query(query: str | None) -> list[Phrase]:
    """The words and phrases of a search, each a tuple of words; punctuation is dropped.

    Text in double quotes is a phrase; so is a word joined by punctuation ("don't",
    "well-known"), as the index splits it the same way. An unclosed quote runs to the end.
    """
    query = unicodedata.normalize("NFC", (query or "")[:MAX_QUERY_CHARS])
    phrases: list[Phrase] = []
    for position, part in enumerate(query.split('"')):
        chunks = [part] if position % 2 else part.split()
        for chunk in chunks:
            words = tuple(w for w in _WORD.findall(chunk) if len(w) <= MAX_WORD_CHARS)
            if words and words not in phrases:
                phrases.append(words)
    return phrases[:MAX_TERMS]


def match_expression(phrases: list[Phrase]) -> str:
    """The phrases as FTS5 and ``websearch_to_tsquery`` both read them: all must match."""
    return " ".join('"' + " ".join(words) + '"' for words in phrases)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _creator_text(work: Work) -> str:
    return f"{work.creator.handle} {work.creator.display_name}"


def _body(text: str | None) -> str:
    if not text:
        return ""
    # PostgreSQL text cannot hold NUL; decode_text refuses it, but a caller may pass raw text.
    return unicodedata.normalize("NFC", text[:TEXT_CHARS]).replace("\x00", "")


def is_listed(session: Session, work_id: str) -> bool:
    found = session.scalar(select(Work.id).where(Work.id == work_id, listing.listed()))
    return found is not None


def remove_work(session: Session, work_id: str) -> None:
    """Take a work out of the index (nothing happens if it is not there)."""
    if _dialect(session) == "postgresql":
        session.execute(text("DELETE FROM work_search WHERE work_id = :id"), {"id": work_id})
        return
    row_id = session.scalar(
        text("SELECT id FROM work_search_rows WHERE work_id = :id"), {"id": work_id}
    )
    if row_id is not None:
        # By rowid: FTS5 finds a row by its rowid at once, by any other column only by a scan.
        session.execute(text("DELETE FROM work_search WHERE rowid = :row"), {"row": row_id})
        session.execute(text("DELETE FROM work_search_rows WHERE id = :row"), {"row": row_id})


def index_work(session: Session, work: Work, text_of_work: str | None) -> None:
    """Bring ``work``'s entry up to date: indexed if it is listed, taken out if not.

    ``text_of_work`` is the text of a text work (None for an image). Call it after the change
    is flushed, in the same transaction, so the index never disagrees with the works.
    """
    session.flush()
    remove_work(session, work.id)
    if not is_listed(session, work.id):
        return
    values = {
        "id": work.id,
        "title": work.title,
        "creator": _creator_text(work),
        "body": _body(text_of_work if work.kind == "text" else None),
    }
    if _dialect(session) == "postgresql":
        session.execute(
            text(
                "INSERT INTO work_search (work_id, document) VALUES (:id,"
                " to_tsvector('simple', CAST(:title AS text))"
                " || to_tsvector('simple', CAST(:creator AS text))"
                " || to_tsvector('simple', CAST(:body AS text)))"
            ),
            values,
        )
        return
    row_id = session.scalar(
        text("INSERT INTO work_search_rows (work_id) VALUES (:id) RETURNING id"), values
    )
    session.execute(
        text(
            "INSERT INTO work_search (rowid, title, creator, body)"
            " VALUES (:row, :title, :creator, :body)"
        ),
        {**values, "row": row_id},
    )


def text_of(inst: Instance, work: Work) -> str | None:
    """The text of a text work from the blob store, for :func:`index_work`; None otherwise."""
    if work.kind != "text":
        return None
    return decode_text(inst.blobs.get(work.blob_key))


def reindex_work(inst: Instance, session: Session, work: Work) -> None:
    """:func:`index_work` with the work's text read from the blob store."""
    index_work(session, work, text_of(inst, work))


def _matches(session: Session, expression: str) -> ColumnElement[bool]:
    if _dialect(session) == "postgresql":
        # The planner chooses between the GIN index and walking the works newest first from
        # the statistics PostgreSQL keeps on tsvector columns.
        found = text(
            "SELECT work_id FROM work_search"
            " WHERE document @@ websearch_to_tsquery('simple', CAST(:match AS text))"
        )
        return Work.id.in_(found.bindparams(match=expression).columns(work_id=Work.id.type))
    dense = session.scalar(
        text(
            "SELECT count(*) FROM (SELECT rowid FROM work_search"
            " WHERE work_search MATCH :match LIMIT :cap)"
        ),
        {"match": expression, "cap": DENSE_MATCHES},
    )
    matching = (
        select(_ROWS.c.work_id)
        .select_from(_ROWS.join(_FTS, _FTS.c.rowid == _ROWS.c.id))
        .where(text("work_search MATCH :match").bindparams(match=expression))
    )
    if dense is not None and dense >= DENSE_MATCHES:
        # Correlated on purpose: for each work in index order, FTS5 checks its one rowid.
        return exists(matching.where(_ROWS.c.work_id == Work.id))
    return Work.id.in_(matching)


def search(
    session: Session,
    query: str | None,
    filters: listing.Filters,
    *,
    after: listing.Cursor | None = None,
    limit: int = listing.DEFAULT_LIMIT,
) -> listing.Page:
    """Listed works matching every word and phrase of ``query``, newest first.

    A query with no words in it (empty, or only punctuation) matches nothing.
    """
    phrases = parse_query(query)
    if not phrases:
        return listing.Page([], None)
    limit = listing.clamp_limit(limit)
    statement = filters.apply(
        select(Work).where(listing.listed(), _matches(session, match_expression(phrases)))
    )
    statement = listing.newest_first(statement, after, limit).options(
        selectinload(Work.creator),
        selectinload(Work.certificate).selectinload(Certificate.revocation),
    )
    return listing.page_of(list(session.scalars(statement)), limit)


def reindex(inst: Instance, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the whole index from the works and the blob store; return how many are in it.

    For ``hallmark reindex``: after a migration that had no blob store to read texts from,
    or if the index is ever in doubt. Works are indexed in batches, each in a transaction.
    """
    with inst.db.session() as session:
        session.execute(text("DELETE FROM work_search"))
        if _dialect(session) != "postgresql":
            session.execute(text("DELETE FROM work_search_rows"))
        ids = list(session.scalars(select(Work.id).where(listing.listed()).order_by(Work.id)))
    done = 0
    for start in range(0, len(ids), 500):
        with inst.db.writer() as session:
            works = session.scalars(
                select(Work)
                .where(Work.id.in_(ids[start : start + 500]))
                .options(selectinload(Work.creator))
            )
            for work in works:
                try:
                    body = text_of(inst, work)
                except HallmarkError as exc:
                    # A lost blob is the operator's to restore; title and creator still count.
                    logger.warning("the text of work %s was not indexed: %s", work.id, exc)
                    body = None
                index_work(session, work, body)
                done += 1
        if progress is not None:
            progress(done, len(ids))
    return done
