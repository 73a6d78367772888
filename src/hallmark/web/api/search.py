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

router = APIRouter(tags=["works"])

LABEL_HELP = "human-made, ai-assisted, ai-generated, or all (the default)."
LEVEL_HELP = "declared, analyzed, process-verified or reviewed; default any."
KIND_HELP = "text or image; default any."
CONSENT_HELP = "AI training: allowed, not-allowed or constrained; default any."
CURSOR_HELP = "The next_cursor of the previous page; leave out for the newest works."


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
    label: Annotated[str | None, Query(description=LABEL_HELP)] = None,
    level: Annotated[str | None, Query(description=LEVEL_HELP)] = None,
    kind: Annotated[str | None, Query(description=KIND_HELP)] = None,
    consent: Annotated[str | None, Query(description=CONSENT_HELP)] = None,
    cursor: Annotated[str | None, Query(description=CURSOR_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)] = listing.DEFAULT_LIMIT,
) -> dict[str, Any]:
    filters = listing.Filters.parse(
        label=label, level=level, kind=kind, consent=consent, default_label=None
    )
    after = listing.Cursor.parse(cursor)
    return gallery.find(inst, q, filters, after=after, limit=limit)
