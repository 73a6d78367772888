"""Drafts of a work made elsewhere (:mod:`hallmark.services.stages`, issue #3 item 7).

Storage tests run on SQLite and PostgreSQL: a text series shows the right diffs per step, image
stages come closer to the final image, refused drafts leave nothing stored, and the certificate
commits to the progression.
"""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from hallmark.core.digests import sha256_hex
from hallmark.errors import ConflictError, InputError, NotFoundError, UnsupportedMediaError
from hallmark.services import stages
from hallmark.services.instance import Instance
from hallmark.services.registry import Evidence, register_work
from hallmark.storage.models import Certificate, LogEntry, User, Work, WorkStage
from tests.conftest import FixedClock, add_user
from tests.services.helpers import GOLDEN_TIME, golden_instance

DRAFT_1 = "The harbour at dusk.\n"
DRAFT_2 = "The harbour at dusk.\nThe gulls come in.\n"
DRAFT_3 = "The grey harbour at dusk.\nThe gulls come in.\n"
FINAL = "The grey harbour at dusk.\nThe gulls come in.\nThe tide keeps its counsel.\n"


def drawing(detail: float, size: int = 256) -> bytes:
    """A PNG of coloured discs: the first ``detail`` share of the final drawing's discs.

    A sketch that gets more detailed, stage by stage, until it is the final image.
    """
    rng = random.Random(0)
    discs = []
    for _ in range(40):
        x, y, r = rng.randrange(size), rng.randrange(size), rng.randrange(10, 60)
        discs.append((x, y, r, tuple(rng.randrange(256) for _ in range(3))))
    image = Image.new("RGB", (size, size), (250, 248, 240))
    pen = ImageDraw.Draw(image)
    for x, y, r, colour in discs[: round(len(discs) * detail)]:
        pen.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(20, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def corrupt_png() -> bytes:
    data = bytearray(drawing(1.0, size=64))
    data[60:70] = b"\xff" * 10  # inside the compressed pixel data
    return bytes(data)


def counts(inst: Instance) -> dict[str, int]:
    """Rows and blobs: what a refused request must leave as it found them."""
    with inst.db.session() as session:
        found = {
            table.__tablename__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Work, WorkStage, Certificate, LogEntry)
        }
    found["blobs"] = sum(1 for p in Path(inst.settings.blob_path).rglob("*") if p.is_file())
    return found


def user(inst: Instance, user_id: str) -> User:
    with inst.db.session() as session:
        found = session.get(User, user_id)
    assert found is not None
    return found


@pytest.fixture
def clocked(any_instance: Instance, fixed_clock: FixedClock) -> Instance:
    any_instance.clock = fixed_clock
    return any_instance


def add_drafts(
    inst: Instance, series: str, creator: str, *drafts: bytes
) -> list[dict[str, object]]:
    """Add drafts one day apart, so each has its own arrival date."""
    added = []
    for data in drafts:
        added.append(stages.add_stage(inst, series, creator, data, "draft.txt"))
        inst.clock.now += timedelta(days=1)  # type: ignore[attr-defined]
    return added


def register(inst: Instance, creator: str, data: bytes, **kw: Any) -> str:
    registration = stages.register_with_stages(
        inst, creator_id=creator, data=data, title="Harbour", declare="human-made", **kw
    )
    return registration.work_id


# A text series ---------------------------------------------------------------------------------


