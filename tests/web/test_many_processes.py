"""Several web processes over one PostgreSQL database (issue #9, item 2).

Two real ``hallmark serve`` processes share an instance folder and a database, as processes
behind one reverse proxy would:

- registrations sent to both at once make one log with no gap and no duplicate, whose
  checkpoints all verify (the log's single writer is a PostgreSQL advisory lock);
- a person who logs in through one process is logged in on the other (sessions are signed
  cookies, not server state), and a form from one is accepted by the other.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hallmark.services import log as log_service
from hallmark.services.instance import Instance
from hallmark.storage.models import Certificate, CheckpointRow, LogEntry
from tests.conftest import add_token, add_user, make_instance
from tests.faults.processes import Running, serving
from tests.web.conftest import HTML, PASSWORD, csrf_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REGISTRATIONS = 48


@pytest.fixture(scope="module")
def two(
    tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[tuple[Instance, list[Running]]]:
    folder = tmp_path_factory.mktemp("two")
    inst = make_instance(folder / "home", database_url=postgres_url)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(serving(folder / "home", folder / f"serve-{n}.log"))
            for n in range(2)
        ]
        yield inst, servers
    inst.close()


def test_registrations_through_two_processes_make_one_gap_free_log(
    two: tuple[Instance, list[Running]],
) -> None:
    inst, servers = two
    add_user(inst, "alice")
    auth = {"Authorization": f"Bearer {add_token(inst, 'alice')}"}
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()

    def send(thread: int) -> None:
        # Each thread alternates between the processes, so both write at the same time.
        clients = [httpx.Client(base_url=s.url, timeout=60) for s in servers]
        for n in range(REGISTRATIONS // 4):
            response = clients[(thread + n) % 2].post(
                "/api/v1/works",
                headers=auth,
                files={
                    "file": ("poem.txt", f"Poem {thread}-{n} {secrets.token_hex(6)}\n".encode())
                },
                data={"title": f"Poem {thread}-{n}", "declare": "human-made"},
            )
            with lock:
                if response.status_code == 201:
                    results.append(response.json())
                else:
                    failures.append(response.text)
        for client in clients:
            client.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    indexes = sorted(r["log_index"] for r in results)
    assert indexes == list(range(REGISTRATIONS))
    with inst.db.session() as session:
        assert session.scalar(select(func.count()).select_from(LogEntry)) == REGISTRATIONS
        assert session.scalar(select(func.count()).select_from(Certificate)) == REGISTRATIONS
        sizes = list(session.scalars(select(CheckpointRow.size).order_by(CheckpointRow.size)))
    # The empty log's checkpoint, then one per registration, each one entry larger.
    assert sizes == list(range(REGISTRATIONS + 1))
    report = log_service.audit(inst)
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (REGISTRATIONS, REGISTRATIONS + 1)


def test_a_session_from_one_process_works_on_the_other(
    two: tuple[Instance, list[Running]],
) -> None:
    inst, (first, second) = two
    add_user(inst, "bob", password=PASSWORD)
    with httpx.Client(base_url=first.url, headers=HTML) as one:
        token = csrf_of(one.get("/login"))
        response = one.post(
            "/login", data={"csrf_token": token, "handle": "bob", "password": PASSWORD}
        )
        assert response.status_code == 303
        cookies = one.cookies
    with httpx.Client(base_url=second.url, headers=HTML, cookies=cookies) as other:
        upload = other.get("/upload")
        assert upload.status_code == 200 and "bob" in upload.text
        # The form's CSRF token, issued by the second process, is accepted by the first.
        token = csrf_of(upload)
    with httpx.Client(base_url=first.url, headers=HTML, cookies=cookies) as one:
        response = one.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert one.get("/upload").status_code == 303
