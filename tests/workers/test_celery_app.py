"""The Celery app, sending jobs and the worker's tasks (issue #9, item 1), without a worker.

Real workers, killed mid-job, are in tests/faults/test_kill_worker.py.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from PIL import Image

from hallmark.errors import InputError
from hallmark.services import analysis, credentials, registry
from hallmark.services.instance import Instance
from hallmark.settings import Settings
from hallmark.storage.models import Analysis, Work
from hallmark.workers import celery_app
from hallmark.workers.celery_app import (
    ANALYZE,
    SIGN_CREDENTIALS,
    BrokerUnavailable,
    make_celery,
    result_backend,
)
from hallmark.workers.tasks import MAX_BACKOFF, backoff, build_worker_app
from tests.analysis.keyword_plugin import HUMAN_TEXT
from tests.conftest import add_user, make_instance

#: Nothing listens there: the connection is refused at once.
DEAD_BROKER = "redis://127.0.0.1:1/13"


def test_delivery_is_at_least_once_and_one_job_at_a_time() -> None:
    conf = make_celery(Settings(broker_url="redis://127.0.0.1:6379/13")).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    assert conf.task_default_queue == "hallmark"


def test_answers_come_back_through_redis_only() -> None:
    backend = result_backend("redis://127.0.0.1:6379/1")
    assert backend == "hallmark.workers.celery_app:PollingRedisBackend+redis://127.0.0.1:6379/1"
    assert result_backend("amqp://guest@127.0.0.1//") is None
    app = make_celery(Settings(broker_url="redis://127.0.0.1:6379/13"))
    # A sender subscribes to nothing: call() polls, which survives Redis restarts.
    assert type(app.backend).__name__ == "PollingRedisBackend"
    assert app.backend.on_task_call(None, "task-id") is None


def test_the_worker_has_both_tasks_with_retries() -> None:
    app = build_worker_app(Settings(broker_url="redis://127.0.0.1:6379/13"))
    assert app.tasks[ANALYZE].max_retries >= 10
    assert app.tasks[SIGN_CREDENTIALS].ignore_result is False
    assert app.conf.task_ignore_result is True


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    for retries in range(12):
        wait = backoff(retries)
        assert min(MAX_BACKOFF, 2.0**retries) * 0.5 <= wait <= min(MAX_BACKOFF, 2.0**retries)


def test_a_dead_broker_fails_fast_as_unavailable() -> None:
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable) as caught:
        celery_app.send_analysis(Settings(broker_url=DEAD_BROKER), "a_x")
    assert time.monotonic() - start < 10
    assert caught.value.status == 503 and caught.value.retry_after


@pytest.fixture
def inst(tmp_path: Path) -> Iterator[Instance]:
    found = make_instance(tmp_path / "home", broker_url=DEAD_BROKER)
    yield found
    found.close()


def register(inst: Instance, data: bytes = HUMAN_TEXT, handle: str = "alice") -> str:
    creator = add_user(inst, handle)
    return registry.register_work(
        inst, creator_id=creator, data=data, title="Harbour", declare="human-made"
    ).work_id


def test_a_job_sent_while_the_broker_is_down_stays_queued_for_the_sweep(inst: Instance) -> None:
    analysis_id = analysis.enqueue(inst, register(inst))
    with inst.db.session() as session:
        row = session.get(Analysis, analysis_id)
        assert row is not None and row.status == "queued" and row.lease_until is not None
    assert analysis.sweep_to_broker(inst) == 0


def test_jobs_go_to_the_hallmark_queue(inst: Instance, redis_url: str) -> None:
    inst.settings = inst.settings.model_copy(update={"broker_url": redis_url})
    queue = redis.Redis.from_url(redis_url)
    analysis.enqueue(inst, register(inst))
    assert queue.llen("hallmark") == 1
    queue.close()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 60, 20)).save(buffer, "PNG")
    return buffer.getvalue()


def test_credentials_are_signed_here_when_the_broker_is_down(inst: Instance) -> None:
    work_id = register(inst, png())
    with inst.db.session() as session:
        work = session.get(Work, work_id)
        assert work is not None
        copy = credentials.signed_copy(inst, work)
    assert copy.filename == f"{work_id}.c2pa.png" and b"c2pa" in copy.data


def test_the_signing_task_answers_with_the_copy_or_the_error(inst: Instance) -> None:
    image = register(inst, png())
    answer = credentials.sign_as_worker(inst, image)
    copy = credentials.copy_from_json(answer)
    assert copy.media_type == "image/png" and b"c2pa" in copy.data
    text = register(inst, HUMAN_TEXT, "bruno")
    refused = credentials.sign_as_worker(inst, text)
    assert refused["error"]["kind"] == "InputError"
    with pytest.raises(InputError):
        credentials.copy_from_json(refused)
