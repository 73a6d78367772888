"""Tests for :mod:`hallmark.web.errors`: one handler, one problem shape, HTML for browsers.

The first test pins the exact RFC 9457 document byte for byte (as JSON), so a change to the
error format is a deliberate one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

import hallmark.errors as errors_module
from hallmark.errors import HallmarkError
from hallmark.web.app import create_app
from hallmark.web.errors import PROBLEM_TYPES, CsrfError, _slug
from tests.conftest import make_instance
from tests.web.conftest import HTML, Web


def test_problem_shape_is_pinned(web: Web) -> None:
    response = web.client.get("/api/v1/works/w_doesnotexist")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "There is no work 'w_doesnotexist'.",
    }


def test_hint_is_included_when_the_error_has_one(web: Web) -> None:
    response = web.client.post("/api/v1/works", files={"file": ("a.txt", b"x")})
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "/problems/not-authenticated"
    assert body["title"] == "Not authenticated"
    assert "hallmark token create" in body["hint"]
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_refused_not_treated_as_anonymous(web: Web) -> None:
    response = web.client.get(
        "/api/v1/works", headers={"Authorization": "Bearer hm_not-a-real-token"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "The API token is not valid."


def test_validation_errors_name_each_field(web: Web) -> None:
    response = web.client.post("/api/v1/works", headers=web.auth("alice"), data={"title": "x"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "/problems/invalid-input"
    fields = {item["field"] for item in body["errors"]}
    assert fields == {"file", "declare"}
    assert "'file' is required" in body["detail"]


def test_unknown_api_path_is_a_problem_even_for_browsers(web: Web) -> None:
    response = web.client.get("/api/v1/nothing-here", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_page_is_an_html_page_for_browsers(web: Web) -> None:
    response = web.client.get("/nothing-here", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is nothing at /nothing-here." in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


def test_unknown_page_is_a_problem_for_other_clients(web: Web) -> None:
    response = web.client.get("/nothing-here", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json()["title"] == "Not found"


def test_method_not_allowed_says_what_is(web: Web) -> None:
    response = web.client.delete("/api/v1/keys/public")
    assert response.status_code == 405
    body = response.json()
    assert body["type"] == "/problems/method-not-allowed"
    assert body["detail"] == "DELETE is not allowed here; use GET."
    assert response.headers["allow"] == "GET"


def test_unexpected_errors_are_a_generic_500_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inst = make_instance(tmp_path / "home")
    app = create_app(inst.settings, instance=inst)
    boom = APIRouter()

    @boom.get("/api/v1/boom")
    def explode() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.include_router(boom)
    with (
        TestClient(app, raise_server_exceptions=False) as client,
        caplog.at_level(logging.ERROR, logger="hallmark.web.errors"),
    ):
        response = client.get("/api/v1/boom")
    inst.close()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/server-error"
    assert "secret" not in response.text and "Traceback" not in response.text
    reference = body["detail"].split("reference ")[1].rstrip(").")
    assert any(reference in record.getMessage() for record in caplog.records)
    assert response.headers["x-content-type-options"] == "nosniff"


def _error_classes() -> list[type[HallmarkError]]:
    found = []
    for value in vars(errors_module).values():
        if isinstance(value, type) and issubclass(value, HallmarkError):
            found.append(value)
    return [*found, CsrfError]


@pytest.mark.parametrize("kind", _error_classes(), ids=lambda kind: kind.__name__)
def test_every_error_has_a_documented_problem_type(kind: type[HallmarkError]) -> None:
    slug = "server-error" if kind.status >= 500 else _slug(kind.title)
    assert slug in PROBLEM_TYPES


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_problem_type_pages_exist(web: Web, slug: str) -> None:
    response = web.client.get(f"/problems/{slug}", headers=HTML)
    assert response.status_code == 200
    assert PROBLEM_TYPES[slug][0] in response.text


def test_unknown_problem_type_is_not_found(web: Web) -> None:
    assert web.client.get("/problems/nope").status_code == 404
