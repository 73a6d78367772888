"""AI-training consent (issue #6, item 3): the rules, the default and its override, changes
after registration, and the published files, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from hallmark.errors import InputError, NotFoundError, PermissionDeniedError
from hallmark.services import consent, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import User, Work
from tests.conftest import add_user

POLICY = "https://ines.example/ai-terms?v=2"


def register(inst: Instance, creator_id: str, text: str, **fields: object) -> registry.Registration:
    return registry.register_work(
        inst,
        creator_id=creator_id,
        data=text.encode("utf-8"),
        title=text.split()[0],
        declare="human-made",
        **fields,  # type: ignore[arg-type]
    )


def stored(inst: Instance, work_id: str) -> tuple[consent.Consent, consent.Consent | None]:
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        return consent.of_work(work), consent.declared(work)


# The rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "url", "expected"),
    [
        (None, None, None),
        ("", "  ", None),
        ("allowed", None, consent.Consent("allowed")),
        (" Not-Allowed ", "", consent.Consent("not-allowed")),
        ("constrained", POLICY, consent.Consent("constrained", POLICY)),
        ("constrained", "http://x.example", consent.Consent("constrained", "http://x.example")),
    ],
)
def test_parse_accepts_the_three_choices(
    choice: str | None, url: str | None, expected: consent.Consent | None
) -> None:
    assert consent.parse(choice, url) == expected


@pytest.mark.parametrize(
    ("choice", "url", "message"),
    [
        ("maybe", None, "not a consent choice"),
        ("constrained", None, "needs the URL of a policy"),
        ("constrained", "ftp://x.example/terms", "not an http or https URL"),
        ("constrained", "https://", "not an http or https URL"),
        ("constrained", "javascript:alert(1)", "not an http or https URL"),
        ("constrained", "https://x.example/é", "not plain ASCII"),
        ("constrained", "https://x.example/a b", "spaces"),
        ("constrained", "https://x.example/\r\nX-Evil: 1", "spaces"),
        ("constrained", "https://x.example/" + "a" * 2000, "longer than 2000"),
        ("allowed", POLICY, "only with 'constrained'"),
        (None, POLICY, "without a consent choice"),
    ],
)
def test_parse_refuses_with_a_clear_message(
    choice: str | None, url: str | None, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        consent.parse(choice, url)


@pytest.mark.parametrize(
    ("value", "url", "headers", "closed"),
    [
        ("allowed", None, {"tdm-reservation": "0"}, False),
        ("not-allowed", None, {"tdm-reservation": "1"}, True),
        ("constrained", POLICY, {"tdm-reservation": "1", "tdm-policy": POLICY}, False),
        # Registered before policies were required: no conditions to follow, so closed.
        ("constrained", None, {"tdm-reservation": "1"}, True),
    ],
)
def test_what_each_consent_publishes(
    value: str, url: str | None, headers: dict[str, str], closed: bool
) -> None:
    chosen = consent.Consent(value, url)
    assert chosen.tdm_headers() == headers
    assert chosen.closed_to_ai_crawlers is closed


# Default and override -----------------------------------------------------------------------


def test_a_new_creator_reserves_by_default(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    work = register(any_instance, creator, "Lanterns on the pier blink out.")
    assert work.consent == "not-allowed" and work.consent_policy_url is None
    now, declared = stored(any_instance, work.work_id)
    assert now == declared == consent.Consent("not-allowed")


def test_works_take_the_creator_default_unless_they_choose(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    consent.set_default(any_instance, creator, "constrained", POLICY)
    assert consent.default_of(any_instance, creator) == consent.Consent("constrained", POLICY)

    by_default = register(any_instance, creator, "Gulls at dawn over the harbour.")
    assert stored(any_instance, by_default.work_id) == (
        consent.Consent("constrained", POLICY),
        consent.Consent("constrained", POLICY),
    )
    own_choice = register(any_instance, creator, "Ferries at noon.", consent="allowed")
    assert stored(any_instance, own_choice.work_id)[0] == consent.Consent("allowed")
    # The certificate states the consent in force at registration, with the policy.
    body = by_default.bundle["certificate"]
    assert body["consent"] == {"ai_training": "constrained", "policy_url": POLICY}


def test_a_bad_choice_refuses_the_registration(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    with pytest.raises(InputError, match="needs the URL"):
        register(any_instance, creator, "Nets drying.", consent="constrained")
    with pytest.raises(InputError, match="Choose allowed"):
        consent.set_default(any_instance, creator, "", None)


def test_changing_a_work_keeps_the_certificate(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    other = add_user(any_instance, "bruno")
    work = register(any_instance, creator, "Rope and tar and salt.", consent="allowed")
    with any_instance.db.session() as session:
        ines, bruno = session.get(User, creator), session.get(User, other)
        assert ines is not None and bruno is not None

    changed = consent.change_work_consent(any_instance, work.work_id, ines, "not-allowed", None)
    assert changed == {
        "work_id": work.work_id,
        "consent": "not-allowed",
        "consent_policy_url": None,
        "declared": {"consent": "allowed", "consent_policy_url": None},
    }
    assert stored(any_instance, work.work_id) == (
        consent.Consent("not-allowed"),
        consent.Consent("allowed"),
    )
    with pytest.raises(PermissionDeniedError, match="Only the work's creator"):
        consent.change_work_consent(any_instance, work.work_id, bruno, "allowed", None)


def test_a_private_work_is_not_found_for_others(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    other = add_user(any_instance, "bruno")
    work = register(any_instance, creator, "A private harbour.", visibility="private")
    with any_instance.db.session() as session:
        bruno = session.get(User, other)
        assert bruno is not None
    with pytest.raises(NotFoundError):
        consent.change_work_consent(any_instance, work.work_id, bruno, "allowed", None)


# The published files --------------------------------------------------------------------------


def test_published_files_follow_the_consents_of_public_works(any_instance: Instance) -> None:
    creator = add_user(any_instance, "ines")
    works = {
        "allowed": register(any_instance, creator, "One allowed text.", consent="allowed"),
        "reserved": register(any_instance, creator, "Two reserved text."),
        "constrained": register(
            any_instance,
            creator,
            "Three conditional text.",
            consent="constrained",
            consent_policy_url=POLICY,
        ),
        "private": register(any_instance, creator, "Four private text.", visibility="private"),
        "unlisted": register(any_instance, creator, "Five unlisted text.", visibility="unlisted"),
    }
    ids = {name: work.work_id for name, work in works.items()}
    with any_instance.db.session() as session:
        rules = consent.tdmrep_rules(session)
        robots = consent.robots_txt(session, "https://hallmark.example")
        ai = consent.ai_txt(session, "https://hallmark.example")

    expected = []
    for name, reservation, policy in (
        ("allowed", 0, None),
        ("reserved", 1, None),
        ("constrained", 1, POLICY),
    ):
        for path in consent.work_paths(ids[name]):
            rule: dict[str, object] = {"location": path, "tdm-reservation": reservation}
            if policy:
                rule["tdm-policy"] = policy
            expected.append(rule)
    assert rules == expected

    disallowed = [line for line in robots.splitlines() if line.startswith("Disallow:")]
    assert disallowed == [
        f"Disallow: /works/{ids['reserved']}",
        f"Disallow: /api/v1/works/{ids['reserved']}",
    ]
    for agent in ("GPTBot", "CCBot", "Google-Extended", "ClaudeBot"):
        assert f"User-agent: {agent}\n" in robots
    assert [line for line in ai.splitlines() if line.startswith("Disallow:")] == disallowed
    for secret in (ids["private"], ids["unlisted"]):
        assert secret not in robots and secret not in ai and secret not in json.dumps(rules)
