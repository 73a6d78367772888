"""An instance's Celery app, and sending jobs to its workers (issue #9, item 1).

The app is built from the settings (``broker_url``) when it is needed, never at import time.
Senders (the web processes, the CLI, the sweep) know the tasks by name only
(:data:`ANALYZE`, :data:`SIGN_CREDENTIALS`), so sending needs none of the task code; the
worker registers the tasks themselves (:mod:`hallmark.workers.tasks`).

Delivery is "at least once", and the tasks make a second delivery harmless (see
:mod:`hallmark.services.jobs`):

- a message is acknowledged only when its task has ended (``task_acks_late``), and put back
  when the worker process running it dies (``task_reject_on_worker_lost``);
- each worker process takes one message at a time (``worker_prefetch_multiplier = 1``), so
  a slow job does not hold others back in a busy worker's buffer;
- a message a dead worker had taken is delivered again after the broker's visibility timeout
  (Redis) or when its connection drops (RabbitMQ); the jobs' own leases and the sweep bring
  the job back sooner than that.

Sending fails fast when the broker cannot be reached (:class:`UnavailableError`): a request
is not kept waiting on reconnection attempts, and the job stays queued in the database for the
sweep.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from hallmark.errors import UnavailableError
from hallmark.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

ANALYZE = "hallmark.analyze"
SIGN_CREDENTIALS = "hallmark.sign_credentials"
#: The queue every Hallmark task goes to (one per broker URL: give instances their own).
QUEUE = "hallmark"
#: Seconds to wait for the broker or the result store before giving up.
CONNECT_TIMEOUT = 3.0
#: Seconds a client is told to wait (Retry-After) when the broker cannot be reached.
RETRY_AFTER = 5
#: Redis delivers a taken but unacknowledged message again after this many seconds. It must
#: be longer than any job and any retry countdown, or a job is delivered twice (harmless, but
#: wasted); the jobs' leases bring a dead worker's job back long before it.
VISIBILITY_TIMEOUT = 3600
#: Answers (Content Credentials) are kept this long for the request that waits for them.
RESULT_EXPIRES = 600


class BrokerUnavailable(UnavailableError):
    """The broker (or the Redis answers come back through) cannot be reached."""


def result_backend(broker_url: str) -> str | None:
    """Where answers come back: the same Redis, read by :class:`PollingRedisBackend`. Other
    brokers carry jobs only; what needs an answer (Content Credentials) is then done in the
    web process."""
    scheme = broker_url.split(":", 1)[0].lower()
    if scheme not in ("redis", "rediss"):
        return None
    # Celery reads "<backend class>+<url>" as that class over that URL.
    return f"{__name__}:PollingRedisBackend+{broker_url}"


@functools.cache
def _polling_backend() -> type[Any]:
    from celery.backends.redis import RedisBackend

    class PollingRedisBackend(RedisBackend):  # type: ignore[misc]
        """Celery's Redis result store, minus the subscription a sender makes to each
        answer: :func:`call` reads the answer instead. A plain read fails and recovers with
        the Redis connection, where Celery's subscriber gives up for good (until the process
        restarts) after a few failed reconnections."""

        def on_task_call(self, producer: Any, task_id: str) -> None:
            return None

    return PollingRedisBackend


def __getattr__(name: str) -> Any:
    # Built on first use, so importing this module does not import Celery.
    if name == "PollingRedisBackend":
        return _polling_backend()
    raise AttributeError(name)


def make_celery(settings: Settings) -> Celery:
    """The Celery app for the instance's ``broker_url``, without tasks."""
    from celery import Celery

    if not settings.broker_url:
        raise UnavailableError(
            "This instance has no job queue (broker_url is not set).",
            hint="Set broker_url, e.g. redis://127.0.0.1:6379/1, to run Celery workers.",
        )
    app = Celery(
        "hallmark",
        broker=settings.broker_url,
        backend=result_backend(settings.broker_url),
        set_as_current=False,
    )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        result_expires=RESULT_EXPIRES,
        broker_connection_timeout=CONNECT_TIMEOUT,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_connect_timeout": CONNECT_TIMEOUT,
            "socket_timeout": 10.0,
        },
        redis_socket_connect_timeout=CONNECT_TIMEOUT,
        redis_socket_timeout=10.0,
        # A send tries twice more within a second, then fails: the sweep sends it later.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 0.5,
        },
        worker_hijack_root_logger=False,
    )
    return app


