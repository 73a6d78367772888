"""Tests for :mod:`hallmark.web.pages.accounts`: sign up, log in, log out, CSRF and lockout."""

from __future__ import annotations

import httpx
import pytest

from hallmark.web.pages.accounts import safe_next
from tests.web.conftest import HTML, PASSWORD, Web, csrf_of, login, signup


def test_signup_logs_in_and_goes_to_upload(web: Web) -> None:
    response = signup(web.client, "clara")
    assert response.status_code == 303
    assert response.headers["location"] == "/upload"
    page = web.client.get("/upload", headers=HTML)
    assert page.status_code == 200
    assert "Welcome, clara." in page.text
    assert "@clara" in page.text


def test_signup_errors_keep_the_input_escaped(web: Web) -> None:
    token = csrf_of(web.client.get("/signup", headers=HTML))
    response = web.client.post(
        "/signup",
        headers=HTML,
        data={
            "csrf_token": token,
            "handle": "clara",
            "display_name": '"><script>alert(1)</script>',
            "password": PASSWORD,
            "password_again": PASSWORD + "!",
        },
    )
    assert response.status_code == 400
    assert "The two passwords are not the same." in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert PASSWORD not in response.text


@pytest.mark.parametrize(
    ("handle", "password", "status", "message"),
    [
        ("x", PASSWORD, 400, "is not a valid handle"),
        ("clara", "short", 400, "at least 10 characters"),
        ("alice", PASSWORD, 409, "The handle &#39;alice&#39; is taken."),
    ],
)
def test_signup_refusals_are_shown_in_the_form(
    web: Web, handle: str, password: str, status: int, message: str
) -> None:
    response = signup(web.client, handle, password)
    assert response.status_code == status
    assert message in response.text
    assert 'role="alert"' in response.text


def test_login_and_logout(web: Web) -> None:
    signup(web.client, "clara")
    web.client.cookies.clear()
    response = login(web.client, "clara")
    assert response.status_code == 303 and response.headers["location"] == "/"
    home = web.client.get("/", headers=HTML)
    assert "Your works" in home.text
    logout = web.client.post(
        "/logout", headers=HTML, data={"csrf_token": csrf_of(home)}, follow_redirects=False
    )
    assert logout.status_code == 303
    assert "Your works" not in web.client.get("/", headers=HTML).text


def test_login_goes_to_next_but_only_on_this_site(web: Web) -> None:
    signup(web.client, "clara")
    web.client.cookies.clear()
    page = web.client.get("/login", params={"next": "/verify"}, headers=HTML)
    response = web.client.post(
        "/login",
        headers=HTML,
        data={
            "csrf_token": csrf_of(page),
            "handle": "clara",
            "password": PASSWORD,
            "next": "/verify",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/verify"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/upload", "/upload"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_safe_next(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_wrong_password_is_shown_with_the_handle_kept(web: Web) -> None:
    signup(web.client, "clara")
    web.client.cookies.clear()
    response = login(web.client, "clara", "not the password")
    assert response.status_code == 401
    assert "The handle or password is wrong." in response.text
    assert 'value="clara"' in response.text


def test_repeated_failures_lock_the_account(web: Web) -> None:
    signup(web.client, "clara")
    web.client.cookies.clear()
    for _ in range(web.inst.settings.login_max_failures):
        assert login(web.client, "clara", "not the password").status_code == 401
    response = login(web.client, "clara")
    assert response.status_code == 429
    assert "locked after too many failed logins" in response.text


@pytest.mark.parametrize("path", ["/signup", "/login", "/logout", "/verify"])
def test_a_form_without_the_csrf_token_is_refused(web: Web, path: str) -> None:
    web.client.get("/", headers=HTML)
    response = web.client.post(path, headers=HTML, data={"handle": "clara"})
    assert response.status_code == 403
    assert "without a valid security token" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_a_token_from_another_session_is_refused(web: Web) -> None:
    stolen = csrf_of(web.client.get("/signup", headers=HTML))
    web.client.cookies.clear()
    web.client.get("/signup", headers=HTML)
    response = signup_with(web, stolen)
    assert response.status_code == 403


def signup_with(web: Web, token: str) -> httpx.Response:
    return web.client.post(
        "/signup",
        headers=HTML,
        data={
            "csrf_token": token,
            "handle": "clara",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
