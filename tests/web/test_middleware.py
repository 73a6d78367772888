"""Tests for :mod:`hallmark.web.middleware`: the upload limit and the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hallmark.web.app import create_app
from hallmark.web.headers import CONTENT_SECURITY_POLICY
from hallmark.web.middleware import BODY_OVERHEAD_BYTES
from tests.conftest import add_token, add_user, make_instance
from tests.web.conftest import HTML, Web

LIMIT = 2_000


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Web]:
    """An instance that accepts uploads of at most 2,000 bytes."""
    inst = make_instance(tmp_path / "home", max_upload_bytes=LIMIT)
    add_user(inst, "alice")
    token = add_token(inst, "alice")
    with TestClient(create_app(inst.settings, instance=inst)) as client:
        yield Web(client, inst, {"alice": token})
    inst.close()


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(small: Web) -> None:
    response = small.upload("alice", b"word " * 1_000)
    assert response.status_code == 413
    body = response.json()
    assert body["type"] == "/problems/too-large"
    assert body["detail"] == "The file is larger than the limit of 2,000 bytes."
    assert small.work_count() == 0


def test_a_declared_body_over_the_limit_is_refused_before_reading(small: Web) -> None:
    too_big = LIMIT + BODY_OVERHEAD_BYTES + 1
    response = small.client.post(
        "/api/v1/works",
        headers={**small.auth("alice"), "Content-Type": "application/octet-stream"},
        content=b"x" * too_big,
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    limit = f"{LIMIT + BODY_OVERHEAD_BYTES:,}"
    assert (
        response.json()["detail"]
        == f"The request is larger than this instance's limit of {limit} bytes."
    )


def test_a_streamed_body_is_cut_off_at_the_limit(small: Web) -> None:
    def chunks() -> Iterator[bytes]:
        # No Content-Length: the body is sent chunked and must be counted as it arrives.
        for _ in range(20):
            yield b"y" * 100_000

    response = small.client.post(
        "/api/v1/verify",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        content=chunks(),
    )
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/too-large"


def test_the_413_is_a_page_for_browsers(small: Web) -> None:
    response = small.client.post(
        "/upload",
        headers={**HTML, "Content-Type": "application/octet-stream"},
        content=b"x" * (LIMIT + BODY_OVERHEAD_BYTES + 1),
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "larger than this instance" in response.text


@pytest.mark.parametrize("path", ["/", "/verify", "/log", "/signup", "/static/hallmark.css"])
def test_pages_carry_the_security_headers(web: Web, path: str) -> None:
    response = web.client.get(path, headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_script_or_style(web: Web) -> None:
    web.register("alice")
    for path in ["/", "/verify", "/log", "/signup", "/login"]:
        text = web.client.get(path, headers=HTML).text
        assert "<script" not in text and "style=" not in text and "<style" not in text


def test_the_openapi_document_is_served_and_no_cdn_page_is(web: Web) -> None:
    assert web.client.get("/api/v1/openapi.json").json()["info"]["title"] == "Hallmark"
    # FastAPI's Swagger page would load scripts from a CDN and need an inline script.
    assert web.client.get("/api/v1/docs").status_code == 404


def test_session_cookie_is_http_only_and_lax(web: Web) -> None:
    response = web.client.get("/signup", headers=HTML)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