_producers: dict[str, tuple[Celery, tuple[type[BaseException], ...]]] = {}
_producers_lock = threading.Lock()


def producer(settings: Settings) -> tuple[Celery, tuple[type[BaseException], ...]]:
    """The process's sending app for the instance's broker, built once, with the errors its
    transport raises when the broker cannot be reached."""
    from kombu.exceptions import OperationalError

    assert settings.broker_url
    with _producers_lock:
        found = _producers.get(settings.broker_url)
        if found is None:
            app = make_celery(settings)
            conn = app.connection_for_write()
            errors = (OperationalError, OSError, *conn.connection_errors, *conn.channel_errors)
            if app.conf.result_backend:
                from redis.exceptions import RedisError

                errors = (*errors, RedisError)
            found = _producers[settings.broker_url] = (app, errors)
        return found


def _unavailable(what: str, error: BaseException) -> BrokerUnavailable:
    logger.warning("%s: %s: %s", what, type(error).__name__, error)
    return BrokerUnavailable(
        "The job queue cannot be reached just now.",
        hint="Try again in a few seconds.",
        retry_after=RETRY_AFTER,
    )


def send(
    settings: Settings,
    name: str,
    args: list[Any],
    *,
    countdown: float = 0.0,
    expires: float | None = None,
) -> str:
    """Send task ``name`` with ``args``; its task id. :class:`UnavailableError` when the
    broker cannot be reached. A task not started within ``expires`` seconds is dropped."""
    app, errors = producer(settings)
    try:
        result = app.send_task(
            name,
            args=args,
            countdown=countdown if countdown > 0 else None,
            expires=expires,
            retry=True,
        )
    except errors as exc:
        raise _unavailable(f"sending {name}", exc) from exc
    return str(result.id)


def send_analysis(settings: Settings, analysis_id: str, *, countdown: float = 0.0) -> None:
    send(settings, ANALYZE, [analysis_id], countdown=countdown)


def can_call(settings: Settings) -> bool:
    """Whether tasks can answer: a broker with a place for answers (Redis)."""
    return bool(settings.broker_url) and result_backend(settings.broker_url or "") is not None


def call(settings: Settings, name: str, args: list[Any], *, timeout: float) -> Any:
    """Send task ``name`` and wait up to ``timeout`` seconds for its answer.

    The answer is polled for (see :class:`PollingRedisBackend`).
    """
    from celery import states

    app, errors = producer(settings)
    # Nobody waits for an answer after the timeout, so a worker need not start it after then.
    task_id = send(settings, name, args, expires=timeout)
    deadline = time.monotonic() + timeout
    pause = 0.02
    try:
        while True:
            meta = app.backend.get_task_meta(task_id)
            if meta["status"] in states.READY_STATES:
                break
            if time.monotonic() >= deadline:
                raise UnavailableError(
                    f"No worker answered within {timeout:g} seconds.",
                    hint="Try again later; the operator can check the workers with "
                    "'hallmark jobs'.",
                    retry_after=RETRY_AFTER,
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
    except errors as exc:
        raise _unavailable(f"waiting for {name}", exc) from exc
    try:
        app.backend.forget(task_id)
    except errors as exc:
        # Only tidiness: the answer expires on its own (RESULT_EXPIRES).
        logger.debug("could not forget the answer of %s: %s", name, exc)
    if meta["status"] != states.SUCCESS:
        raise RuntimeError(f"the worker's {name} task failed: {meta.get('result')!r}")
    return meta["result"]
