"""A creator's public page, ``/creators/{handle}`` (issue #7, items 3 and 7).

Who they are, their listed works newest first (filtered and paged like the gallery, every
label by default), how many carry each label and level, and their AI-training default. The
creator looking at their own page also gets what waits on their dashboard. An unknown handle
is a 404 page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.services import gallery
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.filters import AnyLabelListing
from hallmark.web.pages.gallery import listing_context
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/creators/{handle}")
def creator_page(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    handle: str,
    wanted: AnyLabelListing,
) -> Response:
    result = gallery.creator_page(
        inst, handle, viewer, wanted.filters, after=wanted.after, with_excerpts=True
    )
    path = f"/creators/{quote(result['creator']['handle'])}"
    context = listing_context(path, result, wanted, {})
    context["path_here"] = path
    return render(request, "creator.html", context)
