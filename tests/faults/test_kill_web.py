"""Web processes killed with SIGKILL in the middle of a stream of registrations (issue #9).

``hallmark serve --workers 4`` on PostgreSQL takes registrations from four clients at once,
while the test kills one of its web processes 50 times at random moments (uvicorn starts a
new one each time). Afterwards:

- every registration that was acknowledged (HTTP 201 received) has its work, certificate,
  log entry and blob;
- nothing half-made is visible: no work without a certificate, no certificate without its log
  entry, no log entry without its statement;
- the log audit passes: the tree recomputed from the leaves matches every stored node and
  every signed checkpoint, and the checkpoints are consistent with each other;
- every work has an analysis, and those that killed processes were running (or had not yet
  handed on) are finished by the others.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hallmark.services import analysis, jobs
from hallmark.services import log as log_service
from hallmark.storage.models import Analysis, Certificate, CheckpointRow, LogEntry, Work
from tests.conftest import add_token, add_user, make_instance
from tests.faults.processes import serving, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

KILLS = 50
CLIENTS = 4
WEB_PROCESSES = 4


def test_acknowledged_registrations_survive_web_processes_killed_mid_stream(
    tmp_path: Path, postgres_url: str
) -> None:
    home = tmp_path / "home"
    inst = make_instance(home, database_url=postgres_url)
    add_user(inst, "alice")
    auth = {"Authorization": f"Bearer {add_token(inst, 'alice')}"}
    seed = secrets.randbits(32)
    rng = random.Random(seed)
    acked: dict[str, dict[str, Any]] = {}
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def stream(client_number: int, url: str) -> None:
        # A new connection for every request, so the kernel spreads them over the processes.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=url, timeout=60, limits=limits) as http:
            sent = 0
            while not stop.is_set():
                sent += 1
                text = f"Poem {client_number}-{sent}, {secrets.token_hex(8)}:\nthe tide turns.\n"
                try:
                    response = http.post(
                        "/api/v1/works",
                        headers=auth,
                        files={"file": ("poem.txt", text.encode(), "text/plain")},
                        data={"title": f"Poem {client_number}-{sent}", "declare": "human-made"},
                    )
                except httpx.TransportError as exc:
                    # The process answering was killed: not acknowledged, maybe not done.
                    with lock:
                        outcomes[type(exc).__name__] += 1
                    continue
                with lock:
                    outcomes[str(response.status_code)] += 1
                    if response.status_code == 201:
                        acked[response.json()["work_id"]] = response.json()

    kills = 0
    lease = {"HALLMARK_JOB_LEASE_SECONDS": "3"}
    with serving(home, tmp_path / "serve.log", workers=WEB_PROCESSES, **lease) as server:
        clients = [
            threading.Thread(target=stream, args=(n, server.url), daemon=True)
            for n in range(CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            while kills < KILLS:
                # Only while registrations flow: each kill lands in a live stream.
                before = len(acked)
                wait_until(lambda b=before: len(acked) > b, 180, "registrations to go on")
                time.sleep(rng.uniform(0.0, 0.3))
                children = server.children()
                if not children:
                    continue
                os.kill(rng.choice(children), signal.SIGKILL)
                kills += 1
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=90)
        # Analyses that killed processes left running are taken up by the survivors once
        # their lease runs out: no registered work stays unanalysed.
        wait_until(
            lambda: jobs.counts(inst).keys() <= {"done"},
            60,
            f"every analysis to finish: {jobs.counts(inst)}",
        )

    context = f"seed {seed}; outcomes {dict(outcomes)}; {kills} kills"
    assert kills == KILLS, context
    assert len(acked) > KILLS, context
    # Only acknowledgements and cut connections: never a 500 or a half-done answer.
    assert set(outcomes) <= {"201", "ReadError", "RemoteProtocolError", "ConnectError"}, context

    with inst.db.session() as session:
        for work_id, registration in acked.items():
            work = session.get(Work, work_id)
            assert work is not None, (work_id, context)
            assert inst.blobs.exists(work.blob_key), (work_id, context)
            certificate = session.get(Certificate, registration["certificate_id"])
            assert certificate is not None and certificate.work_id == work_id
            assert certificate.log_index == registration["log_index"]
            entry = session.get(LogEntry, registration["log_index"])
            assert entry is not None and entry.statement_sha256 == certificate.statement_sha256
        uncertified = session.scalars(
            select(Work.id).where(
                ~select(Certificate.id).where(Certificate.work_id == Work.id).exists()
            )
        ).all()
        assert uncertified == [], context
        # Every work has its analysis, even one whose process was killed between the commit
        # and handing the job on: the job is queued in the registration's transaction.
        unanalysed = session.scalars(
            select(Work.id).where(~select(Analysis.id).where(Analysis.work_id == Work.id).exists())
        ).all()
        assert unanalysed == [], context
        entries = int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)
        unlogged = session.scalars(
            select(Certificate.id).where(
                ~select(LogEntry.idx).where(LogEntry.idx == Certificate.log_index).exists()
            )
        ).all()
        assert unlogged == [], context
        newest = session.scalar(select(func.max(CheckpointRow.size)))
        assert newest == entries, context
    report = log_service.audit(inst)
    assert report.ok, (report.problems, context)
    assert report.size == entries >= len(acked)
    analysis.shutdown(inst)
    inst.close()
