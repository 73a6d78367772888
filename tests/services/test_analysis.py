"""Analysis as a background job, and what the policy's proposal does to a work (issue #4).

The detectors are the small real plugin of ``tests/analysis/keyword_plugin.py``, registered
through the same hook as the built-ins; no language model is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from hallmark.analysis.runner import findings_sha256
from hallmark.errors import InputError
from hallmark.services import analysis, registry
from hallmark.services import log as log_service
from hallmark.services import verify as verify_service
from hallmark.services.instance import Instance
from hallmark.storage.models import Analysis, Certificate, Work
from tests.analysis.keyword_plugin import AI_TEXT, HUMAN_TEXT, SHORT_TEXT, registered
from tests.conftest import add_user


@pytest.fixture
def inst(any_instance: Instance) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(update={"detectors": ["keyword"]})
    with registered():
        yield any_instance
        analysis.wait_idle(any_instance)


def register(inst: Instance, data: bytes, declare: str = "human-made", **kw: Any) -> Any:
    creator = kw.pop("creator_id", None) or add_user(inst, "alice")
    return registry.register_work(
        inst, creator_id=creator, data=data, title="Harbour", declare=declare, **kw
    )


def work_row(inst: Instance, work_id: str) -> Work:
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        session.expunge(work)
        return work


def test_the_job_runs_in_the_background_and_stores_findings_and_their_digest(
    inst: Instance,
) -> None:
    reg = register(inst, HUMAN_TEXT)
    analysis_id = analysis.enqueue(inst, reg.work_id)
    analysis.wait_idle(inst)
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        assert row.status == "done" and row.finished_at is not None
        assert row.findings is not None
        assert [f["detector"] for f in row.findings] == ["keyword"]
        assert row.findings[0]["verdict"] == "consistent"
        assert row.findings_sha256 == findings_sha256(row.findings)
        assert (row.proposed_label, row.proposed_level) == ("human-made", "analyzed")


def test_a_consistent_finding_reissues_the_certificate_at_analyzed(inst: Instance) -> None:
    reg = register(inst, HUMAN_TEXT)
    result = analysis.analyze_now(inst, reg.work_id)
    with inst.db.session() as session:
        work = session.get(Work, reg.work_id)
        assert work is not None and work.level == "analyzed"
        current = work.certificate
        assert current is not None and current.id != reg.certificate_id
        body = json.loads(current.body)
        assert body["level"] == "analyzed"
        [item] = [e for e in body["evidence"] if e["kind"] == "analysis"]
        assert item == {
            "kind": "analysis",
            "sha256": result["findings_sha256"],
            "detectors": ["keyword@1.0"],
        }
        old = session.get(Certificate, reg.certificate_id)
        assert old is not None and old.superseded
        assert old.revocation is not None
        assert old.revocation.reason == f"superseded by {current.id}"
        # The certificate and the revocation are the next two entries of the log.
        assert (current.log_index, old.revocation.log_index) == (
            reg.log_index + 1,
            reg.log_index + 2,
        )
    assert log_service.audit(inst).ok
    old_bundle = json.dumps(reg.bundle).encode()
    checked = verify_service.verify(inst, None, old_bundle)
    assert (checked.valid, checked.reason) == (False, "revoked")
    assert verify_service.verify(inst, HUMAN_TEXT, None).valid


def test_a_contradiction_sends_the_work_to_review_with_reasons_not_to_refusal(
    inst: Instance,
) -> None:
    reg = register(inst, AI_TEXT)
    result = analysis.analyze_now(inst, reg.work_id)
    assert result["status"] == "done" and result["proposed_level"] == "declared"
    work = work_row(inst, reg.work_id)
    assert work.review_status == "pending" and work.level == "declared"
    [reason] = work.review_reasons or []
    assert reason["code"] == "detector:keyword"
    assert "chatbots" in reason["explanation"] and "a person" in reason["explanation"]
    with inst.db.session() as session:
        cert = session.get(Certificate, reg.certificate_id)
        assert cert is not None and not cert.superseded and cert.revocation is None


def test_an_ai_declared_work_is_not_reviewed_for_looking_ai(inst: Instance) -> None:
    reg = register(inst, AI_TEXT, declare="ai-generated")
    analysis.analyze_now(inst, reg.work_id)
    work = work_row(inst, reg.work_id)
    assert work.review_status == "none" and work.level == "analyzed"


def test_inconclusive_only_stays_declared_without_review(inst: Instance) -> None:
    reg = register(inst, SHORT_TEXT)
    result = analysis.analyze_now(inst, reg.work_id)
    assert result["findings"][0]["verdict"] == "inconclusive"
    work = work_row(inst, reg.work_id)
    assert (work.level, work.review_status) == ("declared", "none")
    with inst.db.session() as session:
        assert len(list(session.scalars(select(Certificate)))) == 1


def test_a_failing_detector_is_recorded_as_inconclusive(inst: Instance) -> None:
    inst.settings = inst.settings.model_copy(update={"detectors": ["broken"]})
    reg = register(inst, HUMAN_TEXT)
    result = analysis.analyze_now(inst, reg.work_id)
    assert result["status"] == "done"
    assert result["findings"][0]["verdict"] == "inconclusive"
    assert "could not run" in result["findings"][0]["explanation"]


def test_an_unknown_detector_fails_the_analysis_with_a_clear_error(inst: Instance) -> None:
    inst.settings = inst.settings.model_copy(update={"detectors": ["no-such-detector"]})
    reg = register(inst, HUMAN_TEXT)
    result = analysis.analyze_now(inst, reg.work_id)
    assert result["status"] == "failed"
    assert "no-such-detector" in result["error"]
    assert work_row(inst, reg.work_id).level == "declared"


def test_a_revoked_certificate_is_not_reissued(inst: Instance) -> None:
    reg = register(inst, HUMAN_TEXT)
    registry.revoke(inst, certificate_id=reg.certificate_id, reason="withdrawn", actor=None)
    result = analysis.analyze_now(inst, reg.work_id)
    assert result["status"] == "done"
    assert work_row(inst, reg.work_id).level == "declared"


def test_analyses_left_unfinished_by_a_dead_process_run_at_the_next_start(
    inst: Instance,
) -> None:
    reg = register(inst, HUMAN_TEXT)
    # What a process killed mid-job leaves behind: rows still queued or running.
    with inst.db.session() as session:
        for status in ("queued", "running"):
            session.add(
                Analysis(
                    id=inst.new_id("a"),
                    work_id=reg.work_id,
                    status=status,
                    created_at=inst.clock(),
                )
            )
    assert analysis.resume_unfinished(inst) == 2
    analysis.wait_idle(inst)
    with inst.db.session() as session:
        statuses = list(session.scalars(select(Analysis.status)))
    assert statuses == ["done", "done"]


def test_a_registration_that_asks_for_analysis_queues_it_in_its_own_transaction(
    inst: Instance,
) -> None:
    # What a web process killed between the registration's commit and handing the job on
    # leaves: the work and its queued analysis, together, and nothing running.
    reg = register(inst, HUMAN_TEXT, analyse=True)
    assert reg.analysis_id is not None
    with inst.db.session() as session:
        row = session.get(Analysis, reg.analysis_id)
        assert row is not None and (row.work_id, row.status) == (reg.work_id, "queued")
    # The next start sends it, and the work is analysed.
    assert analysis.resume_unfinished(inst) == 1
    analysis.wait_idle(inst)
    with inst.db.session() as session:
        assert session.get(Analysis, reg.analysis_id).status == "done"  # type: ignore[union-attr]


def test_a_refused_registration_queues_no_analysis(inst: Instance) -> None:
    with pytest.raises(InputError):
        register(inst, b"   ", analyse=True)
    with inst.db.session() as session:
        assert session.scalar(select(Analysis.id)) is None


def test_dispatch_registered_needs_a_queued_analysis(inst: Instance) -> None:
    with pytest.raises(ValueError, match="analyse=True"):
        analysis.dispatch_registered(inst, register(inst, HUMAN_TEXT))