def test_text_series_progression(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    added = add_drafts(clocked, series, alice, *(d.encode() for d in (DRAFT_1, DRAFT_2, DRAFT_3)))
    assert [a["position"] for a in added] == [1, 2, 3]
    assert [a["arrived_at"] for a in added] == [
        "2026-11-28T12:00:00Z",
        "2026-11-29T12:00:00Z",
        "2026-11-30T12:00:00Z",
    ]
    work_id = register(clocked, alice, FINAL.encode(), series_id=series)

    seen = stages.progression(clocked, work_id, user(clocked, alice))
    assert seen["count"] == 3 and seen["kind"] == "text" and seen["drafts_visible"] is True
    assert seen["final"]["arrived_at"] == "2026-12-01T12:00:00Z"
    assert [s["sha256"] for s in seen["stages"]] == [a["sha256"] for a in added]
    steps = {(s["from"], s["to"]): s for s in seen["steps"]}
    assert list(steps) == [("stage 1", "stage 2"), ("stage 2", "stage 3"), ("stage 3", "final")]

    added_line = steps["stage 1", "stage 2"]
    assert (added_line["lines_added"], added_line["lines_removed"]) == (1, 0)
    assert (added_line["chars_added"], added_line["chars_removed"]) == (
        len("The gulls come in.\n"),
        0,
    )
    assert added_line["similarity"] == round(2 * len(DRAFT_1) / (len(DRAFT_1) + len(DRAFT_2)), 4)
    assert "+The gulls come in.\n" in added_line["diff"]
    assert added_line["diff"].startswith("--- stage 1\n+++ stage 2\n")

    # One word inserted into a line: the line is replaced, but only the word counts as added.
    word = steps["stage 2", "stage 3"]
    assert (word["lines_added"], word["lines_removed"]) == (1, 1)
    assert (word["chars_added"], word["chars_removed"]) == (len("grey "), 0)
    assert "-The harbour at dusk.\n+The grey harbour at dusk.\n" in word["diff"]

    last = steps["stage 3", "final"]
    assert (last["lines_added"], last["chars_added"]) == (1, len("The tide keeps its counsel.\n"))


def test_others_see_figures_but_not_the_drafts(clocked: Instance) -> None:
    alice, bruno = add_user(clocked, "alice"), add_user(clocked, "bruno")
    root = add_user(clocked, "root", role="admin")
    series = stages.start_series(clocked, alice)
    stages.add_stage(clocked, series, alice, DRAFT_1.encode(), note="first go")
    work_id = register(clocked, alice, FINAL.encode(), series_id=series)

    for viewer in (None, user(clocked, bruno)):
        seen = stages.progression(clocked, work_id, viewer)
        assert seen["drafts_visible"] is False
        assert seen["stages"][0]["note"] is None
        assert seen["steps"][0]["diff"] is None and seen["steps"][0]["lines_added"] == 3
        with pytest.raises(NotFoundError):
            stages.stage_file(clocked, work_id, 1, viewer)
    admin_view = stages.progression(clocked, work_id, user(clocked, root))
    assert admin_view["stages"][0]["note"] == "first go" and admin_view["steps"][0]["diff"]
    row, blob = stages.stage_file(clocked, work_id, 1, user(clocked, alice))
    assert blob.read_all() == DRAFT_1.encode() and row.position == 1


def test_a_private_work_hides_its_progression(clocked: Instance) -> None:
    alice, bruno = add_user(clocked, "alice"), add_user(clocked, "bruno")
    work_id = register(
        clocked, alice, FINAL.encode(), stages=[stages.StageUpload(b"v1")], visibility="private"
    )
    for viewer in (None, user(clocked, bruno)):
        with pytest.raises(NotFoundError):
            stages.progression(clocked, work_id, viewer)
    assert stages.progression(clocked, work_id, user(clocked, alice))["count"] == 1


# Image stages ----------------------------------------------------------------------------------


def test_image_stages_come_closer_to_the_final(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    for detail in (0.25, 0.6, 0.9):
        stages.add_stage(clocked, series, alice, drawing(detail), "sketch.png")
    work_id = register(clocked, alice, drawing(1.0), series_id=series)

    seen = stages.progression(clocked, work_id, user(clocked, alice))
    distances = [s["distance"] for s in seen["stages"]]
    assert distances == sorted(distances, reverse=True) and len(set(distances)) == 3
    assert 0 < distances[-1] < distances[0] <= seen["distance_bits"] == 64
    assert all((s["width"], s["height"]) == (256, 256) for s in seen["stages"])
    assert (seen["final"]["width"], seen["final"]["height"]) == (256, 256)
    assert seen["steps"] == []


def test_perceptual_distance_of_the_same_image_is_zero() -> None:
    assert stages.perceptual_distance("phash:c3c3c3c33c3c3c3c", "phash:c3c3c3c33c3c3c3c") == 0
    assert stages.perceptual_distance("phash:0000000000000000", "phash:ffffffffffffffff") == 64


# Stages sent with the work ---------------------------------------------------------------------


def test_stages_sent_with_the_work_arrive_with_it_after_the_series(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    add_drafts(clocked, series, alice, DRAFT_1.encode())
    work_id = register(
        clocked,
        alice,
        FINAL.encode(),
        series_id=series,
        stages=[
            stages.StageUpload(DRAFT_2.encode(), "b.txt"),
            stages.StageUpload(DRAFT_3.encode()),
        ],
    )
    seen = stages.progression(clocked, work_id, user(clocked, alice))
    assert [s["position"] for s in seen["stages"]] == [1, 2, 3]
    assert [s["arrived_at"] for s in seen["stages"]] == [
        "2026-11-28T12:00:00Z",
        seen["final"]["arrived_at"],
        seen["final"]["arrived_at"],
    ]
    assert stages.get_series(clocked, series, alice)["work_id"] == work_id


# Refusals: each specific, and nothing stored ---------------------------------------------------


def test_another_creators_series_is_not_found(clocked: Instance) -> None:
    alice, bruno = add_user(clocked, "alice"), add_user(clocked, "bruno")
    empty = stages.start_series(clocked, alice)
    used = stages.start_series(clocked, alice)
    stages.add_stage(clocked, used, alice, DRAFT_1.encode())
    before = counts(clocked)
    for series in (empty, used, "s_0000000000000000-0000000000", "../../etc/passwd"):
        with pytest.raises(NotFoundError, match="There is no series"):
            stages.add_stage(clocked, series, bruno, DRAFT_2.encode())
        with pytest.raises(NotFoundError):
            stages.get_series(clocked, series, bruno)
        with pytest.raises(NotFoundError):
            register(clocked, bruno, FINAL.encode(), series_id=series)
    assert counts(clocked) == before
    assert stages.get_series(clocked, empty, alice)["stages"] == []


def test_kinds_do_not_mix(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    stages.add_stage(clocked, series, alice, DRAFT_1.encode())
    before = counts(clocked)
    with pytest.raises(InputError, match="The file is an image, but the series holds text drafts"):
        stages.add_stage(clocked, series, alice, drawing(0.5))
    with pytest.raises(InputError, match="Stage 2 is text, but the first stage holds image drafts"):
        register(
            clocked,
            alice,
            drawing(1.0),
            stages=[stages.StageUpload(drawing(0.5)), stages.StageUpload(b"words")],
        )
    with pytest.raises(InputError, match="The work is an image, but its stages are text drafts"):
        register(clocked, alice, drawing(1.0), series_id=series)
    assert counts(clocked) == before


def test_a_registered_series_is_closed(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    stages.add_stage(clocked, series, alice, DRAFT_1.encode())
    work_id = register(clocked, alice, FINAL.encode(), series_id=series)
    before = counts(clocked)
    with pytest.raises(ConflictError, match=f"already belongs to the registered work '{work_id}'"):
        stages.add_stage(clocked, series, alice, DRAFT_2.encode())
    with pytest.raises(ConflictError, match="already belongs"):
        register(clocked, alice, b"Another poem entirely.\n", series_id=series)
    assert counts(clocked) == before


def test_a_corrupt_stage_refuses_the_whole_registration(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    before = counts(clocked)
    with pytest.raises(InputError, match=r"Stage 2 \(broken.png\): The image is corrupt"):
        stages.register_with_stages(
            clocked,
            creator_id=alice,
            data=drawing(1.0),
            title="Discs",
            declare="human-made",
            stages=[
                stages.StageUpload(drawing(0.5), "fine.png"),
                stages.StageUpload(corrupt_png(), "broken.png"),
            ],
        )
    with pytest.raises(UnsupportedMediaError, match="Stage 1"):
        register(clocked, alice, FINAL.encode(), stages=[stages.StageUpload(b"%PDF-1.7 ...")])
    assert counts(clocked) == before


def test_an_empty_series_cannot_be_registered(instance: Instance) -> None:
    alice = add_user(instance, "alice")
    series = stages.start_series(instance, alice)
    with pytest.raises(InputError, match="no stages yet"):
        register(instance, alice, FINAL.encode(), series_id=series)
    assert counts(instance)["works"] == 0


def test_at_most_fifty_stages(instance: Instance) -> None:
    alice = add_user(instance, "alice")
    series = stages.start_series(instance, alice)
    for n in range(stages.MAX_STAGES):
        stages.add_stage(instance, series, alice, f"draft {n}\n".encode())
    with pytest.raises(InputError, match="at most 50 stages; this would make 51"):
        stages.add_stage(instance, series, alice, b"one more\n")
    with pytest.raises(InputError, match="this would make 51"):
        register(
            instance, alice, FINAL.encode(), series_id=series, stages=[stages.StageUpload(b"x")]
        )
    assert counts(instance)["work_stages"] == stages.MAX_STAGES


def test_a_long_note_is_refused(instance: Instance) -> None:
    alice = add_user(instance, "alice")
    series = stages.start_series(instance, alice)
    with pytest.raises(InputError, match="note is longer than 500"):
        stages.add_stage(instance, series, alice, b"draft", note="n" * 501)
    assert counts(instance)["blobs"] == 0


def test_a_series_that_moves_during_registration_is_refused_and_keeps_its_blobs(
    clocked: Instance,
) -> None:
    """A stage added between planning and the write lock: the certificate would not commit to
    it, so the registration is refused; the stage's blob (the same bytes as the final) stays."""
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    stages.add_stage(clocked, series, alice, DRAFT_1.encode())
    plan = stages.plan_stages(clocked, creator_id=alice, series_id=series)
    assert plan is not None
    stages.add_stage(clocked, series, alice, FINAL.encode())
    before = counts(clocked)
    evidence = Evidence(items=[plan.evidence_item], attach=stages.attach_series(clocked, plan))
    with pytest.raises(ConflictError, match="changed while the work was being registered"):
        register_work(
            clocked,
            creator_id=alice,
            data=FINAL.encode(),
            title="Harbour",
            declare="human-made",
            evidence=evidence,
        )
    assert counts(clocked) == before
    assert stages.get_series(clocked, series, alice)["work_id"] is None


# The certificate commits to the progression ----------------------------------------------------


def _certificate(inst: Instance, work_id: str) -> dict[str, object]:
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None and work.certificate is not None
        body: dict[str, object] = json.loads(work.certificate.body)
    return body


def _golden_registration(home: Path, drafts: list[bytes]) -> tuple[dict[str, object], str]:
    inst = golden_instance(home)
    try:
        alice = add_user(inst, "alice")
        work_id = register(
            inst, alice, FINAL.encode(), stages=[stages.StageUpload(d) for d in drafts]
        )
        return _certificate(inst, work_id), work_id
    finally:
        inst.close()


def test_the_certificate_commits_to_the_stages(tmp_path: Path) -> None:
    body, _ = _golden_registration(tmp_path / "a", [DRAFT_1.encode(), DRAFT_2.encode()])
    items = [e for e in body["evidence"] if e["kind"] == "stages"]  # type: ignore[attr-defined]
    assert items == [
        stages.stages_evidence(
            [
                (sha256_hex(DRAFT_1.encode()), GOLDEN_TIME),
                (sha256_hex(DRAFT_2.encode()), GOLDEN_TIME),
            ]
        )
    ]
    assert items[0]["count"] == 2

    changed, _ = _golden_registration(tmp_path / "b", [DRAFT_1.encode(), DRAFT_3.encode()])
    other = [e for e in changed["evidence"] if e["kind"] == "stages"]  # type: ignore[attr-defined]
    assert other[0]["sha256"] != items[0]["sha256"]
    assert changed != body


def test_the_evidence_item_changes_with_any_stage_or_date() -> None:
    base = [("a" * 64, GOLDEN_TIME), ("b" * 64, GOLDEN_TIME)]
    item = stages.stages_evidence(base)
    assert stages.stages_evidence(list(reversed(base)))["sha256"] != item["sha256"]
    later = [base[0], ("b" * 64, GOLDEN_TIME + timedelta(seconds=1))]
    assert stages.stages_evidence(later)["sha256"] != item["sha256"]
    assert stages.stages_evidence(base[:1])["count"] == 1


def test_the_progression_republishes_the_certificates_item(clocked: Instance) -> None:
    alice = add_user(clocked, "alice")
    series = stages.start_series(clocked, alice)
    add_drafts(clocked, series, alice, DRAFT_1.encode(), DRAFT_2.encode())
    work_id = register(clocked, alice, FINAL.encode(), series_id=series)
    body = _certificate(clocked, work_id)
    item = next(e for e in body["evidence"] if e["kind"] == "stages")  # type: ignore[attr-defined]
    assert stages.progression(clocked, work_id, None)["evidence"] == item


# compare_texts ---------------------------------------------------------------------------------


def test_identical_texts_have_no_change() -> None:
    change = stages.compare_texts(FINAL, FINAL, from_name="a", to_name="b")
    assert (change.lines_added, change.lines_removed, change.chars_added, change.chars_removed) == (
        0,
        0,
        0,
        0,
    )
    assert change.similarity == 1.0 and change.diff == ""


def test_a_missing_final_line_break_is_marked_as_diff_does() -> None:
    change = stages.compare_texts("end\n", "end", from_name="a", to_name="b")
    assert change.diff.endswith("+end\n\\ No newline at end of file\n")
    assert (change.chars_added, change.chars_removed) == (0, 1)


def test_a_long_diff_is_cut() -> None:
    before = "".join(f"line {n}\n" for n in range(40_000))
    change = stages.compare_texts(before, "", from_name="a", to_name="b")
    assert change.diff_truncated and len(change.diff) <= stages.MAX_DIFF_CHARS
    assert change.lines_removed == 40_000 and change.similarity == 0.0


@given(st.text(alphabet="ab \n", max_size=60), st.text(alphabet="ab \n", max_size=60))
def test_changes_account_for_the_length_difference(before: str, after: str) -> None:
    change = stages.compare_texts(before, after, from_name="a", to_name="b")
    assert change.chars_added - change.chars_removed == len(after) - len(before)
    assert 0.0 <= change.similarity <= 1.0
    assert (change.similarity == 1.0) == (before == after)
