"""Analysis of registered works: the background job, the stored findings, the policy applied.

Issue #4, items 1 and 4 (DESIGN.md, flow 1 "Register": "analyze ... decide the label and level
the evidence supports"). Registration never waits for analysis: the web faces call
:func:`enqueue` after a work is registered, which records an :class:`Analysis` row as
``queued`` and hands the job to a runner. The job moves the row to ``running`` and then
``done`` or ``failed``; the work page shows that status. :func:`analyze_now` runs the same job
in the caller's thread (tests, the CLI).

Runners (issue #9, item 1): with ``broker_url`` set, jobs go to Celery workers
(:mod:`hallmark.workers`); without it, to an in-process runner (one worker thread per instance,
so jobs run one at a time in the order they came). Both claim the row, hold it with a lease
and give it back or take it up again by the same rules (:mod:`hallmark.services.jobs`), so a
job runs once however many processes see it, and a job whose process died runs again.

What the job does with the policy's proposal (:mod:`hallmark.analysis.policy`):

- raise: the certificate is reissued at ``analyzed`` with the findings digest as evidence
  (:func:`hallmark.services.registry.reissue_certificate`), in the same transaction that
  marks the analysis done;
- review: the work goes to the review queue (``review_status`` "pending") with the reasons;
- keep: nothing changes but the stored findings.
"""

from __future__ import annotations

import functools
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
from hallmark.errors import NotFoundError, UnavailableError
from hallmark.services import jobs, registry, similarity
from hallmark.services.instance import Instance
from hallmark.storage.models import Analysis, Certificate, User, Work
from hallmark.storage.spool import stored_content

logger = logging.getLogger(__name__)

#: Reviews decide once a person has looked; later analysis never reopens them.
_SETTLED = ("approved", "rejected", "appealed")
#: Longest wait, in seconds, before the in-process runner retries a job after a transient error.
MAX_BACKOFF = 60.0


class _Jobs:
    """One instance's in-process runner: a single worker thread, timers for jobs that must
    wait (held by another process, or failed for a moment), and a periodic sweep."""

    def __init__(self, inst: Instance) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallmark-analysis")
        self.futures: set[Future[None]] = set()
        self.timers: set[threading.Timer] = set()
        self.retries: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.worker = jobs.worker_name("web")
        # The sweep holds the instance weakly, so the runner still stops when it is dropped.
        self.sweeper = threading.Thread(
            target=_sweep_every,
            args=(weakref.ref(inst), self, inst.settings.job_lease_seconds / 2),
            name="hallmark-analysis-sweep",
            daemon=True,
        )
        self.sweeper.start()

    def submit(self, inst: Instance, analysis_id: str, delay: float = 0.0) -> None:
        if delay > 0:
            timer = threading.Timer(delay, self._due, args=(weakref.ref(inst), analysis_id))
            timer.daemon = True
            with self.lock:
                self.timers.add(timer)
            timer.start()
            return
        try:
            future = self.executor.submit(_run_here, inst, self, analysis_id)
        except RuntimeError:
            # Shut down: the job stays in the database for the next start.
            return
        with self.lock:
            self.futures.add(future)
        future.add_done_callback(self._forget)

    def _due(self, ref: weakref.ref[Instance], analysis_id: str) -> None:
        with self.lock:
            self.timers = {timer for timer in self.timers if timer.is_alive()}
        inst = ref()
        if inst is not None and not self.stopped.is_set():
            self.submit(inst, analysis_id)

    def _forget(self, future: Future[None]) -> None:
        with self.lock:
            self.futures.discard(future)

    def stop(self) -> None:
        self.stopped.set()
        with self.lock:
            timers = list(self.timers)
        for timer in timers:
            timer.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)


_jobs: dict[int, _Jobs] = {}
_jobs_lock = threading.Lock()
_detectors: dict[int, DetectorSet] = {}


def _jobs_for(inst: Instance) -> _Jobs:
    # Instances are plain (unhashable) dataclasses, so the runner is kept by identity and
    # dropped, its thread stopped, when the instance is garbage-collected.
    with _jobs_lock:
        runner = _jobs.get(id(inst))
        if runner is None:
            runner = _jobs[id(inst)] = _Jobs(inst)
            weakref.finalize(inst, _drop, id(inst))
        return runner


def _drop(key: int) -> None:
    with _jobs_lock:
        runner = _jobs.pop(key, None)
    if runner is not None:
        runner.stop()


def _forget_detectors(key: int) -> None:
    with _jobs_lock:
        _detectors.pop(key, None)


