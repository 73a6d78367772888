"""Full-text search (issue #7, item 2) on SQLite (FTS5) and PostgreSQL (tsvector): what it
finds, what it never shows, and that no query, however hostile, is an error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from hallmark.services import listing, registry, search
from hallmark.services.instance import Instance
from hallmark.storage.models import User
from tests.conftest import get_user

POEM = "The tide goes out,\nthe gulls come in;\nthe harbour keeps its counsel.\n"
ESSAY = "On lighthouses: a keeper's notebook, with café receipts and well-known storms.\n"

HOSTILE = [
    '"',
    '""',
    '"unclosed phrase',
    "*",
    "harb*",
    "NEAR(",
    "NEAR(harbour tide, 2)",
    "-",
    "-harbour",
    "harbour -tide",
    "harbour OR tide",
    "AND",
    "NOT tide",
    "title:harbour",
    "{title body}: harbour",
    "^harbour",
    "harbour:*",
    "tide & gulls | !harbour",
    "'",
    "''; DROP TABLE works; --",
    "\\",
    ")(",
    "()",
    "\x00harbour",
    "🌊 harbour",
    "a" * 5000,
    "x " * 400,
    " ".join(f"w{i}" for i in range(100)),
]


def register(inst: Instance, creator: str, data: str, title: str, **fields: object) -> str:
    return registry.register_work(
        inst,
        creator_id=creator,
        data=data.encode(),
        title=title,
        declare=str(fields.pop("declare", "human-made")),
        **fields,  # type: ignore[arg-type]
    ).work_id


def found(inst: Instance, query: str, filters: listing.Filters = listing.ALL) -> list[str]:
    with inst.db.session() as session:
        return [w.id for w in search.search(session, query, filters, limit=100).works]


@pytest.fixture
def people(any_instance: Instance) -> dict[str, User]:
    people = {
        "ines": get_user(any_instance, "ines"),
        "root": get_user(any_instance, "root", "admin"),
    }
    with any_instance.db.session() as session:
        ines = session.get(User, people["ines"].id)
        assert ines is not None
        ines.display_name = "Inès Marlowe"
    return people


@pytest.fixture
def works(any_instance: Instance, people: dict[str, User]) -> dict[str, str]:
    ines = people["ines"].id
    return {
        "poem": register(any_instance, ines, POEM, "Harbour"),
        "essay": register(any_instance, ines, ESSAY, "Keeper's Notebook"),
    }


def test_finds_by_title_creator_and_text(any_instance: Instance, works: dict[str, str]) -> None:
    assert found(any_instance, "harbour") == [works["poem"]]
    assert found(any_instance, "HARBOUR") == [works["poem"]]
    # The creator's handle and display name.
    assert set(found(any_instance, "ines")) == set(works.values())
    assert set(found(any_instance, "marlowe")) == set(works.values())
    # Words from the text of a text work.
    assert found(any_instance, "gulls") == [works["poem"]]
    assert found(any_instance, "lighthouses") == [works["essay"]]
    # A word joined by punctuation is the same phrase in the query and in the index.
    assert found(any_instance, "keeper's") == [works["essay"]]
    assert found(any_instance, "well-known") == [works["essay"]]


def test_every_word_must_match_and_phrases_keep_their_order(
    any_instance: Instance, works: dict[str, str]
) -> None:
    assert found(any_instance, "tide gulls") == [works["poem"]]
    assert found(any_instance, "tide lighthouses") == []
    assert found(any_instance, '"the gulls come"') == [works["poem"]]
    assert found(any_instance, '"come gulls the"') == []
    assert found(any_instance, "nothing-like-this") == []


def test_results_are_newest_first_and_page_with_the_cursor(
    any_instance: Instance, people: dict[str, User]
) -> None:
    ids = [
        register(any_instance, people["ines"].id, f"Lantern number {n}.\n", f"Lantern {n}")
        for n in range(5)
    ]
    with any_instance.db.session() as session:
        first = search.search(session, "lantern", listing.ALL, limit=2)
        assert [w.id for w in first.works] == ids[::-1][:2]
        assert first.next_cursor is not None
        after = listing.Cursor.parse(first.next_cursor)
        second = search.search(session, "lantern", listing.ALL, after=after, limit=2)
        third = search.search(
            session,
            "lantern",
            listing.ALL,
            after=listing.Cursor.parse(second.next_cursor),
            limit=2,
        )
    assert [w.id for w in first.works + second.works + third.works] == ids[::-1]
    assert third.next_cursor is None


def test_filters_apply_to_search(any_instance: Instance, people: dict[str, User]) -> None:
    ines = people["ines"].id
    human = register(any_instance, ines, "Salt marsh at dawn.\n", "Marsh")
    assisted = register(
        any_instance, ines, "Salt marsh at dusk.\n", "Marsh", declare="ai-assisted", ai_share=20.0
    )
    assert found(any_instance, "marsh", listing.Filters()) == [human]
    assert found(any_instance, "marsh", listing.Filters(label="ai-assisted")) == [assisted]
    assert set(found(any_instance, "marsh")) == {human, assisted}
    assert found(any_instance, "marsh", listing.Filters(label=None, kind="image")) == []
    assert found(any_instance, "marsh", listing.Filters(label=None, consent="allowed")) == []


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_never_an_error(
    any_instance: Instance, works: dict[str, str], query: str
) -> None:
    result = found(any_instance, query)
    assert set(result) <= set(works.values())


def test_operators_are_plain_words(any_instance: Instance, works: dict[str, str]) -> None:
    # "OR" is a word to find, not an operator: no work has it, so nothing matches.
    assert found(any_instance, "harbour OR lighthouses") == []
    # "-tide" is the word "tide", not "without tide".
    assert found(any_instance, "-tide") == [works["poem"]]
    assert found(any_instance, "NEAR(harbour") == []
    assert found(any_instance, '"harbour') == [works["poem"]]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=st.text(max_size=80))
def test_any_text_is_a_valid_query(any_instance: Instance, query: str) -> None:
    with any_instance.db.session() as session:
        search.search(session, query, listing.ALL)


def test_parse_query_keeps_words_and_phrases() -> None:
    assert search.parse_query('Harbour "the gulls" NEAR( -tide* don\'t') == [
        ("Harbour",),
        ("the", "gulls"),
        ("NEAR",),
        ("tide",),
        ("don", "t"),
    ]
    assert search.parse_query('*) ( - "" \' :') == []
    assert search.parse_query("a a A") == [("a",), ("A",)]
    assert len(search.parse_query(" ".join(f"w{i}" for i in range(100)))) == search.MAX_TERMS
    assert search.match_expression([("a",), ("b", "c")]) == '"a" "b c"'


def test_private_unlisted_and_revoked_works_are_not_found(
    any_instance: Instance, people: dict[str, User]
) -> None:
    ines = people["ines"]
    private = register(any_instance, ines.id, "Secret orchard.\n", "Orchard", visibility="private")
    unlisted = register(
        any_instance, ines.id, "Hidden orchard.\n", "Orchard", visibility="unlisted"
    )
    revoked = register(any_instance, ines.id, "Lost orchard.\n", "Orchard")
    public = register(any_instance, ines.id, "Open orchard.\n", "Orchard")
    assert set(found(any_instance, "orchard")) == {revoked, public}
    with any_instance.db.session() as session:
        cert = registry.get_work(session, revoked, ines).certificate
        assert cert is not None
        certificate_id = cert.id
    registry.revoke(any_instance, certificate_id=certificate_id, reason="mistake", actor=ines)
    assert found(any_instance, "orchard") == [public]
    assert private not in found(any_instance, "secret") and unlisted not in found(
        any_instance, "hidden"
    )


def test_visibility_changes_follow_in_the_index(
    any_instance: Instance, people: dict[str, User], works: dict[str, str]
) -> None:
    ines = people["ines"]
    registry.change_visibility(any_instance, works["poem"], ines, "private")
    assert found(any_instance, "gulls") == []
    registry.change_visibility(any_instance, works["poem"], ines, "unlisted")
    assert found(any_instance, "gulls") == []
    # Public again: the text is read back from the blob store and indexed.
    registry.change_visibility(any_instance, works["poem"], ines, "public")
    assert found(any_instance, "gulls") == [works["poem"]]


def test_reindex_rebuilds_the_index(
    any_instance: Instance, people: dict[str, User], works: dict[str, str]
) -> None:
    hidden = register(
        any_instance, people["ines"].id, "Quiet fjord.\n", "Fjord", visibility="private"
    )
    with any_instance.db.session() as session:
        session.execute(text("DELETE FROM work_search"))
    assert found(any_instance, "gulls") == []
    assert search.reindex(any_instance) == 2
    assert found(any_instance, "gulls") == [works["poem"]]
    assert found(any_instance, "marlowe") != [] and found(any_instance, "fjord") == []
    assert hidden not in found(any_instance, "quiet")


def test_an_admin_can_change_visibility_but_a_stranger_cannot(
    any_instance: Instance, people: dict[str, User], works: dict[str, str]
) -> None:
    from hallmark.errors import NotFoundError, PermissionDeniedError

    stranger = get_user(any_instance, "nils")
    with pytest.raises(PermissionDeniedError):
        registry.change_visibility(any_instance, works["poem"], stranger, "private")
    registry.change_visibility(any_instance, works["poem"], people["root"], "private")
    # Now private, the work is "not found" for the stranger, as everywhere else.
    with pytest.raises(NotFoundError):
        registry.change_visibility(any_instance, works["poem"], stranger, "public")


def test_bad_visibility_is_refused(
    any_instance: Instance, people: dict[str, User], works: dict[str, str]
) -> None:
    from hallmark.errors import InputError

    for value in ("", "secret"):
        with pytest.raises(InputError):
            registry.change_visibility(any_instance, works["poem"], people["ines"], value)
    assert found(any_instance, "gulls") == [works["poem"]]


def test_common_words_are_walked_in_order_with_the_same_answers(
    any_instance: Instance, people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [
        register(any_instance, people["ines"].id, f"Reed bed number {n}.\n", f"Reed {n}")
        for n in range(4)
    ]
    expected = {q: found(any_instance, q) for q in ("reed", "number 2", "nothing")}
    # SQLite answers a query with many matches by walking the works (DENSE_MATCHES).
    monkeypatch.setattr(search, "DENSE_MATCHES", 2)
    assert {q: found(any_instance, q) for q in expected} == expected
    assert expected["reed"] == ids[::-1] and expected["number 2"] == [ids[2]]
