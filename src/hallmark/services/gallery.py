"""The gallery, search results and creators' pages (issue #7, items 1 to 3).

Each lists *listed* works (public, current certificate not revoked; see
:mod:`hallmark.services.listing`) newest first, one page at a time with a keyset cursor, and
answers with plain dictionaries the pages and the API both render. A card is
:func:`hallmark.services.registry.work_json` plus the creator's display name and, for a text
work, its opening lines.
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hallmark.core.digests import decode_text
from hallmark.errors import HallmarkError, NotFoundError
from hallmark.services import (
    accounts,
    consent,
    drafts,
    listing,
    notifications,
    registry,
    review,
    search,
)
from hallmark.services.instance import Instance
from hallmark.storage.models import Certificate, User, Work

#: A text work's card shows at most this much of its opening.
EXCERPT_LINES = 6
EXCERPT_CHARS = 320


class _Excerpts:
    """Opening lines by blob key. Blobs never change under their key, so entries never go
    stale; the bound keeps memory flat however many works are browsed."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = Lock()

    def get(self, inst: Instance, blob_key: str) -> str:
        with self._lock:
            if blob_key in self._items:
                self._items.move_to_end(blob_key)
                return self._items[blob_key]
        value = excerpt(decode_text(inst.blobs.get(blob_key)))
        with self._lock:
            self._items[blob_key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_EXCERPTS = _Excerpts(2048)


def excerpt(text: str) -> str:
    """The opening of a text: its first non-blank lines, cut at a word near the limit."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    opening = "\n".join(lines[:EXCERPT_LINES]).strip()
    cut = len(lines) > EXCERPT_LINES
    if len(opening) > EXCERPT_CHARS:
        opening = opening[:EXCERPT_CHARS].rsplit(None, 1)[0].rstrip(" ,.;:")
        cut = True
    return opening + " …" if cut else opening


def card_json(inst: Instance, work: Work, *, with_excerpt: bool) -> dict[str, Any]:
    card = registry.work_json(work)
    card["creator_name"] = work.creator.display_name
    card["excerpt"] = None
    if with_excerpt and work.kind == "text":
        try:
            card["excerpt"] = _EXCERPTS.get(inst, work.blob_key)
        except HallmarkError:
            # A missing blob costs the card its excerpt, not the whole page.
            card["excerpt"] = None
    return card


def _loading(query: Any) -> Any:
    # Every card names its creator and certificate: three queries a page, not three a card.
    return query.options(
        selectinload(Work.creator),
        selectinload(Work.certificate).selectinload(Certificate.revocation),
    )


def _page_json(
    inst: Instance, page: listing.Page, filters: listing.Filters, *, with_excerpts: bool
) -> dict[str, Any]:
    return {
        "works": [card_json(inst, work, with_excerpt=with_excerpts) for work in page.works],
        "next_cursor": page.next_cursor,
        "filters": filters.to_json(),
    }


def _listed_page(
    session: Session,
    filters: listing.Filters,
    after: listing.Cursor | None,
    limit: int,
    creator: User | None = None,
) -> listing.Page:
    query = filters.apply(select(Work).where(listing.listed()))
    if creator is not None:
        query = query.where(Work.creator_id == creator.id)
    rows = session.scalars(_loading(listing.newest_first(query, after, limit)))
    return listing.page_of(list(rows), limit)


def browse(
    inst: Instance,
    filters: listing.Filters,
    *,
    after: listing.Cursor | None = None,
    limit: int = listing.DEFAULT_LIMIT,
    with_excerpts: bool = False,
) -> dict[str, Any]:
    """One page of the gallery: listed works matching ``filters``, newest first."""
    limit = listing.clamp_limit(limit)
    with inst.db.session() as session:
        page = _listed_page(session, filters, after, limit)
        return _page_json(inst, page, filters, with_excerpts=with_excerpts)


def find(
    inst: Instance,
    query: str | None,
    filters: listing.Filters,
    *,
    after: listing.Cursor | None = None,
    limit: int = listing.DEFAULT_LIMIT,
    with_excerpts: bool = False,
) -> dict[str, Any]:
    """One page of search results; ``terms`` says what was searched for, once sanitized."""
    with inst.db.session() as session:
        page = search.search(session, query, filters, after=after, limit=limit)
        result = _page_json(inst, page, filters, with_excerpts=with_excerpts)
    result["query"] = (query or "")[: search.MAX_QUERY_CHARS]
    result["terms"] = [" ".join(words) for words in search.parse_query(query)]
    return result


def _counts(session: Session, creator: User, column: Any, names: tuple[str, ...]) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count())
        .where(Work.creator_id == creator.id, listing.listed())
        .group_by(column)
    )
    found = {str(name): int(count) for name, count in rows}
    return {name: found.get(name, 0) for name in names}


def creator_page(
    inst: Instance,
    handle: str,
    viewer: User | None,
    filters: listing.Filters = listing.ALL,
    *,
    after: listing.Cursor | None = None,
    limit: int = listing.DEFAULT_LIMIT,
    with_excerpts: bool = False,
) -> dict[str, Any]:
    """A creator's public profile: who they are, their listed works and what those are.

    Counts and works are the listed ones whoever looks, so the page shows the creator what
    everyone else sees; their own private works are on their home page and dashboard.
    """
    limit = listing.clamp_limit(limit)
    with inst.db.session() as session:
        creator = accounts.find_user(session, handle[:80]) if handle else None
        if creator is None:
            raise NotFoundError(f"There is no creator '{handle[:40]}'.")
        labels = _counts(session, creator, Work.label, listing.LABELS)
        levels = _counts(session, creator, Work.level, listing.LEVELS)
        page = _listed_page(session, filters, after, limit, creator)
        result = _page_json(inst, page, filters, with_excerpts=with_excerpts)
        result["creator"] = {
            "handle": creator.handle,
            "display_name": creator.display_name,
            "joined": creator.created_at.isoformat(),
            "consent_default": consent.of_user(creator).to_json(),
        }
    result["counts"] = {"total": sum(labels.values()), "labels": labels, "levels": levels}
    own = viewer is not None and viewer.id == creator.id
    result["dashboard"] = dashboard_summary(inst, creator) if own else None
    return result


def dashboard_summary(inst: Instance, user: User) -> dict[str, int]:
    """What waits for a creator on their dashboard, as counts for a link to it."""
    return {
        "drafts": len(drafts.list_drafts(inst, user)),
        "under_review": len(review.for_creator(inst, user)),
        "unread": int(notifications.for_user(inst, user, limit=1)["unread"]),
    }
