"""Analysis jobs as rows that workers claim: claims, leases, heartbeats, the sweep, the list.

Issue #9, item 1. An analysis job is its :class:`~hallmark.storage.models.Analysis` row;
whatever runs it (a Celery worker, or the web process's own thread) goes through here, so the
rules are the same everywhere:

- **Claim.** A worker takes a job with one conditional ``UPDATE``: from ``queued``, or from
  ``running`` whose lease has run out, to ``running`` with a new lease, its name and one more
  attempt. The database applies it to one claimant only, so two workers never both run a job;
  a job already ``done`` or ``failed`` cannot be claimed, so a task delivered twice does
  nothing the second time.
- **Lease and heartbeat.** While the job runs, a heartbeat thread renews the lease every third
  of ``job_lease_seconds``. A worker that dies stops renewing; once the lease runs out, the job
  may be claimed again. A worker that finds its claim taken over writes nothing
  (:class:`ClaimLost`): what it found is thrown away, in the same transaction.
- **Sweep.** Every worker (and the web process, when it runs jobs itself) periodically queues
  again the jobs whose lease ran out and sends them once more: a running job whose worker died,
  or a queued job whose message was lost (the broker was down when it was sent). Queued jobs
  are sent again after ever longer waits (their age), so a long queue is not flooded with
  copies; a copy is harmless anyway, as only one claim succeeds.
- **Attempts.** A job claimed ``job_max_attempts`` times without finishing (a file that kills
  the worker every time, say) is marked failed with the reason. A job given back because the
  database or the blob store was down for a moment (:func:`release`) does not count.

Times come from the instance clock; the machines of one instance are expected to keep their
clocks in step (NTP), as leases compare times written by different hosts.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from hallmark.errors import UnavailableError
from hallmark.services.instance import Instance
from hallmark.storage.database import is_unavailable
from hallmark.storage.models import Analysis

logger = logging.getLogger(__name__)

UNFINISHED = ("queued", "running")
FINISHED = ("done", "failed")
#: Rows looked at by one sweep; the next sweep takes the rest.
SWEEP_BATCH = 500


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a job: the attempt number tells this hold from a later one."""

    analysis_id: str
    attempt: int
    worker: str


@dataclass(frozen=True)
class Busy:
    """Another worker holds the job; its lease runs out in ``retry_in`` seconds."""

    retry_in: float


class ClaimLost(Exception):  # a signal between two functions here, not an error
    """The job's lease ran out and another worker claimed it; this worker's result is dropped."""


def worker_name(kind: str) -> str:
    """How a worker is shown in the job list: what it is, its host and its process."""
    return f"{kind}@{socket.gethostname()} pid {os.getpid()}"[:200]


def is_transient(error: BaseException) -> bool:
    """Whether a job failed only because a service it needs is down for now (retry later)."""
    if isinstance(error, UnavailableError):
        return True
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    return is_unavailable(error)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time Hallmark stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _lease(inst: Instance) -> timedelta:
    return timedelta(seconds=inst.settings.job_lease_seconds)


def _expired(now: datetime) -> ColumnElement[bool]:
    return or_(Analysis.lease_until.is_(None), Analysis.lease_until < now)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Analysis.status == "queued", and_(Analysis.status == "running", _expired(now)))


def _owned(claim: Claim) -> ColumnElement[bool]:
    return and_(
        Analysis.id == claim.analysis_id,
        Analysis.status == "running",
        Analysis.attempts == claim.attempt,
    )


def queued_lease(inst: Instance, now: datetime) -> datetime:
    """When the sweep should send a job queued ``now`` again if no worker has taken it."""
    return now + _lease(inst)


def queue(inst: Instance, session: Session, work_id: str) -> str:
    """Add a queued analysis of ``work_id`` to ``session``'s transaction; return its id.

    Queued in the transaction that writes the work, a job exists as soon as the work does: a
    process killed before it hands the job to a runner leaves it queued, and the sweep (or the
    next start) sends it once its lease runs out.
    """
    now = inst.clock()
    row = Analysis(
        id=inst.new_id("a"),
        work_id=work_id,
        status="queued",
        created_at=now,
        attempts=0,
        lease_until=queued_lease(inst, now),
    )
    session.add(row)
    return row.id


def claim(inst: Instance, analysis_id: str, worker: str) -> Claim | Busy | None:
    """Take the job for ``worker``: a :class:`Claim`, :class:`Busy` when another worker holds
    it, or None when there is nothing to do (finished, given up, or gone)."""
    now = inst.clock()
    limit = inst.settings.job_max_attempts
    with inst.db.session() as session:
        taken = session.execute(
            update(Analysis)
            .where(Analysis.id == analysis_id, _claimable(now), Analysis.attempts < limit)
            .values(
                status="running",
                attempts=Analysis.attempts + 1,
                worker=worker[:200],
                started_at=now,
                lease_until=now + _lease(inst),
            )
            .execution_options(synchronize_session=False)
        )
        row = session.get(Analysis, analysis_id, populate_existing=True)
        if row is None:
            return None
        if _rowcount(taken) == 1:
            return Claim(analysis_id, row.attempts, worker)
        if row.status == "running" and row.lease_until is not None:
            left = (_aware(row.lease_until) - now).total_seconds()
            if left > 0:
                return Busy(left)
        if row.status in UNFINISHED and row.attempts >= limit:
            _give_up(session, row, now)
    return None


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _give_up(session: Session, row: Analysis, now: datetime) -> None:
    row.status = "failed"
    row.error = (
        f"Gave up after {row.attempts} attempts: the worker running this job stopped each "
        "time before it finished."
    )
    row.finished_at = now
    row.lease_until = None
    logger.error("analysis %s: %s", row.id, row.error)


