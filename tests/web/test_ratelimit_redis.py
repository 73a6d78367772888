"""Rate limits shared by every web process through Redis (issue #9, item 2).

The Redis buckets must behave exactly as the in-process ones (the same cases as
test_ratelimit.py), stay exact when many clients spend the same bucket at once, and be what
the app uses when ``rate_limit_store = "redis"``: two apps over one instance, standing for
two web processes, then share one budget.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hallmark.errors import UnavailableError
from hallmark.services.instance import Instance
from hallmark.web.app import create_app
from hallmark.web.ratelimit import RedisTokenBuckets, redis_client
from tests.conftest import make_instance
from tests.web.conftest import login

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    found = redis_client(redis_url)
    yield found
    found.close()


def test_a_minute_of_budget_may_come_at_once_then_it_refills(client: redis.Redis) -> None:
    clock = Clock()
    buckets = RedisTokenBuckets(client, "t", {"requests": 60}, clock=clock)
    for _ in range(60):
        assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("a", {"requests": 1}) == pytest.approx(1.0)
    clock.now += 0.5
    assert buckets.take("a", {"requests": 1}) == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("b", {"requests": 1}) == 0


def test_a_refused_request_charges_no_budget(client: redis.Redis) -> None:
    clock = Clock()
    buckets = RedisTokenBuckets(client, "t", {"requests": 10, "items": 100}, clock=clock)
    assert buckets.take("a", {"requests": 1, "items": 90}) == 0
    assert buckets.take("a", {"requests": 1, "items": 20}) == pytest.approx(10 / (100 / 60))
    for _ in range(9):
        assert buckets.take("a", {"requests": 1}) == 0
    assert buckets.take("a", {"requests": 1}) > 0


def test_idle_buckets_expire_in_redis(client: redis.Redis) -> None:
    buckets = RedisTokenBuckets(client, "t", {"requests": 5}, prefix="hm")
    assert buckets.take("a", {"requests": 1}) == 0
    keys = client.keys("hm:ratelimit:t:*")
    assert keys == [b"hm:ratelimit:t:requests:a"]
    assert 0 < client.ttl(keys[0]) <= 120


def test_clients_spending_one_bucket_at_once_get_exactly_its_budget(redis_url: str) -> None:
    admitted = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def spend() -> None:
        # One connection each, as separate web processes would have.
        own = redis_client(redis_url)
        buckets = RedisTokenBuckets(own, "race", {"requests": 50}, clock=lambda: 1000.0)
        start.wait()
        mine = sum(buckets.take("a", {"requests": 1}) == 0 for _ in range(20))
        with lock:
            admitted.append(mine)
        own.close()

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == 50


def test_redis_down_is_a_503_not_a_free_pass() -> None:
    # Nothing listens on port 1: the connection is refused at once.
    buckets = RedisTokenBuckets(redis_client("redis://127.0.0.1:1/13"), "t", {"requests": 5})
    with pytest.raises(UnavailableError) as caught:
        buckets.take("a", {"requests": 1})
    assert caught.value.status == 503 and caught.value.retry_after == 5


@pytest.fixture
def shared(tmp_path: Path, redis_url: str) -> Iterator[Instance]:
    inst = make_instance(
        tmp_path / "home",
        rate_limit_store="redis",
        redis_url=redis_url,
        login_attempts_per_minute=3,
    )
    yield inst
    inst.close()


def _login(client: TestClient) -> int:
    return login(client, "nobody", "a wrong password").status_code


def test_two_web_processes_share_one_login_budget(shared: Instance) -> None:
    first = TestClient(create_app(shared.settings, instance=shared))
    second = TestClient(create_app(shared.settings, instance=shared))
    # Three attempts a minute in all, whichever process answers them.
    assert [_login(first), _login(second), _login(first)] == [401, 401, 401]
    assert _login(second) == 429
    assert _login(first) == 429
