"""The insight page's aggregates (issue #7, item 4), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import text

from hallmark.services import insights, registry, review
from hallmark.services.instance import Instance
from hallmark.services.registry import Evidence
from hallmark.storage.models import User, Work
from tests.conftest import FixedClock, get_user

START = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)  # a Monday
_texts = count()


@pytest.fixture
def clock(any_instance: Instance) -> FixedClock:
    moving = FixedClock(START)
    any_instance.clock = moving
    return moving


@pytest.fixture
def inst(any_instance: Instance, clock: FixedClock) -> Iterator[Instance]:
    yield any_instance


@pytest.fixture
def alice(inst: Instance) -> User:
    return get_user(inst, "alice")


def register(
    inst: Instance,
    creator: User,
    label: str = "human-made",
    *,
    ai_share: float | None = None,
    visibility: str = "public",
    flagged: bool = False,
) -> str:
    """Register a fresh text (each call a different one); return the work id."""
    n = next(_texts)
    reg = registry.register_work(
        inst,
        creator_id=creator.id,
        data=f"Poem number {n}\nwith its own line {n}.\n".encode(),
        title=f"Poem {n}",
        declare=label,
        ai_share=ai_share,
        visibility=visibility,
        evidence=Evidence(review_reasons=[{"code": "large-paste", "explanation": "Pasted."}])
        if flagged
        else None,
    )
    return reg.work_id


def collect(inst: Instance, today: date | None = None) -> insights.Insights:
    with inst.db.session() as session:
        return insights.collect(session, today=today or insights.today_of(inst.clock()))


def test_an_empty_registry_has_no_figures(inst: Instance) -> None:
    found = collect(inst)
    assert found.empty
    assert (found.works, found.log_size, found.period) == (0, 0, "day")
    for chart in insights.CHARTS:
        assert found.table(chart).rows == ()
    assert found.to_json()["registrations"] == []


def test_only_public_unrevoked_works_count_but_the_log_counts_every_entry(
    inst: Instance, alice: User
) -> None:
    register(inst, alice)
    register(inst, alice, visibility="unlisted")
    register(inst, alice, visibility="private")
    revoked = register(inst, alice)
    with inst.db.session() as session:
        certificate_id = session.get(Work, revoked).certificate.id  # type: ignore[union-attr]
    registry.revoke(inst, certificate_id=certificate_id, reason="withdrawn", actor=None)

    found = collect(inst)
    assert found.works == 1
    assert found.registrations.records() == [
        {
            "period_start": "2026-10-05",
            "human-made": 1,
            "ai-assisted": 0,
            "ai-generated": 0,
            "total": 1,
        }
    ]
    assert found.levels.rows[0] == ("declared", 1, 0, 0, 1)
    # Four certificates and one revocation, whoever may see the works behind them.
    assert found.log.records() == [
        {"period_start": "2026-10-05", "certificates": 4, "revocations": 1, "log_size": 5}
    ]


def test_registrations_are_counted_per_utc_day_with_empty_days_filled(
    inst: Instance, clock: FixedClock, alice: User
) -> None:
    register(inst, alice)
    clock.now = START.replace(hour=23, minute=59)
    register(inst, alice, "ai-generated")
    clock.now = START + timedelta(days=3, hours=1)
    register(inst, alice, "ai-assisted", ai_share=30)
    found = collect(inst)
    assert found.period == "day"
    assert found.registrations.rows == (
        ("2026-10-05", 1, 0, 1, 2),
        ("2026-10-06", 0, 0, 0, 0),
        ("2026-10-07", 0, 0, 0, 0),
        ("2026-10-08", 0, 1, 0, 1),
    )
    assert [row[-1] for row in found.log.rows] == [2, 2, 2, 3]


def test_days_are_utc_whatever_the_database_session_time_zone(
    inst: Instance, clock: FixedClock, alice: User
) -> None:
    clock.now = START.replace(hour=23, minute=30)
    register(inst, alice)
    with inst.db.session() as session:
        if inst.db.dialect == "postgresql":
            # Auckland is 13 hours ahead: read there, 23:30 UTC would fall on the next day.
            session.execute(text("SET LOCAL TIME ZONE 'Pacific/Auckland'"))
        found = insights.collect(session, today=START.date())
    assert found.registrations.rows == (("2026-10-05", 1, 0, 0, 1),)


def test_longer_spans_are_charted_by_week_then_by_month(
    inst: Instance, clock: FixedClock, alice: User
) -> None:
    register(inst, alice)  # Monday 5 October
    clock.now = START + timedelta(days=8)  # Tuesday of the next week
    register(inst, alice)
    weekly = collect(inst, today=START.date() + timedelta(days=40))
    assert weekly.period == "week"
    assert [row[0] for row in weekly.registrations.rows[:3]] == [
        "2026-10-05",
        "2026-10-12",
        "2026-10-19",
    ]
    assert [row[-1] for row in weekly.registrations.rows[:3]] == [1, 1, 0]
    assert len(weekly.registrations.rows) == 6  # to the week of 14 November
    monthly = collect(inst, today=date(2029, 1, 15))
    assert monthly.period == "month"
    assert monthly.registrations.rows[0] == ("2026-10-01", 2, 0, 0, 2)
    assert monthly.registrations.rows[-1][0] == "2029-01-01"
    assert monthly.log.rows[-1][-1] == 2


def test_ai_share_is_binned_by_ten_percent_for_ai_assisted_works_only(
    inst: Instance, alice: User
) -> None:
    for share in (5, 10, 15.5, 99.5):
        register(inst, alice, "ai-assisted", ai_share=share)
    register(inst, alice, "ai-generated")
    register(inst, alice, "human-made")
    register(inst, alice, "ai-assisted", ai_share=50, visibility="private")
    bins = {row[0]: row[2] for row in collect(inst).ai_share.rows}
    assert bins == {0: 1, 10: 2, 20: 0, 30: 0, 40: 0, 50: 0, 60: 0, 70: 0, 80: 0, 90: 1}


def test_levels_and_review_outcomes(inst: Instance, alice: User) -> None:
    rita = get_user(inst, "rita", "reviewer")
    approved = register(inst, alice, flagged=True)
    rejected = register(inst, alice, "ai-assisted", ai_share=20, flagged=True)
    register(inst, alice, flagged=True)
    hidden = register(inst, alice, flagged=True, visibility="private")
    review.decide(inst, approved, rita, decision="approved", reason="Fine.")
    review.decide(inst, rejected, rita, decision="rejected", reason="Show the draft.")
    review.appeal(inst, rejected, alice, message="Here it is.")
    review.decide(inst, hidden, rita, decision="approved", reason="Fine.")

    found = collect(inst)
    assert found.levels.records() == [
        {"level": "declared", "human-made": 1, "ai-assisted": 1, "ai-generated": 0, "total": 2},
        {"level": "analyzed", "human-made": 0, "ai-assisted": 0, "ai-generated": 0, "total": 0},
        {
            "level": "process-verified",
            "human-made": 0,
            "ai-assisted": 0,
            "ai-generated": 0,
            "total": 0,
        },
        {"level": "reviewed", "human-made": 1, "ai-assisted": 0, "ai-generated": 0, "total": 1},
    ]
    # The private work's approval is left out; the appealed work waits again.
    assert found.reviews.rows == (
        ("approved", 1),
        ("rejected", 1),
        ("pending", 1),
        ("appealed", 1),
    )
    # Two approvals reissued certificates: each is a new certificate and a revocation.
    assert found.log.rows[-1][1:] == (6, 2, 8)


def test_the_json_holds_every_table(inst: Instance, alice: User) -> None:
    register(inst, alice, "ai-assisted", ai_share=42)
    found = collect(inst)
    doc = found.to_json()
    assert doc["as_of"] == "2026-10-05" and doc["period"] == "day"
    assert (doc["works"], doc["log_size"]) == (1, 1)
    for chart in insights.CHARTS:
        assert doc[chart.replace("-", "_")] == found.table(chart).records()
    assert doc["reviews"] == []


@pytest.mark.parametrize(
    ("first", "last", "period"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), "day"),
        (date(2026, 1, 1), date(2026, 2, 4), "day"),  # 35 days
        (date(2026, 1, 1), date(2026, 2, 5), "week"),
        (date(2026, 1, 1), date(2028, 1, 2), "week"),  # 732 days
        (date(2026, 1, 1), date(2028, 1, 3), "month"),
    ],
)
def test_the_period_follows_the_span(first: date, last: date, period: str) -> None:
    assert insights.choose_period(first, last) == period


def test_periods_start_on_mondays_and_first_days_and_cross_years() -> None:
    assert insights.periods(date(2026, 12, 30), date(2027, 1, 12), "week") == [
        date(2026, 12, 28),
        date(2027, 1, 4),
        date(2027, 1, 11),
    ]
    assert insights.periods(date(2026, 11, 15), date(2027, 2, 1), "month") == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    assert insights.periods(date(2026, 2, 27), date(2026, 3, 1), "day") == [
        date(2026, 2, 27),
        date(2026, 2, 28),
        date(2026, 3, 1),
    ]


def test_current_figures_are_reused_briefly_then_until_the_log_grows(
    inst: Instance, alice: User
) -> None:
    register(inst, alice)
    first = insights.current(inst)
    assert insights.current(inst, fresh_for=0) is first
    flagged = register(inst, alice, flagged=True)
    assert insights.current(inst) is first  # counted a moment ago
    grown = insights.current(inst, fresh_for=0)
    assert grown.works == 2
    # A rejection leaves the log alone: reused until the figures age.
    rita = get_user(inst, "rita", "reviewer")
    review.decide(inst, flagged, rita, decision="rejected", reason="No.")
    assert insights.current(inst, fresh_for=0) is grown
    recounted = insights.current(inst, fresh_for=0, max_age=0)
    assert dict(recounted.reviews.rows)["rejected"] == 1
