"""PostgreSQL or Redis down for a few seconds under a running ``hallmark serve`` (issue #9).

The shared services of this machine cannot be stopped, so the instance reaches them through
TCP proxies the test controls: ``down()`` resets every connection and refuses new ones, as a
stopped service does. While a service is down, the requests that need it fail cleanly (503,
an RFC 9457 problem document with Retry-After, never a 500 or a traceback); registrations,
which need the database but not Redis, still succeed while Redis is down (their analysis
waits in the database for the sweep). When the service is back, the same server process
answers again, without a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import make_url

from hallmark.services import analysis, jobs
from hallmark.storage.models import Analysis
from tests.conftest import add_token, add_user, make_instance
from tests.faults.processes import TcpProxy, serving, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.slow]

PROBLEM = "application/problem+json"


@pytest.fixture
def proxies(postgres_url: str, redis_url: str) -> Iterator[tuple[TcpProxy, TcpProxy]]:
    database = TcpProxy(make_url(postgres_url).port or 5432)
    cache = TcpProxy(redis.Redis.from_url(redis_url).connection_pool.connection_kwargs["port"])
    yield database, cache
    database.close()
    cache.close()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == "/problems/service-unavailable" and body["status"] == 503
    assert "Traceback" not in response.text
    assert int(response.headers["retry-after"]) > 0


def test_requests_fail_cleanly_while_a_service_is_down_and_recover_without_restart(
    tmp_path: Path, postgres_url: str, redis_url: str, proxies: tuple[TcpProxy, TcpProxy]
) -> None:
    database, cache = proxies
    home = tmp_path / "home"
    db_number = redis_url.rsplit("/", 1)[1]
    through = {
        "database_url": make_url(postgres_url)
        .set(port=database.port)
        .render_as_string(hide_password=False),
        "redis_url": f"redis://127.0.0.1:{cache.port}/{db_number}",
        "broker_url": f"redis://127.0.0.1:{cache.port}/{db_number}",
        "rate_limit_store": "redis",
        "job_lease_seconds": "2",
    }
    # The test itself reaches both services directly.
    inst = make_instance(home, database_url=postgres_url, broker_url=redis_url, job_lease_seconds=2)
    add_user(inst, "alice")
    auth = {"Authorization": f"Bearer {add_token(inst, 'alice')}"}
    env = {f"HALLMARK_{name.upper()}": value for name, value in through.items()}
    lookup = {"items": [{"sha256": hashlib.sha256(b"nothing").hexdigest()}]}

    def register(http: httpx.Client, text: str) -> httpx.Response:
        return http.post(
            "/api/v1/works",
            headers=auth,
            files={"file": ("poem.txt", text.encode(), "text/plain")},
            data={"title": "Harbour", "declare": "human-made"},
        )

    with (
        serving(home, tmp_path / "serve.log", **env) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        first = register(http, "Before anything went down.\n")
        assert first.status_code == 201, first.text

        database.down()
        assert_unavailable(http.get("/api/v1/works", headers=auth))
        assert_unavailable(register(http, "While the database is down.\n"))
        page = http.get(f"/works/{first.json()['work_id']}", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "Service unavailable" in page.text
        database.up()
        wait_until(
            lambda: http.get("/api/v1/works", headers=auth).status_code == 200,
            30,
            "the server to reach the database again",
        )
        assert register(http, "After the database came back.\n").status_code == 201

        cache.down()
        # Rate-limited requests are refused rather than let through uncounted ...
        assert_unavailable(http.post("/api/v1/consent/lookup", json=lookup))
        # ... while a registration goes through: its analysis waits for the broker.
        during = register(http, "While Redis is down.\n")
        assert during.status_code == 201, during.text
        cache.up()
        wait_until(
            lambda: http.post("/api/v1/consent/lookup", json=lookup).status_code == 200,
            30,
            "the server to reach Redis again",
        )
        assert register(http, "After Redis came back.\n").status_code == 201
        assert server.process.poll() is None

    # The analysis queued while the broker was down is sent by the next sweep.
    with inst.db.session() as session:
        waiting = session.query(Analysis).filter_by(work_id=during.json()["work_id"]).one()
        assert waiting.status == "queued"
    queue = redis.Redis.from_url(redis_url)
    before = queue.llen("hallmark")
    wait_until(lambda: analysis.sweep_to_broker(inst) > 0, 10, "the sweep to send the job")
    assert queue.llen("hallmark") > before
    assert any(j["analysis_id"] == waiting.id for j in jobs.recent(inst, status="queued"))
    queue.close()
    analysis.shutdown(inst)
    inst.close()
