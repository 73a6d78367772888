"""API route for search (issue #7, item 2): ``GET /api/v1/search``.

The same search as the ``/search`` page, over listed works only (public, certificate not
revoked), newest first, paged with the cursor the answer gives. Unlike the page, which shows
human-made work unless asked otherwise, the API searches every label unless ``label`` is given.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hallmark.services import gallery, listing
from hallmark.web.api.schemas import SearchPageOut
from hallmark.web.deps import InstanceDep
from hallmark.web.filters import AnyLabelListing

router = APIRouter(tags=["works"])


@router.get(
    "/search",
    response_model=SearchPageOut,
    summary="Search public works by title, creator and text, newest first",
)
def search_works(
    inst: InstanceDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=2000,
            description='Words to find, all of them; "double quotes" for a phrase. Other '
            "punctuation is ignored.",
        ),
    ],
    wanted: AnyLabelListing,
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)] = listing.DEFAULT_LIMIT,
) -> dict[str, Any]:
    return gallery.find(inst, q, wanted.filters, after=wanted.after, limit=limit)
