"""The gallery, search and the thumbnails their cards show (issue #7, items 1, 2 and 7).

``/gallery`` and ``/search?q=`` are addresses people bookmark: every filter is a query
parameter, and the "next page" link carries the keyset cursor
(:mod:`hallmark.services.listing`). Both show human-made work unless asked for another label
or ``label=all``. A bad filter or cursor is a 400 page saying which one and what to use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.services import consent, gallery, listing, registry, thumbnails
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.filters import HumanMadeListing, ListingQuery
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)

#: Thumbnails are copies of the work; like its file, they can never run as a document.
_THUMBNAIL_POLICY = "default-src 'none'; sandbox"


def page_url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def listing_context(
    path: str, result: dict[str, Any], wanted: ListingQuery, extra: dict[str, str]
) -> dict[str, Any]:
    """What the filter form and the pager need, shared by the gallery, search and creators."""
    params = {**extra, **wanted.filters.params()}
    cursor = result["next_cursor"]
    return {
        "result": result,
        "filters": wanted.filters.to_json(),
        "choices": {
            "labels": listing.LABELS,
            "levels": listing.LEVELS,
            "kinds": listing.KINDS,
            "consents": listing.CONSENTS,
        },
        "consent_words": consent.CONSENT_WORDS,
        "next_url": page_url(path, {**params, "cursor": cursor}) if cursor else None,
        "first_url": page_url(path, params),
        "all_labels_url": page_url(path, {**params, "label": listing.ALL_LABELS}),
        "paged": wanted.paged,
    }


@router.get("/gallery")
def gallery_page(request: Request, inst: InstanceDep, wanted: HumanMadeListing) -> Response:
    result = gallery.browse(inst, wanted.filters, after=wanted.after, with_excerpts=True)
    context = listing_context("/gallery", result, wanted, {})
    return render(request, "gallery.html", context)


@router.get("/search")
def search_page(
    request: Request,
    inst: InstanceDep,
    wanted: HumanMadeListing,
    q: str | None = None,
) -> Response:
    query = (q or "").strip()
    result = (
        gallery.find(inst, query, wanted.filters, after=wanted.after, with_excerpts=True)
        if query
        else {"works": [], "next_cursor": None, "filters": wanted.filters.to_json(), "terms": []}
    )
    context = listing_context("/search", result, wanted, {"q": query} if query else {})
    context["query"] = query
    return render(request, "search.html", context)


def _not_modified(request: Request, etag: str) -> bool:
    sent = request.headers.get("if-none-match") or ""
    tags = {tag.strip().removeprefix("W/") for tag in sent.split(",")}
    return etag in tags or "*" in tags


@router.get("/works/{work_id}/thumbnail")
def thumbnail(request: Request, inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        picture = thumbnails.thumbnail(inst, work)
        headers = {
            "ETag": picture.etag,
            # As the work's own file: shared caches only for public works.
            "Cache-Control": (
                "public, max-age=300" if work.visibility == "public" else "private, no-store"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": _THUMBNAIL_POLICY,
            # A thumbnail is a copy of the work, so it carries the work's consent (TDMRep).
            **consent.of_work(work).tdm_headers(),
        }
    if _not_modified(request, picture.etag):
        return Response(status_code=304, headers=headers)
    return Response(picture.data, media_type=picture.media_type, headers=headers)
