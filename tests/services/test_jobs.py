"""Analysis jobs as claimed rows (issue #9, item 1): one claimant, leases, the sweep, attempts.

The same rules hold for Celery workers and the in-process runner, so they are tested here on
the service, on SQLite and PostgreSQL alike; tests/faults/ kills real workers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hallmark.errors import UnavailableError
from hallmark.services import analysis, jobs, registry
from hallmark.services.instance import Instance
from hallmark.storage.blobs import BlobStream
from hallmark.storage.models import Analysis, LogEntry, Work
from tests.analysis.keyword_plugin import HUMAN_TEXT, registered
from tests.conftest import FixedClock, add_user


@pytest.fixture
def inst(any_instance: Instance, fixed_clock: FixedClock) -> Iterator[Instance]:
    any_instance.settings = any_instance.settings.model_copy(
        update={"detectors": ["keyword"], "job_lease_seconds": 60, "job_max_attempts": 3}
    )
    any_instance.clock = fixed_clock
    with registered():
        yield any_instance
        analysis.shutdown(any_instance)


def queued_job(inst: Instance, data: bytes = HUMAN_TEXT, handle: str = "alice") -> tuple[str, str]:
    """A registered work and its queued analysis row (no runner is handed the job)."""
    creator = add_user(inst, handle)
    reg = registry.register_work(
        inst, creator_id=creator, data=data, title="Harbour", declare="human-made"
    )
    return reg.work_id, analysis._new_row(inst, reg.work_id)


def row(inst: Instance, analysis_id: str) -> Analysis:
    with inst.db.session() as session:
        found = session.get(Analysis, analysis_id)
        assert found is not None
        session.expunge(found)
        return found


def log_size(inst: Instance) -> int:
    with inst.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)


def test_one_claim_wins_and_a_second_delivery_of_a_finished_job_does_nothing(
    inst: Instance,
) -> None:
    _, job = queued_job(inst)
    first = jobs.claim(inst, job, "worker-a")
    assert first == jobs.Claim(job, 1, "worker-a")
    # Held: another worker is told how long the lease has left, not given the job.
    assert jobs.claim(inst, job, "worker-b") == jobs.Busy(60.0)
    held = row(inst, job)
    assert (held.status, held.attempts, held.worker) == ("running", 1, "worker-a")

    assert analysis.run_job(inst, job, "worker-c") == 60.0
    jobs.release(inst, first)
    assert analysis.run_job(inst, job, "worker-c") is None
    done = row(inst, job)
    assert (done.status, done.worker, done.attempts) == ("done", "worker-c", 1)
    size = log_size(inst)
    # The same task delivered again: nothing is claimed, nothing is written.
    assert jobs.claim(inst, job, "worker-d") is None
    assert analysis.run_job(inst, job, "worker-d") is None
    assert row(inst, job).worker == "worker-c" and log_size(inst) == size


def test_many_workers_claiming_at_once_get_one_claim(inst: Instance) -> None:
    _, job = queued_job(inst)
    results: list[Any] = []
    start = threading.Barrier(6)

    def grab(name: str) -> None:
        start.wait()
        results.append(jobs.claim(inst, job, name))

    threads = [threading.Thread(target=grab, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claims = [r for r in results if isinstance(r, jobs.Claim)]
    assert len(claims) == 1
    assert all(isinstance(r, jobs.Busy) for r in results if r not in claims)
    assert row(inst, job).worker == claims[0].worker


def test_a_job_whose_worker_died_is_claimed_again_once_its_lease_runs_out(
    inst: Instance, fixed_clock: FixedClock
) -> None:
    _, job = queued_job(inst)
    dead = jobs.claim(inst, job, "worker-a")
    assert isinstance(dead, jobs.Claim)
    fixed_clock.now += timedelta(seconds=59)
    assert jobs.claim(inst, job, "worker-b") == jobs.Busy(1.0)
    fixed_clock.now += timedelta(seconds=2)
    again = jobs.claim(inst, job, "worker-b")
    assert again == jobs.Claim(job, 2, "worker-b")
    # The first worker was only slow, not dead: its heartbeat and its result are refused.
    assert not jobs.renew(inst, dead)
    assert jobs.renew(inst, again)


def test_a_worker_that_lost_its_claim_writes_nothing(
    inst: Instance, fixed_clock: FixedClock
) -> None:
    work_id, job = queued_job(inst)
    slow = jobs.claim(inst, job, "worker-a")
    assert isinstance(slow, jobs.Claim)
    fixed_clock.now += timedelta(seconds=61)
    assert isinstance(jobs.claim(inst, job, "worker-b"), jobs.Claim)
    size = log_size(inst)
    # The slow worker finishes its findings: the certificate would be reissued, but the
    # reissue and the result are rolled back together.
    with pytest.raises(jobs.ClaimLost):
        analysis._run(inst, slow)
    assert log_size(inst) == size
    kept = row(inst, job)
    assert (kept.status, kept.worker, kept.findings) == ("running", "worker-b", None)
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None and work.level == "declared"


def test_the_sweep_sends_lost_jobs_once(inst: Instance, fixed_clock: FixedClock) -> None:
    _, running = queued_job(inst)
    _, queued = queued_job(inst, HUMAN_TEXT + b"Another line.\n", "bob")
    assert isinstance(jobs.claim(inst, running, "worker-a"), jobs.Claim)
    sent: list[str] = []
    # Nothing is lost yet: the running job is held, the queued one was sent a moment ago.
    assert jobs.sweep(inst, sent.append) == 0
    fixed_clock.now += timedelta(seconds=61)
    assert jobs.sweep(inst, sent.append) == 2
    assert sorted(sent) == sorted([running, queued])
    assert row(inst, running).status == "queued"
    # A second sweep (another worker's, say) finds nothing more to send.
    assert jobs.sweep(inst, sent.append) == 0
    # Jobs still waiting are sent again later, after waits as long as their age, so a long
    # queue gets a few copies of each, not one a minute.
    start = fixed_clock.now - timedelta(seconds=61)
    for seconds, expected in ((120, 0), (123, 2), (240, 0), (250, 2), (490, 0), (510, 2)):
        fixed_clock.now = start + timedelta(seconds=seconds)
        assert jobs.sweep(inst, sent.append) == expected, seconds


def test_a_job_that_keeps_losing_its_worker_is_failed_with_the_reason(
    inst: Instance, fixed_clock: FixedClock
) -> None:
    _, job = queued_job(inst)
    for attempt in (1, 2, 3):
        assert jobs.claim(inst, job, f"worker-{attempt}") == jobs.Claim(
            job, attempt, f"worker-{attempt}"
        )
        fixed_clock.now += timedelta(seconds=61)
    assert jobs.claim(inst, job, "worker-4") is None
    failed = row(inst, job)
    assert failed.status == "failed" and failed.attempts == 3
    assert failed.error is not None and "Gave up after 3 attempts" in failed.error


class _DownBlobs:
    """A blob store whose service is down: every read is a 503."""

    def get(self, _key: str) -> bytes:
        raise UnavailableError("The blob store cannot be reached just now.")

    def stream(self, _key: str) -> BlobStream:
        raise UnavailableError("The blob store cannot be reached just now.")


def test_a_service_down_for_now_gives_the_job_back_without_using_an_attempt(
    inst: Instance,
) -> None:
    _, job = queued_job(inst)
    blobs = inst.blobs
    inst.blobs = _DownBlobs()  # type: ignore[assignment]
    try:
        with pytest.raises(UnavailableError):
            analysis.run_job(inst, job, "worker-a")
    finally:
        inst.blobs = blobs
    given_back = row(inst, job)
    assert (given_back.status, given_back.attempts, given_back.error) == ("queued", 0, None)
    assert analysis.run_job(inst, job, "worker-a") is None
    assert row(inst, job).status == "done"


def test_the_job_list_shows_status_attempts_worker_and_times(inst: Instance) -> None:
    _, job = queued_job(inst)
    assert jobs.recent(inst)[0] == {
        "analysis_id": job,
        "work_id": row(inst, job).work_id,
        "status": "queued",
        "attempts": 0,
        "worker": None,
        "created_at": "2026-11-28T12:00:00+00:00",
        "started_at": None,
        "finished_at": None,
        "lease_until": "2026-11-28T12:01:00+00:00",
        "error": None,
    }
    analysis.run_job(inst, job, "worker-a")
    listed = jobs.recent(inst, status="done")
    assert [(j["analysis_id"], j["attempts"], j["worker"]) for j in listed] == [
        (job, 1, "worker-a")
    ]
    assert listed[0]["started_at"] == listed[0]["finished_at"] == "2026-11-28T12:00:00+00:00"
    assert jobs.recent(inst, status="queued") == []
    assert jobs.counts(inst) == {"done": 1}
