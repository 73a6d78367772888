"""Fixtures for the web face: a TestClient over ``create_app`` on a fresh instance.

``client`` runs on SQLite; ``any_client`` runs the same test on SQLite and on PostgreSQL (through
the shared ``any_instance`` fixture). Helpers sign people up through the pages, pull the CSRF
token out of a form, and upload works through the API.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.exceptions import StarletteDeprecationWarning

from hallmark.services.instance import Instance
from hallmark.storage.models import Work
from hallmark.web.app import create_app
from tests.conftest import add_token, add_user

with warnings.catch_warnings():
    # Starlette 1.x asks for the httpx2 fork; httpx, which the project installs, still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
PASSWORD = "a long enough password"
POEM = b"The tide goes out,\nthe gulls come in;\nthe harbour keeps its counsel.\n"


@dataclass
class Web:
    """A test client with the instance behind it and a few people with API tokens."""

    client: TestClient
    inst: Instance
    tokens: dict[str, str]

    def auth(self, handle: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[handle]}"}

    def add_person(self, handle: str, role: str = "creator", password: str | None = None) -> str:
        add_user(self.inst, handle, role, password)
        self.tokens[handle] = add_token(self.inst, handle)
        return self.tokens[handle]

    def upload(
        self,
        handle: str,
        data: bytes = POEM,
        *,
        filename: str = "poem.txt",
        title: str = "Harbour",
        declare: str = "human-made",
        **fields: str,
    ) -> httpx.Response:
        return self.client.post(
            "/api/v1/works",
            headers=self.auth(handle),
            files={"file": (filename, data, "application/octet-stream")},
            data={"title": title, "declare": declare, **fields},
        )

    def register(self, handle: str, data: bytes = POEM, **fields: Any) -> dict[str, Any]:
        response = self.upload(handle, data, **fields)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def work_count(self) -> int:
        with self.inst.db.session() as session:
            return int(session.scalar(select(func.count()).select_from(Work)) or 0)


def _web(inst: Instance) -> Iterator[Web]:
    with TestClient(create_app(inst.settings, instance=inst)) as client:
        web = Web(client, inst, {})
        web.add_person("alice")
        web.add_person("bruno")
        web.add_person("root", role="admin")
        yield web


@pytest.fixture
def web(instance: Instance) -> Iterator[Web]:
    """The web app over a fresh SQLite instance, with creators alice and bruno, admin root.

    They have API tokens but no passwords (hashing one takes a while); page tests sign up.
    """
    yield from _web(instance)


@pytest.fixture
def any_web(any_instance: Instance) -> Iterator[Web]:
    """The same, on SQLite and then on PostgreSQL."""
    yield from _web(any_instance)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token in a page's form."""
    found = _CSRF.search(page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def signup(client: TestClient, handle: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/signup", headers=HTML))
    return client.post(
        "/signup",
        headers=HTML,
        data={
            "csrf_token": token,
            "handle": handle,
            "password": password,
            "password_again": password,
        },
        follow_redirects=False,
    )


def login(client: TestClient, handle: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/login", headers=HTML))
    return client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": token, "handle": handle, "password": password},
        follow_redirects=False,
    )