def detectors_for(inst: Instance) -> DetectorSet:
    """The instance's detectors, built on first use (building may load models)."""
    with _jobs_lock:
        found = _detectors.get(id(inst))
        if found is None:
            found = _detectors[id(inst)] = DetectorSet(inst.settings.detectors, inst.settings)
            weakref.finalize(inst, _forget_detectors, id(inst))
        return found


def _sweep_every(ref: weakref.ref[Instance], runner: _Jobs, interval: float) -> None:
    while not runner.stopped.wait(interval):
        inst = ref()
        if inst is None:
            return
        try:
            jobs.sweep(inst, functools.partial(runner.submit, inst))
        except Exception as exc:
            logger.warning("the sweep of unfinished analyses failed: %s", exc)
        del inst


def _new_row(inst: Instance, work_id: str) -> str:
    # Writes take the writer session (on SQLite, BEGIN IMMEDIATE), so a job thread and a web
    # request never fail upgrading a read transaction to a write one.
    with inst.db.log_writer() as session:
        if session.get(Work, work_id) is None:
            raise NotFoundError(f"There is no work '{work_id[:40]}'.")
        return jobs.queue(inst, session, work_id)


def enqueue(inst: Instance, work_id: str) -> str:
    """Queue analysis of a registered work and return at once with the analysis id.

    (The web's registrations queue theirs in the registration's own transaction instead, with
    ``register_work(..., analyse=True)``, then :func:`dispatch` it.)

    With a broker that cannot be reached, the job stays queued in the database and the sweep
    sends it once the broker is back: registration does not fail for it.
    """
    analysis_id = _new_row(inst, work_id)
    dispatch(inst, analysis_id)
    return analysis_id


def dispatch_registered(inst: Instance, registration: registry.Registration) -> str:
    """Hand on the analysis queued with ``registration`` (``register_work(..., analyse=True)``)."""
    if registration.analysis_id is None:
        raise ValueError("this registration queued no analysis: pass analyse=True")
    dispatch(inst, registration.analysis_id)
    return registration.analysis_id


def dispatch(inst: Instance, analysis_id: str, delay: float = 0.0) -> None:
    """Hand a queued job to the instance's runner: Celery workers, or the in-process thread."""
    if inst.settings.broker_url:
        from hallmark.workers.celery_app import send_analysis

        try:
            send_analysis(inst.settings, analysis_id, countdown=delay)
        except UnavailableError as exc:
            logger.warning("analysis %s stays queued for the sweep: %s", analysis_id, exc.detail)
        return
    _jobs_for(inst).submit(inst, analysis_id, delay)


def resume_unfinished(inst: Instance) -> int:
    """Send again the analyses a previous process left queued or running; return how many.

    A process that dies mid-job leaves its row unfinished; the next start picks it up, so no
    registered work stays unanalysed. With Celery workers, the jobs whose lease ran out are
    sent to them again (the workers also sweep on their own). In-process, every unfinished job
    is handed to this process's thread: the claim runs it at once when no one holds it, else
    once the holder's lease runs out, unless the holder finishes it first.
    """
    if inst.settings.broker_url:
        return sweep_to_broker(inst)
    ids = jobs.unfinished_ids(inst)
    if not ids:
        # Building the runner starts its threads: only when needed.
        return 0
    runner = _jobs_for(inst)
    for analysis_id in ids:
        runner.submit(inst, analysis_id)
    return len(ids)


def sweep_to_broker(inst: Instance) -> int:
    """One sweep whose lost jobs go to the Celery workers; how many were sent."""
    from hallmark.workers.celery_app import send_analysis

    try:
        return jobs.sweep(inst, lambda analysis_id: send_analysis(inst.settings, analysis_id))
    except UnavailableError as exc:
        logger.warning("the sweep could not reach the broker: %s", exc.detail)
        return 0


def shutdown(inst: Instance) -> None:
    """Stop the instance's worker thread; queued jobs stay queued for the next start."""
    _drop(id(inst))


def wait_idle(inst: Instance, timeout: float = 60.0) -> None:
    """Block until every job the in-process runner has started has finished (tests, orderly
    shutdown); jobs waiting on a timer are not waited for."""
    runner = _jobs_for(inst)
    with runner.lock:
        pending = set(runner.futures)
    wait(pending, timeout=timeout)


def analyze_now(inst: Instance, work_id: str) -> dict[str, Any]:
    """Analyse a work in this thread; return the analysis record as JSON."""
    analysis_id = _new_row(inst, work_id)
    try:
        run_job(inst, analysis_id, jobs.worker_name("cli"))
    except Exception:
        logger.exception("analysis %s failed", analysis_id)
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        return analysis_json(row)


