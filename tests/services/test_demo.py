"""Demo data (issue #7, item 5): every label at every level, reviews, a dispute, weeks of
history; it verifies, seeding twice adds nothing, and the insight page has something to draw."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from hallmark.core import journal
from hallmark.core.verify import verify_bundle
from hallmark.services import accounts, demo, insights
from hallmark.services.instance import Instance
from hallmark.services.registry import build_bundle
from hallmark.storage.models import (
    Analysis,
    Appeal,
    Authorship,
    Dispute,
    Draft,
    LogEntry,
    Notification,
    Review,
    SimilarityMatch,
    User,
    Work,
)
from tests.conftest import make_instance

LABELS = ("human-made", "ai-assisted", "ai-generated")
LEVELS = ("declared", "analyzed", "process-verified", "reviewed")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """One demo instance for the tests that only read it (seeding takes a few seconds)."""
    inst = make_instance(tmp_path_factory.mktemp("demo") / "home")
    assert not demo.has_works(inst)
    assert demo.seed_demo(inst, now=NOW) == len(demo.demo_works())
    yield inst
    inst.close()


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_every_label_at_every_level_on_both_databases(any_instance: Instance) -> None:
    demo.seed_demo(any_instance, now=NOW)
    with any_instance.db.session() as session:
        works = list(session.scalars(select(Work)))
        public = {(w.label, w.level) for w in works if w.visibility == "public"}
        assert public == set(product(LABELS, LEVELS))
        assert {w.visibility for w in works} == {"public", "unlisted", "private"}
        assert {w.kind for w in works} == {"text", "image"}
        assert session.scalar(select(func.count()).select_from(Dispute)) == 1


def test_people_have_profiles_and_the_published_password(seeded: Instance) -> None:
    with seeded.db.session() as session:
        people = {u.handle: u for u in session.scalars(select(User))}
    assert set(people) == {demo.DEMO_LOGIN, *demo.OTHER_CREATORS, demo.REVIEWER}
    creators = [u for u in people.values() if u.role == "creator"]
    assert len(creators) >= 4
    assert all(" " in u.display_name for u in people.values())
    assert {u.consent_default for u in creators} == {"allowed", "not-allowed", "constrained"}
    assert accounts.authenticate(seeded, demo.DEMO_LOGIN, demo.DEMO_PASSWORD).role == "creator"
    reviewer = accounts.authenticate(seeded, demo.REVIEWER, demo.DEMO_PASSWORD)
    assert reviewer.role == "reviewer"


def test_the_levels_come_from_the_services_evidence(seeded: Instance) -> None:
    with seeded.db.session() as session:
        works = list(session.scalars(select(Work)))
        by_level: dict[str, list[Work]] = {}
        for work in works:
            by_level.setdefault(work.level, []).append(work)
        for work in by_level["process-verified"]:
            report = session.get(Authorship, work.id)
            assert report is not None and report.public and not report.report["flags"]
        for work in by_level["analyzed"]:
            assert work.kind == "image"
            done = session.scalars(select(Analysis).where(Analysis.work_id == work.id)).one()
            assert done.status == "done" and done.proposed_level == "analyzed"
        for work in by_level["reviewed"]:
            [decision] = session.scalars(select(Review).where(Review.work_id == work.id))
            assert decision.decision == "approved" and decision.reason
            assert session.get(Authorship, work.id) is not None  # flagged by its journal
        muse_only = next(w for w in works if w.title == "Five Small Instructions")
        assert (muse_only.label, muse_only.level) == ("ai-generated", "process-verified")
        assisted = next(w for w in works if w.title == "The Cartographer's Apprentice")
        assert assisted.label == "ai-assisted" and 0 < assisted.ai_share < 100


def test_works_wait_for_review_with_reasons_and_one_was_appealed(seeded: Instance) -> None:
    with seeded.db.session() as session:
        waiting = list(session.scalars(select(Work).where(Work.review_status == "pending")))
        assert len(waiting) >= 2
        assert all(w.review_reasons for w in waiting)
        codes = {r["code"].split(":")[0] for w in waiting for r in w.review_reasons or []}
        assert {"large-paste", "prior-art"} <= codes
        [appealed] = session.scalars(select(Work).where(Work.review_status == "appealed"))
        assert session.scalar(select(Appeal).where(Appeal.work_id == appealed.id)) is not None
        decisions = Counter(session.scalars(select(Review.decision)))
        assert decisions == Counter({"approved": 3, "rejected": 1})


def test_a_near_copy_was_matched_and_disputed_and_both_creators_were_told(
    seeded: Instance,
) -> None:
    with seeded.db.session() as session:
        [match] = session.scalars(select(SimilarityMatch))
        assert match.work.creator_id != match.matched_work.creator_id
        assert match.first_work_id == match.matched_work_id  # the original is first in the log
        [dispute] = session.scalars(select(Dispute))
        assert dispute.match_id == match.id and dispute.status == "open"
        claimant = session.get(User, dispute.claimant_id)
        assert claimant is not None and claimant.handle == demo.DEMO_LOGIN
        copy = session.get(Work, dispute.respondent_work_id)
        assert copy is not None and copy.review_status == "pending"
        kinds = Counter((n.kind, n.user_id) for n in session.scalars(select(Notification)))
        assert kinds[("near-copy", claimant.id)] == 1
        assert kinds[("near-copy", copy.creator_id)] == 1
        assert kinds[("dispute-opened", copy.creator_id)] == 1


def test_registrations_spread_over_weeks_and_the_log_stays_in_time_order(
    seeded: Instance,
) -> None:
    with seeded.db.session() as session:
        created = [aware(w.created_at) for w in session.scalars(select(Work))]
        logged = [
            aware(e.created_at) for e in session.scalars(select(LogEntry).order_by(LogEntry.idx))
        ]
    assert max(created) - min(created) >= timedelta(weeks=5)
    assert len({moment.isocalendar()[:2] for moment in created}) >= 6
    assert max(logged) < NOW
    assert logged == sorted(logged)


def test_the_demo_login_has_an_open_draft(seeded: Instance) -> None:
    with seeded.db.session() as session:
        [draft] = session.scalars(select(Draft).where(Draft.status == "open"))
        assert draft.creator_id == accounts.get_user(session, demo.DEMO_LOGIN).id
        assert draft.text == demo.text_of(demo.OPEN_DRAFT[1])


def test_every_insight_chart_has_numbers(seeded: Instance) -> None:
    with seeded.db.session() as session:
        found = insights.collect(session, today=NOW.date())
    assert found.period == "week"
    for chart in insights.CHARTS:
        assert found.table(chart).rows, chart
    assert found.works == len(demo.demo_works()) - 3  # not the unlisted, private, revoked ones
    assert dict(found.reviews.rows) == {"approved": 3, "rejected": 1, "pending": 2, "appealed": 1}


def test_the_insight_page_draws_every_chart_on_the_demo(seeded: Instance) -> None:
    from hallmark.web.app import create_app
    from tests.web.conftest import HTML, TestClient

    with TestClient(create_app(seeded.settings, instance=seeded)) as client:
        page = client.get("/insights", headers=HTML)
    assert page.status_code == 200
    assert page.text.count('<svg role="img"') == len(insights.CHARTS)
    assert "nothing to show yet" not in page.text
    assert "style=" not in page.text


def test_every_demo_work_verifies_and_the_revoked_one_says_so(seeded: Instance) -> None:
    reasons: Counter[str] = Counter()
    with seeded.db.session() as session:
        for work in session.scalars(select(Work)):
            assert work.certificate is not None
            bundle = build_bundle(session, work.certificate)
            result = verify_bundle(seeded.blobs.get(work.blob_key), bundle, seeded.verifier)
            reasons[result.reason] += 1
            assert result.matched == "sha256"
    assert reasons == Counter({"valid": len(demo.demo_works()) - 1, "revoked": 1})


def test_seeding_again_adds_nothing(tmp_path: Path) -> None:
    inst = make_instance(tmp_path / "home")
    tables = (Work, LogEntry, Review, Appeal, Dispute, Notification, Draft, Analysis, User)

    def counts() -> list[int]:
        with inst.db.session() as session:
            return [session.scalar(select(func.count()).select_from(t)) or 0 for t in tables]

    try:
        demo.seed_demo(inst, now=NOW)
        first = counts()
        assert demo.seed_demo(inst, now=NOW + timedelta(days=2)) == 0
        assert counts() == first
    finally:
        inst.close()


def test_journals_are_deterministic_and_replay_to_their_text() -> None:
    for work in demo.demo_works():
        if not work.parts:
            continue
        events = demo.journal_events(work.parts, seed=work.title)
        assert events == demo.journal_events(work.parts, seed=work.title)
        assert journal.replay(events).text == demo.text_of(work.parts)


def test_demo_images_are_real_deterministic_pngs() -> None:
    draws = (
        demo.draw_harbour_lights,
        demo.draw_quiet_grid,
        demo.draw_dune_study,
        demo.draw_orchard,
        demo.draw_paper_lanterns,
    )
    for draw in draws:
        data = draw()
        assert data == draw()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.width >= 300
