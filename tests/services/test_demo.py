"""Demo data: it covers every label and visibility, verifies, and seeding twice adds nothing."""

from __future__ import annotations

import io
from collections import Counter

from PIL import Image
from sqlalchemy import func, select

from hallmark.core.verify import verify_bundle
from hallmark.services import accounts, demo
from hallmark.services.instance import Instance
from hallmark.services.registry import build_bundle
from hallmark.storage.models import LogEntry, User, Work


def test_seed_demo_covers_labels_visibilities_kinds_and_a_revocation(instance: Instance) -> None:
    assert not demo.has_works(instance)
    assert demo.seed_demo(instance) == len(demo.demo_works())
    assert demo.has_works(instance)
    with instance.db.session() as session:
        works = list(session.scalars(select(Work)))
        assert {w.label for w in works} == {"human-made", "ai-assisted", "ai-generated"}
        assert {w.visibility for w in works} == {"public", "unlisted", "private"}
        assert {w.kind for w in works} == {"text", "image"}
        revoked = [w for w in works if w.certificate and w.certificate.revocation]
        assert [w.title for w in revoked] == ["First Draft of Spring"]
        handles = {u.handle for u in session.scalars(select(User))}
        assert handles == {demo.DEMO_LOGIN, *demo.OTHER_CREATORS}


def test_seed_demo_is_idempotent(instance: Instance) -> None:
    first = demo.seed_demo(instance)
    with instance.db.session() as session:
        entries = session.scalar(select(func.count()).select_from(LogEntry))
    assert demo.seed_demo(instance) == 0
    with instance.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Work)) == first
        assert session.scalar(select(func.count()).select_from(LogEntry)) == entries
        # One entry per work, plus the one revocation.
        assert entries == first + 1


def test_the_demo_login_works(instance: Instance) -> None:
    demo.seed_demo(instance)
    user = accounts.authenticate(instance, demo.DEMO_LOGIN, demo.DEMO_PASSWORD)
    assert user.role == "creator"


def test_every_demo_work_verifies_and_the_revoked_one_says_so(instance: Instance) -> None:
    demo.seed_demo(instance)
    content = {w.title: w.data for w in demo.demo_works()}
    reasons: Counter[str] = Counter()
    with instance.db.session() as session:
        for work in session.scalars(select(Work)):
            assert work.certificate is not None
            bundle = build_bundle(session, work.certificate)
            result = verify_bundle(content[work.title], bundle, instance.verifier)
            reasons[result.reason] += 1
            assert result.matched == "sha256"
    assert reasons == Counter({"valid": len(content) - 1, "revoked": 1})


def test_demo_images_are_real_deterministic_pngs() -> None:
    for draw in (demo.draw_harbour_lights, demo.draw_quiet_grid, demo.draw_dune_study):
        data = draw()
        assert data == draw()
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.width >= 300