def _run_here(inst: Instance, runner: _Jobs, analysis_id: str) -> None:
    """The in-process runner's job: retried later when held elsewhere or failed for now."""
    try:
        retry_in = run_job(inst, analysis_id, runner.worker)
    except Exception as exc:
        if not jobs.is_transient(exc):
            logger.exception("analysis %s failed", analysis_id)
            return
        tries = runner.retries[analysis_id] = runner.retries.get(analysis_id, 0) + 1
        delay = min(MAX_BACKOFF, 2.0**tries)
        logger.warning("analysis %s: %s; trying again in %.0f s", analysis_id, exc, delay)
        runner.submit(inst, analysis_id, delay)
        return
    runner.retries.pop(analysis_id, None)
    if retry_in is not None:
        runner.submit(inst, analysis_id, retry_in + 0.5)


def run_job(inst: Instance, analysis_id: str, worker: str) -> float | None:
    """Claim the job for ``worker`` and run it.

    Returns None when the job is finished (by this call or before it), or the seconds to wait
    before trying again when another worker holds it. A transient error (the database or the
    blob store down for now) gives the job back and is raised for the caller to retry later;
    any other error marks the job failed and is raised.
    """
    taken = jobs.claim(inst, analysis_id, worker)
    if isinstance(taken, jobs.Busy):
        return taken.retry_in
    if taken is None:
        return None
    with jobs.heartbeat(inst, taken):
        try:
            _run(inst, taken)
        except jobs.ClaimLost:
            logger.warning("analysis %s was taken over by another worker", analysis_id)
        except Exception as exc:
            if jobs.is_transient(exc):
                jobs.release(inst, taken)
            else:
                jobs.fail(inst, taken, exc)
            raise
    return None


def _run(inst: Instance, claim: jobs.Claim) -> None:
    with inst.db.session() as session:
        row = session.get(Analysis, claim.analysis_id)
        assert row is not None
        work = session.get(Work, row.work_id)
        assert work is not None
        work_id, kind, media_type, label = work.id, work.kind, work.media_type, work.label
        blob_key = work.blob_key
    # An image is spooled, not read whole; a text is decoded whole anyway, and texts are small.
    with stored_content(inst.blobs, blob_key) as content:
        work_input = WorkInput(
            kind=kind,
            media_type=media_type,
            data=content.stream(),
            declared=OriginLabel(label),
            text=content.read().decode("utf-8", errors="replace") if kind == "text" else None,
        )
        findings = detectors_for(inst).run(work_input)
    prior_art = _prior_art(inst, work_id)
    _apply(inst, claim, findings, prior_art)


def _prior_art(inst: Instance, work_id: str) -> Finding | None:
    """The prior-art check (issue #5); like a detector, one that fails decides nothing, unless
    it failed only because a service was down for a moment: then the whole job is retried."""
    try:
        return similarity.check_work(inst, work_id)
    except Exception as exc:
        if jobs.is_transient(exc):
            raise
        logger.exception("prior-art check of %s failed", work_id)
        return Finding(
            detector=similarity.DETECTOR,
            version="-",
            verdict=Verdict.INCONCLUSIVE,
            explanation=f"The near-copy check could not run ({type(exc).__name__}).",
        )


def _apply(
    inst: Instance, claim: jobs.Claim, findings: list[Finding], prior_art: Finding | None = None
) -> None:
    analysis_id = claim.analysis_id
    stored = findings_json([*findings, *([prior_art] if prior_art else [])])
    digest = findings_sha256(stored)
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        work = session.get(Work, row.work_id)
        assert work is not None
        work_id = work.id
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
        # Checked in the transaction that writes the result: a worker whose lease ran out
        # and whose job another worker took over writes nothing, reissue included.
        row = jobs.check_owned(session, claim)
        work = session.get(Work, row.work_id)
        assert work is not None
        row.status = "done"
        row.findings = stored
        row.findings_sha256 = digest
        row.proposed_label = proposal.label.value
        row.proposed_level = proposal.level.value
        row.finished_at = inst.clock()
        row.lease_until = None
        if proposal.outcome is Outcome.REVIEW and not settled:
            work.review_status = "pending"
            work.review_reasons = [reason.to_json() for reason in proposal.reasons]

    if proposal.outcome is Outcome.RAISE and not settled and not revoked:
        registry.reissue_certificate(
            inst,
            work_id,
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
        # How the job went (issue #9): which attempt runs it, and since when. Which worker
        # runs it is for the operator ('hallmark jobs'), not for every viewer of the work.
        "attempts": row.attempts,
        "started_at": row.started_at.isoformat() if row.started_at else None,
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
