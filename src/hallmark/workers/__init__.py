"""Celery workers: analysis and Content Credentials signing off the web processes (issue #9).

The third face of Hallmark beside ``cli/`` and ``web/``: it receives jobs from a broker and
runs the same services. :mod:`~hallmark.workers.celery_app` builds the Celery app from the
instance's settings and sends jobs (what the web and the services use);
:mod:`~hallmark.workers.tasks` holds the tasks and the worker's own start-up, for
``hallmark worker``. Nothing here is configured at import time.
"""
