"""The query parameters that narrow and page a listing of works, declared once (issue #7,
items 1 to 3).

The gallery, search and creator pages and ``GET /api/v1/works`` and ``GET /api/v1/search``
take the same filters (``label``, ``level``, ``kind``, ``consent``) and keyset ``cursor``
(:mod:`hallmark.services.listing`). A route asks for them with one of two ``Annotated``
aliases, which differ only in what a request without ``label`` lists:

- :data:`AnyLabelListing`: every label (the API and the creator pages).
- :data:`HumanMadeListing`: human-made work (the gallery and search pages, issue #7: human-made
  is the default view).

Both give a :class:`ListingQuery`. A bad value is an :class:`~hallmark.errors.InputError`
naming the parameter and what to use, which :mod:`hallmark.web.errors` answers with a 400
problem (API) or page (browsers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from hallmark.core.labels import OriginLabel
from hallmark.services import listing

# The descriptions are the API's, where no label means every label; the pages that default to
# human-made are left out of the OpenAPI document, so nothing shows them the other default.
LABEL_HELP = "human-made, ai-assisted, ai-generated, or all (the default)."
LEVEL_HELP = "declared, analyzed, process-verified or reviewed; default any."
KIND_HELP = "text or image; default any."
CONSENT_HELP = "AI training: allowed, not-allowed or constrained; default any."
CURSOR_HELP = "The next_cursor of the previous page; leave out for the newest works."


@dataclass(frozen=True)
class ListingQuery:
    """What a listing request asked for: its filters, and the cursor its page starts after
    (None for the first page)."""

    filters: listing.Filters
    after: listing.Cursor | None

    @property
    def paged(self) -> bool:
        """True past the first page, where the pages offer a link back to it."""
        return self.after is not None


@dataclass(frozen=True)
class ListingParams:
    """The listing's query parameters as sent, before they are checked."""

    label: str | None
    level: str | None
    kind: str | None
    consent: str | None
    cursor: str | None

    def parse(self, *, default_label: str | None) -> ListingQuery:
        """The checked filters and cursor, or an :class:`~hallmark.errors.InputError` naming
        the first bad parameter; ``default_label`` is what no ``label`` lists."""
        filters = listing.Filters.parse(
            label=self.label,
            level=self.level,
            kind=self.kind,
            consent=self.consent,
            default_label=default_label,
        )
        return ListingQuery(filters, listing.Cursor.parse(self.cursor))


def listing_params(
    label: Annotated[str | None, Query(description=LABEL_HELP)] = None,
    level: Annotated[str | None, Query(description=LEVEL_HELP)] = None,
    kind: Annotated[str | None, Query(description=KIND_HELP)] = None,
    consent: Annotated[str | None, Query(description=CONSENT_HELP)] = None,
    cursor: Annotated[str | None, Query(description=CURSOR_HELP)] = None,
) -> ListingParams:
    return ListingParams(label, level, kind, consent, cursor)


ListingParamsDep = Annotated[ListingParams, Depends(listing_params)]


def any_label_listing(params: ListingParamsDep) -> ListingQuery:
    return params.parse(default_label=None)


def human_made_listing(params: ListingParamsDep) -> ListingQuery:
    return params.parse(default_label=OriginLabel.HUMAN_MADE.value)


AnyLabelListing = Annotated[ListingQuery, Depends(any_label_listing)]
HumanMadeListing = Annotated[ListingQuery, Depends(human_made_listing)]
