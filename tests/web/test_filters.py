"""Tests for :mod:`hallmark.web.filters`: the listing parameters the gallery, search, creator
pages and the API share."""

from __future__ import annotations

import pytest

from hallmark.errors import InputError
from hallmark.web.filters import ListingParams, any_label_listing, human_made_listing


def params(**sent: str) -> ListingParams:
    return ListingParams(
        label=sent.get("label"),
        level=sent.get("level"),
        kind=sent.get("kind"),
        consent=sent.get("consent"),
        cursor=sent.get("cursor"),
    )


def test_no_label_means_every_label_or_human_made_as_the_route_asks() -> None:
    assert any_label_listing(params()).filters.label is None
    assert human_made_listing(params()).filters.label == "human-made"
    # On the human-made pages, "all" is the one way to every label, and links keep it.
    every = human_made_listing(params(label="all"))
    assert every.filters.label is None and every.filters.params() == {"label": "all"}


def test_the_cursor_is_parsed_and_marks_a_later_page() -> None:
    first = any_label_listing(params(kind="text"))
    assert first.after is None and not first.paged and first.filters.kind == "text"
    later = any_label_listing(params(cursor="1700000000000000-abc"))
    assert later.paged and later.after is not None and later.after.work_id == "abc"


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        ({"label": "human"}, "is not a label"),
        ({"level": "gold"}, "is not a level"),
        ({"kind": "video"}, "is not a kind"),
        ({"consent": "maybe"}, "is not a consent"),
        ({"cursor": "nope"}, "'cursor'"),
    ],
)
def test_a_bad_value_is_an_input_error_naming_it(sent: dict[str, str], words: str) -> None:
    with pytest.raises(InputError, match=words):
        any_label_listing(params(**sent))