def renew(inst: Instance, claim: Claim) -> bool:
    """Extend the claim's lease; False when the claim was lost (the job is someone else's)."""
    now = inst.clock()
    with inst.db.session() as session:
        result = session.execute(
            update(Analysis)
            .where(_owned(claim))
            .values(lease_until=now + _lease(inst))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1


@contextmanager
def heartbeat(inst: Instance, claim: Claim) -> Iterator[None]:
    """Renew the claim's lease every third of ``job_lease_seconds`` while the block runs."""
    interval = inst.settings.job_lease_seconds / 3
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                # The job may end while the last renewal runs: that is not a lost claim.
                if not renew(inst, claim) and not stop.is_set():
                    logger.warning("analysis %s: claim lost to another worker", claim.analysis_id)
                    return
            except Exception as exc:
                # The database may be back before the lease runs out; keep trying.
                logger.warning("analysis %s: heartbeat failed: %s", claim.analysis_id, exc)

    thread = threading.Thread(
        target=beat, name=f"hallmark-heartbeat-{claim.analysis_id}", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval)


def check_owned(session: Session, claim: Claim) -> Analysis:
    """The job's row, in the transaction that writes its result; :class:`ClaimLost` when the
    claim is no longer this worker's (so the transaction rolls back)."""
    row = session.get(Analysis, claim.analysis_id, populate_existing=True)
    if row is None or row.status != "running" or row.attempts != claim.attempt:
        raise ClaimLost(claim.analysis_id)
    return row


def release(inst: Instance, claim: Claim) -> None:
    """Give a job back to the queue after a transient failure; best effort, as the database
    may be the service that is down (then the lease runs out and the sweep takes it)."""
    now = inst.clock()
    try:
        with inst.db.session() as session:
            session.execute(
                update(Analysis)
                .where(_owned(claim))
                .values(
                    status="queued",
                    attempts=Analysis.attempts - 1,
                    lease_until=queued_lease(inst, now),
                )
                .execution_options(synchronize_session=False)
            )
    except Exception as exc:
        logger.warning("analysis %s: could not give the job back: %s", claim.analysis_id, exc)


def fail(inst: Instance, claim: Claim, error: BaseException) -> None:
    """Record that the job failed for good (not a transient error)."""
    with inst.db.session() as session:
        session.execute(
            update(Analysis)
            .where(_owned(claim))
            .values(
                status="failed",
                error=f"{type(error).__name__}: {error}"[:500],
                finished_at=inst.clock(),
                lease_until=None,
            )
            .execution_options(synchronize_session=False)
        )


def sweep(inst: Instance, send: Callable[[str], None]) -> int:
    """Queue again the unfinished jobs whose lease ran out, hand each to ``send``; how many.

    Each row is taken with a conditional update, so sweeps running at once in several
    processes send each job once. When ``send`` fails (the broker is down), the rest wait for
    the next sweep.
    """
    now = inst.clock()
    with inst.db.session() as session:
        due = list(
            session.execute(
                select(Analysis.id, Analysis.status, Analysis.created_at)
                .where(Analysis.status.in_(UNFINISHED), _expired(now))
                .order_by(Analysis.created_at, Analysis.id)
                .limit(SWEEP_BATCH)
            )
        )
    sent = 0
    for analysis_id, status, created_at in due:
        # A queued job is sent again after a wait as long as its age: a backlog that takes
        # an hour to work through gets a handful of copies, not one a minute.
        wait = _lease(inst)
        if status == "queued":
            wait = max(wait, now - _aware(created_at))
        with inst.db.session() as session:
            taken = session.execute(
                update(Analysis)
                .where(
                    Analysis.id == analysis_id,
                    Analysis.status.in_(UNFINISHED),
                    _expired(now),
                )
                .values(status="queued", lease_until=now + wait)
                .execution_options(synchronize_session=False)
            )
        if _rowcount(taken) != 1:
            continue
        if status == "running":
            logger.warning("analysis %s: its worker stopped; queued again", analysis_id)
        send(analysis_id)
        sent += 1
    return sent


def unfinished_ids(inst: Instance) -> list[str]:
    with inst.db.session() as session:
        query = (
            select(Analysis.id)
            .where(Analysis.status.in_(UNFINISHED))
            .order_by(Analysis.created_at, Analysis.id)
        )
        return list(session.scalars(query))


# The job list (``hallmark jobs``) ------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return _aware(moment).isoformat() if moment is not None else None


def job_json(row: Analysis) -> dict[str, Any]:
    return {
        "analysis_id": row.id,
        "work_id": row.work_id,
        "status": row.status,
        "attempts": row.attempts,
        "worker": row.worker,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "lease_until": _iso(row.lease_until) if row.status in UNFINISHED else None,
        "error": row.error,
    }


def recent(inst: Instance, *, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
    """The newest jobs first, optionally only those with ``status``."""
    query = select(Analysis).order_by(Analysis.created_at.desc(), Analysis.id.desc())
    if status is not None:
        query = query.where(Analysis.status == status)
    with inst.db.session() as session:
        return [job_json(row) for row in session.scalars(query.limit(limit))]


def counts(inst: Instance) -> dict[str, int]:
    """How many jobs are in each status."""
    with inst.db.session() as session:
        rows = session.execute(select(Analysis.status, func.count()).group_by(Analysis.status))
        return {str(status): int(n) for status, n in rows}
