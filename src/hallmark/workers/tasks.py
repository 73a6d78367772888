"""The Celery tasks and the worker's start-up, for ``hallmark worker`` (issue #9, item 1).

Tasks:

- :data:`~hallmark.workers.celery_app.ANALYZE` runs one analysis job: the detectors, then the
  prior-art check, which fingerprints the work and stores the fingerprint (the similarity
  index of every process reads new fingerprints from the database by sequence number). The
  job is claimed first (:func:`hallmark.services.analysis.run_job`), so a second delivery of
  the same task does nothing; a job another worker holds is tried again when its lease runs
  out; a database or blob store that is down for now gives the job back and the task is
  retried with exponential backoff (1, 2, 4 ... seconds, at most :data:`MAX_BACKOFF`).
- :data:`~hallmark.workers.celery_app.SIGN_CREDENTIALS` embeds signed Content Credentials in a
  certified image for a download waiting in a web process, and answers with the file.

``hallmark worker`` starts a worker; ``celery -A hallmark.workers.tasks worker`` does too, with
the instance named by ``HALLMARK_HOME``. Each worker process opens the instance once, after it
is forked, from the settings the worker was started with. The main process sweeps for lost
jobs at start and then every half lease (:func:`hallmark.services.jobs.sweep`).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from typing import TYPE_CHECKING, Any

from hallmark.services import analysis, jobs
from hallmark.services.instance import Instance, open_instance
from hallmark.settings import Settings
from hallmark.workers.celery_app import ANALYZE, SIGN_CREDENTIALS, make_celery, send_analysis

if TYPE_CHECKING:
    from celery import Celery

logger = logging.getLogger(__name__)

#: Retries of one task after transient errors before it is left to the sweep.
MAX_RETRIES = 12
#: Longest wait between two retries, in seconds.
MAX_BACKOFF = 300.0


def backoff(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: doubling, capped, with jitter so that
    workers that failed together do not all come back at the same moment."""
    base: float = min(MAX_BACKOFF, 2.0**retries)
    return base * random.uniform(0.5, 1.0)


class WorkerState:
    """What one worker holds: its settings, the instance of each process, the sweeper."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._instance: Instance | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def instance(self) -> Instance:
        """This process's instance, opened on first use (and again in a forked child)."""
        with self._lock:
            if self._instance is None or self._pid != os.getpid():
                self._instance = open_instance(self.settings)
                self._pid = os.getpid()
            return self._instance

    def after_fork(self) -> None:
        """In a new pool process: forget the parent's instance without closing its
        connections, which belong to the parent (psycopg leaves a parent's alone)."""
        with self._lock:
            if self._instance is not None and self._pid != os.getpid():
                self._instance.db.engine.dispose(close=False)
                self._instance = None

    def sweep_once(self) -> int:
        inst = self.instance()
        try:
            return jobs.sweep(inst, lambda analysis_id: send_analysis(self.settings, analysis_id))
        except Exception as exc:
            logger.warning("the sweep of lost jobs failed: %s", exc)
            return 0

    def sweep_forever(self) -> None:
        interval = self.settings.job_lease_seconds / 2
        while True:
            sent = self.sweep_once()
            if sent:
                logger.info("sent %d lost analysis job(s) again", sent)
            if self.stopped.wait(interval):
                return

    def start_sweeper(self) -> None:
        threading.Thread(target=self.sweep_forever, name="hallmark-sweep", daemon=True).start()


def _worker_label(request: Any) -> str:
    return f"{getattr(request, 'hostname', None) or 'celery'} pid {os.getpid()}"[:200]


def register_tasks(app: Celery, state: WorkerState) -> None:
    """Declare Hallmark's tasks on ``app``; they open the instance through ``state``."""

    def analyze(task: Any, analysis_id: str) -> None:
        inst = state.instance()
        try:
            retry_in = analysis.run_job(inst, analysis_id, _worker_label(task.request))
        except Exception as exc:
            if jobs.is_transient(exc):
                delay = backoff(task.request.retries)
                logger.warning("analysis %s: %s; retry in %.1f s", analysis_id, exc, delay)
                raise task.retry(exc=exc, countdown=delay) from exc
            # Recorded as failed in its row; the task itself is done with.
            logger.exception("analysis %s failed", analysis_id)
            return
        if retry_in is not None and task.request.retries < MAX_RETRIES:
            # Another worker holds the job: look again when its lease would have run out, in
            # case that worker died (this is how a task put back after a crash gets it). A
            # job held that long by a live worker is left to it, and to the sweep.
            raise task.retry(countdown=retry_in + 1.0)

    def sign_credentials(work_id: str) -> dict[str, Any]:
        from hallmark.services import credentials

        return credentials.sign_as_worker(state.instance(), work_id)

    app.task(name=ANALYZE, bind=True, max_retries=MAX_RETRIES)(analyze)
    app.task(name=SIGN_CREDENTIALS, ignore_result=False)(sign_credentials)


def build_worker_app(settings: Settings) -> Celery:
    """The worker's Celery app: the tasks, and the start-up and shutdown hooks."""
    from celery import signals

    app = make_celery(settings)
    app.conf.worker_hijack_root_logger = True
    state = WorkerState(settings)
    register_tasks(app, state)

    def on_process_init(**_: Any) -> None:
        state.after_fork()

    def on_ready(**_: Any) -> None:
        # The first sweep runs at once: jobs left by a worker that died are taken up again.
        state.start_sweeper()

    def on_shutdown(**_: Any) -> None:
        state.stopped.set()

    signals.worker_process_init.connect(on_process_init, weak=False)
    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutdown.connect(on_shutdown, weak=False)
    return app


def app_from_environment() -> Celery:
    """The worker app of the instance in ``HALLMARK_HOME`` (and ``HALLMARK_*`` variables),
    read when it is first asked for."""
    return build_worker_app(Settings.load())


_from_environment: list[Celery] = []


def __getattr__(name: str) -> Any:
    # ``celery -A hallmark.workers.tasks worker`` looks for the module's ``app``: it is built
    # then, from the environment, never at import time.
    if name == "app":
        if not _from_environment:
            _from_environment.append(app_from_environment())
        return _from_environment[0]
    raise AttributeError(name)
