"""Analysis of registered works: the background job, the stored findings, the policy applied.

Issue #4, items 1 and 4 (DESIGN.md, flow 1 "Register": "analyze ... decide the label and level
the evidence supports"). Registration never waits for analysis: the web faces call
:func:`enqueue` after a work is registered, which records an :class:`Analysis` row as
``queued`` and hands the job to an in-process runner (one worker thread per instance, so jobs
run one at a time in the order they came). The job moves the row to ``running`` and then
``done`` or ``failed``; the work page shows that status. :func:`analyze_now` runs the same job
in the caller's thread (tests, the CLI).

What the job does with the policy's proposal (:mod:`hallmark.analysis.policy`):

- raise: the certificate is reissued at ``analyzed`` with the findings digest as evidence
  (:func:`hallmark.services.registry.reissue_certificate`), in the same transaction that
  marks the analysis done;
- review: the work goes to the review queue (``review_status`` "pending") with the reasons;
- keep: nothing changes but the stored findings.
"""

from __future__ import annotations

import logging
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.analysis.base import Finding, Verdict, WorkInput
from hallmark.analysis.policy import Outcome, Proposal, Reason, propose
from hallmark.analysis.runner import DetectorSet, evidence_item, findings_json, findings_sha256
from hallmark.core.labels import AssuranceLevel, OriginLabel
from hallmark.errors import NotFoundError
from hallmark.services import registry, similarity
from hallmark.services.instance import Instance
from hallmark.storage.models import Analysis, Certificate, User, Work

logger = logging.getLogger(__name__)

#: Reviews decide once a person has looked; later analysis never reopens them.
_SETTLED = ("approved", "rejected", "appealed")


class _Jobs:
    """One instance's runner: a single worker thread and the detectors it has built."""

    def __init__(self, inst: Instance) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallmark-analysis")
        self.detectors = DetectorSet(inst.settings.detectors, inst.settings)
        self.futures: set[Future[None]] = set()
        self.lock = threading.Lock()


_jobs: dict[int, _Jobs] = {}
_jobs_lock = threading.Lock()


def _jobs_for(inst: Instance) -> _Jobs:
    # Instances are plain (unhashable) dataclasses, so the runner is kept by identity and
    # dropped, its thread stopped, when the instance is garbage-collected.
    with _jobs_lock:
        jobs = _jobs.get(id(inst))
        if jobs is None:
            jobs = _jobs[id(inst)] = _Jobs(inst)
            weakref.finalize(inst, _drop, id(inst))
        return jobs


def _drop(key: int) -> None:
    with _jobs_lock:
        jobs = _jobs.pop(key, None)
    if jobs is not None:
        jobs.executor.shutdown(wait=False, cancel_futures=True)


def detectors_for(inst: Instance) -> DetectorSet:
    return _jobs_for(inst).detectors


def _new_row(inst: Instance, work_id: str) -> str:
    # Writes take the writer session (on SQLite, BEGIN IMMEDIATE), so a job thread and a web
    # request never fail upgrading a read transaction to a write one.
    with inst.db.log_writer() as session:
        if session.get(Work, work_id) is None:
            raise NotFoundError(f"There is no work '{work_id[:40]}'.")
        row = Analysis(
            id=inst.new_id("a"), work_id=work_id, status="queued", created_at=inst.clock()
        )
        session.add(row)
        return row.id


def enqueue(inst: Instance, work_id: str) -> str:
    """Queue analysis of a registered work and return at once with the analysis id."""
    analysis_id = _new_row(inst, work_id)
    jobs = _jobs_for(inst)
    future = jobs.executor.submit(_run_logged, inst, analysis_id)
    with jobs.lock:
        jobs.futures.add(future)
    future.add_done_callback(lambda done: _forget(jobs, done))
    return analysis_id


def resume_unfinished(inst: Instance) -> int:
    """Queue again every analysis a previous process left queued or running; return how many.

    A process that dies mid-job leaves its row unfinished; the next start picks it up, so no
    registered work stays unanalysed.
    """
    with inst.db.log_writer() as session:
        rows = list(
            session.scalars(select(Analysis).where(Analysis.status.in_(("queued", "running"))))
        )
        for row in rows:
            row.status = "queued"
        ids = [row.id for row in rows]
    if not ids:
        # Building the runner builds the detectors (and may load models): only when needed.
        return 0
    jobs = _jobs_for(inst)
    for analysis_id in ids:
        future = jobs.executor.submit(_run_logged, inst, analysis_id)
        with jobs.lock:
            jobs.futures.add(future)
        future.add_done_callback(lambda done: _forget(jobs, done))
    return len(ids)


def shutdown(inst: Instance) -> None:
    """Stop the instance's worker thread; queued jobs stay queued for the next start."""
    _drop(id(inst))


def _forget(jobs: _Jobs, future: Future[None]) -> None:
    with jobs.lock:
        jobs.futures.discard(future)


def wait_idle(inst: Instance, timeout: float = 60.0) -> None:
    """Block until every queued job of ``inst`` has finished (tests, orderly shutdown)."""
    jobs = _jobs_for(inst)
    with jobs.lock:
        pending = set(jobs.futures)
    wait(pending, timeout=timeout)


