"""Shared fixtures: instances on SQLite and on PostgreSQL, users, tokens.

PostgreSQL tests use the server named by ``HALLMARK_TEST_POSTGRES_URL`` (an admin URL such as
``postgresql://postgres@127.0.0.1:5432/test``); each test module gets its own database, created
and dropped here. Without the variable they are skipped with a visible reason, unless
``HALLMARK_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hallmark.services import accounts
from hallmark.services.instance import Instance, init_instance, open_instance
from hallmark.storage.models import User
from tests.scratch_db import postgres_database

POSTGRES_ENV = "HALLMARK_TEST_POSTGRES_URL"
REQUIRE_ENV = "HALLMARK_REQUIRE_POSTGRES"


def _postgres_admin_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {POSTGRES_ENV} is not set")
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql://postgres@127.0.0.1/test)"
        )
    return url


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test module; dropped afterwards."""
    admin = _postgres_admin_url()
    assert admin is not None
    with ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_database(admin, "hallmark_test"))
        except Exception as exc:  # the server is down or unreachable
            if os.environ.get(REQUIRE_ENV) == "1":
                pytest.fail(f"cannot reach PostgreSQL at {admin}: {exc}")
            pytest.skip(f"PostgreSQL is not reachable: {exc}")
        yield url


class FixedClock:
    """A clock that stands still unless moved: certificates become byte-exact."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def make_instance(home: Path, database_url: str | None = None, **settings: Any) -> Instance:
    init_instance(home, database_url=database_url)
    from hallmark.settings import Settings

    # Uploads through the web are analysed in the background (issue #4); tests choose the
    # detectors they need, so none loads the AI-text language model unasked.
    settings.setdefault("detectors", [])
    # Prior-art checks load the sentence embedder and would match the same test text
    # registered by different users; the tests of issue #5 turn them on.
    settings.setdefault("similarity_index", "")
    # The muse's default backend loads SmolLM2 on first use; the tests of issue #8 choose a
    # fake backend, or the real model where that is what they test.
    settings.setdefault("muse_backend", "")
    return open_instance(Settings.load(home, **settings))


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    """A fresh SQLite instance in a temporary folder."""
    inst = make_instance(tmp_path / "home")
    yield inst
    inst.close()


def reset_postgres(url: str) -> None:
    """Empty the PostgreSQL database at ``url`` (its public schema dropped and made again)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Instance]:
    """The same instance on SQLite, then on PostgreSQL: for the shared storage suite."""
    if request.param == "sqlite":
        inst = make_instance(tmp_path / "home")
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgres(url)
        inst = make_instance(tmp_path / "home", database_url=url)
    yield inst
    inst.close()


@pytest.fixture
def fixed_clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC))


def add_user(
    inst: Instance, handle: str, role: str = "creator", password: str | None = None
) -> str:
    """Create a user; return their id."""
    with inst.db.session() as session:
        return accounts.create_user(inst, session, handle, role=role, password=password).id


def get_user(inst: Instance, handle: str, role: str = "creator") -> User:
    """Create a user and return the row (detached, for the services that take a viewer)."""
    user_id = add_user(inst, handle, role)
    with inst.db.session() as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


def add_token(inst: Instance, handle: str) -> str:
    with inst.db.session() as session:
        return accounts.create_token(inst, session, accounts.get_user(session, handle))


REDIS_ENV = "HALLMARK_TEST_REDIS_URL"
REQUIRE_REDIS_ENV = "HALLMARK_REQUIRE_REDIS"
#: A database of its own on the local Redis; never 0, which other programs may use.
DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database for one test (``HALLMARK_TEST_REDIS_URL``, else the local server's
    database 13), emptied before and after. Skipped when Redis cannot be reached, unless
    ``HALLMARK_REQUIRE_REDIS=1`` (set by ``.ci/run``)."""
    import redis

    url = os.environ.get(REDIS_ENV) or DEFAULT_TEST_REDIS
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if os.environ.get(REQUIRE_REDIS_ENV) == "1":
            pytest.fail(f"cannot reach Redis at {url}: {exc}")
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    if int(client.connection_pool.connection_kwargs.get("db", 0)) == 0:
        pytest.fail(f"{REDIS_ENV} must name a Redis database other than 0 (it is emptied)")
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
