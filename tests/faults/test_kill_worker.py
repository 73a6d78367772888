"""Celery workers killed in the middle of a job (issue #9, item 1).

Two real ``hallmark worker`` processes (one pool process each) take jobs from Redis; the
analysis runs a detector that takes a few seconds (``tests/faults/slow_plugin.py``), so the
test can kill whoever holds a job while it runs:

- the pool process alone (the worker's main process survives): Celery puts the message back
  (``task_reject_on_worker_lost``), the job's lease runs out, and it runs again;
- the whole worker: its lease runs out, the other worker's sweep queues it again, and the
  other worker completes it.

The workers also sign Content Credentials for downloads waiting in the web process.
"""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from PIL import Image

from hallmark.services import analysis, credentials, registry
from hallmark.services.instance import Instance
from hallmark.storage.models import Analysis, Work
from tests.conftest import (
    DEFAULT_TEST_REDIS,
    REDIS_ENV,
    REQUIRE_REDIS_ENV,
    add_user,
    make_instance,
)
from tests.faults.processes import Running, start_worker, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

#: Short, so a lost job comes back within seconds; long enough for a slow commit (the
#: machine is shared) not to pass for a dead worker.
LEASE = 5
SLOW = 6


@dataclass
class Cluster:
    inst: Instance
    workers: dict[str, Running]
    creator: str


def _broker() -> str:
    # A database of its own beside the other Redis tests', emptied before and after.
    base = os.environ.get(REDIS_ENV) or DEFAULT_TEST_REDIS
    return base.rsplit("/", 1)[0] + "/14"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Cluster]:
    broker = _broker()
    queue = redis.Redis.from_url(broker, socket_connect_timeout=2)
    try:
        queue.ping()
    except redis.RedisError as exc:
        if os.environ.get(REQUIRE_REDIS_ENV) == "1":
            pytest.fail(f"cannot reach Redis at {broker}: {exc}")
        pytest.skip(f"Redis is not reachable: {exc}")
    queue.flushdb()
    folder = tmp_path_factory.mktemp("workers")
    settings: dict[str, Any] = {
        "broker_url": broker,
        "detectors": ["slow"],
        "job_lease_seconds": LEASE,
    }
    inst = make_instance(folder / "home", database_url=postgres_url, **settings)
    env = {
        "HALLMARK_BROKER_URL": broker,
        "HALLMARK_DATABASE_URL": postgres_url,
        "HALLMARK_DETECTORS": '["slow"]',
        "HALLMARK_JOB_LEASE_SECONDS": str(LEASE),
        "HALLMARK_TEST_SLOW_SECONDS": str(SLOW),
    }
    workers = {
        name: start_worker(folder / "home", folder / f"{name}.log", f"{name}@faults", **env)
        for name in ("a", "b")
    }
    try:
        for name, worker in workers.items():
            wait_until(
                lambda w=worker: "ready." in w.output() or w.process.poll() is not None,
                180,
                f"worker {name} to start",
            )
            assert worker.process.poll() is None, worker.output()
        yield Cluster(inst, workers, add_user(inst, "alice"))
    finally:
        for worker in workers.values():
            worker.kill()
        inst.close()
        queue.flushdb()
        queue.close()


def job(inst: Instance, analysis_id: str) -> Analysis:
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None
        session.expunge(row)
        return row


def register_and_enqueue(cluster: Cluster, text: str) -> str:
    reg = registry.register_work(
        cluster.inst,
        creator_id=cluster.creator,
        data=text.encode(),
        title="Harbour",
        declare="human-made",
    )
    return analysis.enqueue(cluster.inst, reg.work_id)


def holder(cluster: Cluster, analysis_id: str) -> str:
    """The name of the worker running the job, once it runs."""
    row = wait_until(
        lambda: (found := job(cluster.inst, analysis_id)).status == "running" and found,
        60,
        "a worker to take the job",
    )
    return str(row.worker).split("@", 1)[0]


def test_content_credentials_are_signed_by_a_worker(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 90, 160)).save(buffer, "PNG")
    reg = registry.register_work(
        cluster.inst,
        creator_id=cluster.creator,
        data=buffer.getvalue(),
        title="Blue",
        declare="human-made",
    )

    def not_here(*_args: Any) -> Any:
        raise AssertionError("signed in the web process, not on a worker")

    monkeypatch.setattr(credentials, "credentialed_copy", not_here)
    with cluster.inst.db.session() as session:
        work = session.get(Work, reg.work_id)
        assert work is not None
        copy = credentials.signed_copy(cluster.inst, work)
    assert copy.certificate_id == reg.certificate_id
    assert copy.filename == f"{reg.work_id}.c2pa.png" and copy.data.startswith(b"\x89PNG")
    assert b"c2pa" in copy.data


def test_a_job_whose_pool_process_dies_runs_again(cluster: Cluster) -> None:
    analysis_id = register_and_enqueue(cluster, "The first poem, for the pool.\n")
    name = holder(cluster, analysis_id)
    worker = cluster.workers[name]
    (pool,) = worker.children()
    os.kill(pool, signal.SIGKILL)
    done = wait_until(
        lambda: (found := job(cluster.inst, analysis_id)).status == "done" and found,
        90,
        "the job to complete after its pool process died",
    )
    assert done.attempts >= 2
    assert worker.process.poll() is None


def test_a_job_whose_worker_dies_completes_on_another_worker(cluster: Cluster) -> None:
    analysis_id = register_and_enqueue(cluster, "The second poem, for the worker.\n")
    name = holder(cluster, analysis_id)
    cluster.workers[name].kill()
    done = wait_until(
        lambda: (found := job(cluster.inst, analysis_id)).status == "done" and found,
        90,
        "another worker to complete the job",
    )
    other = "b" if name == "a" else "a"
    assert str(done.worker).startswith(f"{other}@faults")
    assert done.attempts >= 2
    assert done.findings is not None and [f["detector"] for f in done.findings] == ["slow"]
