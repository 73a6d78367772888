"""The gallery and creator pages' use cases (issue #7, items 1 and 3), and the filters and
keyset cursor they share (:mod:`hallmark.services.listing`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallmark.errors import InputError, NotFoundError
from hallmark.services import drafts, gallery, listing, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import User
from tests.conftest import FixedClock, get_user


def register(inst: Instance, creator: User, title: str, **fields: object) -> str:
    return registry.register_work(
        inst,
        creator_id=creator.id,
        data=str(fields.pop("data", f"{title}: a few lines of its own.\n")).encode(),
        title=title,
        declare=str(fields.pop("declare", "human-made")),
        **fields,  # type: ignore[arg-type]
    ).work_id


def ids(result: dict[str, object]) -> list[str]:
    works = result["works"]
    assert isinstance(works, list)
    return [w["work_id"] for w in works]


@pytest.fixture
def mara(any_instance: Instance) -> User:
    return get_user(any_instance, "mara")


def test_human_made_is_the_default_view(any_instance: Instance, mara: User) -> None:
    human = register(any_instance, mara, "Hands")
    assisted = register(any_instance, mara, "Helped", declare="ai-assisted", ai_share=30.0)
    generated = register(any_instance, mara, "Made", declare="ai-generated")
    assert ids(gallery.browse(any_instance, listing.Filters.parse())) == [human]
    every = listing.Filters.parse(label="all")
    assert ids(gallery.browse(any_instance, every)) == [generated, assisted, human]
    only = listing.Filters.parse(label="ai-assisted")
    assert ids(gallery.browse(any_instance, only)) == [assisted]


def test_filters_by_level_kind_and_consent(any_instance: Instance, mara: User) -> None:
    allowed = register(any_instance, mara, "Open", consent="allowed")
    reserved = register(any_instance, mara, "Closed")

    def shown(**params: str) -> list[str]:
        return ids(gallery.browse(any_instance, listing.Filters.parse(**params)))

    assert shown(consent="allowed") == [allowed]
    assert shown(consent="not-allowed") == [reserved]
    assert shown(kind="text") == [reserved, allowed]
    assert shown(kind="image") == []
    assert shown(level="declared") == [reserved, allowed]
    assert shown(level="reviewed") == []


@pytest.mark.parametrize(
    "params",
    [
        {"label": "human"},
        {"label": "<script>"},
        {"level": "gold"},
        {"kind": "audio"},
        {"consent": "maybe"},
    ],
)
def test_bad_filters_say_which_and_what_to_use(params: dict[str, str]) -> None:
    with pytest.raises(InputError) as caught:
        listing.Filters.parse(**params)
    name = next(iter(params))
    assert f"is not a {name}" in caught.value.detail
    assert caught.value.hint and "Use one of" in caught.value.hint


def test_filters_give_back_their_parameters() -> None:
    assert listing.Filters.parse().params() == {}
    assert listing.Filters.parse(label="ALL", kind="image").params() == {
        "label": "all",
        "kind": "image",
    }
    # On a page whose default is every label, human-made must be spelled out.
    creator = listing.Filters.parse(label="human-made", default_label=None)
    assert creator.params() == {"label": "human-made"}
    assert listing.Filters.parse(default_label=None).params() == {}


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ),
    work_id=st.from_regex(r"[0-9a-z_]{1,40}", fullmatch=True),
)
def test_cursor_round_trips(moment: datetime, work_id: str) -> None:
    cursor = listing.Cursor(moment, work_id)
    assert listing.Cursor.parse(str(cursor)) == cursor


@pytest.mark.parametrize(
    "value",
    ["zzz", "-w_1", "12-", "12-W_UPPER", "1-a-b", "99999999999999999999-w", "1-" + "a" * 41],
)
def test_a_cursor_this_site_did_not_give_is_refused(value: str) -> None:
    with pytest.raises(InputError, match="cursor"):
        listing.Cursor.parse(value)


def test_pages_have_no_duplicates_and_no_gaps(any_instance: Instance, mara: User) -> None:
    clock = FixedClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    any_instance.clock = clock
    expected = []
    for n in range(11):
        # Works registered in the same microsecond are ordered by id: the cursor must hold both.
        if n % 3 == 0:
            clock.now += timedelta(seconds=1)
        expected.append(register(any_instance, mara, f"Stone {n}"))
    newest_first = sorted(
        expected, key=lambda work_id: (expected.index(work_id) // 3, work_id), reverse=True
    )
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        result = gallery.browse(any_instance, listing.ALL, after=after, limit=4)
        seen += ids(result)
        pages += 1
        cursor = result["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        after = listing.Cursor.parse(cursor)
        # A work registered between two pages is newer than the cursor: it never shifts a page.
        clock.now += timedelta(seconds=10)
        register(any_instance, mara, f"Late {pages}")
    assert seen == newest_first
    assert pages == 3


def test_private_unlisted_and_revoked_works_are_never_listed(
    any_instance: Instance, mara: User
) -> None:
    public = register(any_instance, mara, "Shown")
    register(any_instance, mara, "Mine", visibility="private")
    register(any_instance, mara, "Link only", visibility="unlisted")
    revoked = register(any_instance, mara, "Withdrawn")
    with any_instance.db.session() as session:
        cert = registry.get_work(session, revoked, mara).certificate
        assert cert is not None
        certificate_id = cert.id
    registry.revoke(any_instance, certificate_id=certificate_id, reason="test", actor=mara)
    assert ids(gallery.browse(any_instance, listing.ALL)) == [public]
    # The creator's own page shows what everyone else sees, also to the creator.
    own = gallery.creator_page(any_instance, "mara", mara)
    assert ids(own) == [public] and own["counts"]["total"] == 1


def test_a_card_has_the_creator_and_the_opening_lines(any_instance: Instance, mara: User) -> None:
    lines = "".join(f"Line {n} of the <b>poem</b>.\n" for n in range(1, 10))
    register(any_instance, mara, "Long", data=lines)
    card = gallery.browse(any_instance, listing.ALL, with_excerpts=True)["works"][0]
    assert card["creator"] == "mara" and card["creator_name"] == "mara"
    assert card["excerpt"].startswith("Line 1 of the <b>poem</b>.\nLine 2")
    assert "Line 7" not in card["excerpt"] and card["excerpt"].endswith("…")
    assert gallery.browse(any_instance, listing.ALL)["works"][0]["excerpt"] is None


def test_excerpt_cuts_at_a_word() -> None:
    assert gallery.excerpt("short\n\n") == "short"
    long_line = "word " * 200
    cut = gallery.excerpt(long_line)
    assert len(cut) <= gallery.EXCERPT_CHARS + 2 and cut.endswith("word …")


def test_creator_page_counts_and_profile(any_instance: Instance, mara: User) -> None:
    register(any_instance, mara, "One")
    register(any_instance, mara, "Two")
    register(any_instance, mara, "Three", declare="ai-assisted", ai_share=10.0)
    register(any_instance, mara, "Hidden", visibility="private")
    other = get_user(any_instance, "otto")
    register(any_instance, other, "Not hers")
    page = gallery.creator_page(any_instance, "MARA", None)
    assert page["creator"]["handle"] == "mara"
    assert page["creator"]["consent_default"] == {
        "consent": "not-allowed",
        "consent_policy_url": None,
    }
    assert page["counts"] == {
        "total": 3,
        "labels": {"human-made": 2, "ai-assisted": 1, "ai-generated": 0},
        "levels": {"declared": 3, "analyzed": 0, "process-verified": 0, "reviewed": 0},
    }
    assert len(page["works"]) == 3 and page["dashboard"] is None
    labelled = gallery.creator_page(
        any_instance, "mara", None, listing.Filters(label="ai-assisted")
    )
    assert [w["title"] for w in labelled["works"]] == ["Three"]


def test_the_creator_sees_what_waits_on_their_dashboard(any_instance: Instance, mara: User) -> None:
    drafts.start_draft(any_instance, mara.id, "Notes")
    registry.register_work(
        any_instance,
        creator_id=mara.id,
        data=b"Pasted, mostly.\n",
        title="Pasted",
        declare="human-made",
        evidence=registry.Evidence(
            review_reasons=[{"code": "large-paste", "explanation": "Most of it was pasted."}]
        ),
    )
    page = gallery.creator_page(any_instance, "mara", mara)
    assert page["dashboard"] == {"drafts": 1, "under_review": 1, "unread": 0}
    assert (
        gallery.creator_page(any_instance, "mara", get_user(any_instance, "nils"))["dashboard"]
        is None
    )


@pytest.mark.parametrize("handle", ["nobody", "", "a" * 500, "../etc"])
def test_an_unknown_creator_is_not_found(any_instance: Instance, handle: str) -> None:
    with pytest.raises(NotFoundError):
        gallery.creator_page(any_instance, handle, None)