def analyze_now(inst: Instance, work_id: str) -> dict[str, Any]:
    """Analyse a work in this thread; return the analysis record as JSON."""
    analysis_id = _new_row(inst, work_id)
    _run_logged(inst, analysis_id)
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        return analysis_json(row)


def _run_logged(inst: Instance, analysis_id: str) -> None:
    try:
        _run(inst, analysis_id)
    except Exception:
        logger.exception("analysis %s failed", analysis_id)


def _run(inst: Instance, analysis_id: str) -> None:
    with inst.db.log_writer() as session:
        row = session.get(Analysis, analysis_id)
        if row is None:
            return
        row.status = "running"
        row_work_id = row.work_id
        work = session.get(Work, row.work_id)
        assert work is not None
        data = inst.blobs.get(work.blob_key)
        work_input = WorkInput(
            kind=work.kind,
            media_type=work.media_type,
            data=data,
            declared=OriginLabel(work.label),
            text=data.decode("utf-8", errors="replace") if work.kind == "text" else None,
        )
    try:
        findings = detectors_for(inst).run(work_input)
        prior_art = _prior_art(inst, row_work_id)
        _apply(inst, analysis_id, findings, prior_art)
    except Exception as exc:
        with inst.db.log_writer() as session:
            failed = session.get(Analysis, analysis_id)
            if failed is not None:
                failed.status = "failed"
                failed.error = f"{type(exc).__name__}: {exc}"[:500]
                failed.finished_at = inst.clock()
        raise


def _prior_art(inst: Instance, work_id: str) -> Finding | None:
    """The prior-art check (issue #5); like a detector, one that fails decides nothing."""
    try:
        return similarity.check_work(inst, work_id)
    except Exception as exc:
        logger.exception("prior-art check of %s failed", work_id)
        return Finding(
            detector=similarity.DETECTOR,
            version="-",
            verdict=Verdict.INCONCLUSIVE,
            explanation=f"The near-copy check could not run ({type(exc).__name__}).",
        )


def _apply(
    inst: Instance, analysis_id: str, findings: list[Finding], prior_art: Finding | None = None
) -> None:
    stored = findings_json([*findings, *([prior_art] if prior_art else [])])
    digest = findings_sha256(stored)
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        work = session.get(Work, row.work_id)
        assert work is not None
        declared = OriginLabel(work.label)
        settled = work.review_status in _SETTLED
        flags = tuple(
            Reason(str(r.get("code", "")), str(r.get("explanation", "")))
            for r in (work.review_reasons or [])
        )
        proposal = propose(
            declared,
            findings,
            current=AssuranceLevel(work.level),
            process_flags=flags if work.review_status == "pending" else (),
            prior_art=similarity.reasons(prior_art),
        )
        revoked = work.certificate is None or work.certificate.revocation is not None

    def record(session: Session, _new: Certificate | None = None) -> None:
        row = session.get(Analysis, analysis_id)
        work = session.get(Work, row.work_id) if row else None
        assert row is not None and work is not None
        row.status = "done"
        row.findings = stored
        row.findings_sha256 = digest
        row.proposed_label = proposal.label.value
        row.proposed_level = proposal.level.value
        row.finished_at = inst.clock()
        if proposal.outcome is Outcome.REVIEW and not settled:
            work.review_status = "pending"
            work.review_reasons = [reason.to_json() for reason in proposal.reasons]

    if proposal.outcome is Outcome.RAISE and not settled and not revoked:
        registry.reissue_certificate(
            inst,
            row.work_id,
            level=proposal.level,
            extra_evidence=[evidence_item(stored)],
            reason=f"analysis {analysis_id}",
            attach=record,
        )
        return
    with inst.db.log_writer() as session:
        record(session)
    _log_proposal(analysis_id, proposal)


def _log_proposal(analysis_id: str, proposal: Proposal) -> None:
    logger.info(
        "analysis %s: %s (%s, level %s)",
        analysis_id,
        proposal.outcome.value,
        proposal.rule,
        proposal.level.value,
    )


# Reading ------------------------------------------------------------------------------------


def latest(session: Session, work_id: str) -> Analysis | None:
    query = (
        select(Analysis)
        .where(Analysis.work_id == work_id)
        .order_by(Analysis.created_at.desc(), Analysis.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def analysis_json(row: Analysis) -> dict[str, Any]:
    return {
        "analysis_id": row.id,
        "work_id": row.work_id,
        "status": row.status,
        "findings": row.findings or [],
        "findings_sha256": row.findings_sha256,
        "proposed_label": row.proposed_label,
        "proposed_level": row.proposed_level,
        "error": row.error,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def for_work(inst: Instance, work_id: str, viewer: User | None) -> dict[str, Any]:
    """The newest analysis of a work the viewer may see, with the work's review status.

    Findings about a person's work are shown to them, to reviewers and admins, and otherwise
    only when the work is public or unlisted (the same rule as the work itself).
    """
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        row = latest(session, work.id)
        return {
            "work_id": work.id,
            "review_status": work.review_status,
            "review_reasons": work.review_reasons or [],
            "analysis": analysis_json(row) if row else None,
        }


def verdict_counts(findings: list[dict[str, Any]]) -> dict[str, int]:
    counts = {verdict.value: 0 for verdict in Verdict}
    for finding in findings:
        counts[str(finding.get("verdict"))] = counts.get(str(finding.get("verdict")), 0) + 1
    return counts
