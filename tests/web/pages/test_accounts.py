"""Tests for :mod:`hallmark.web.pages.accounts`: sign up, log in, log out, CSRF and lockout.

Logging out must end the session for every copy of its cookie, not only this browser's.
"""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from hallmark.storage.models import User
from hallmark.web.app import SESSION_COOKIE
from hallmark.web.pages.accounts import safe_next
from tests.conftest import add_user
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


def _log_out(web: Web) -> None:
    home = web.client.get("/", headers=HTML)
    response = web.client.post(
        "/logout", headers=HTML, data={"csrf_token": csrf_of(home)}, follow_redirects=False
    )
    assert response.status_code == 303


def _with_cookie(web: Web, cookie: str) -> None:
    """Make the test client present ``cookie`` as its session, as a stolen copy would be."""
    web.client.cookies.clear()
    web.client.cookies.set(SESSION_COOKIE, cookie)


def _signed_in_as(web: Web) -> str | None:
    upload = web.client.get("/upload", headers=HTML, follow_redirects=False)
    if upload.status_code == 303:
        assert upload.headers["location"].startswith("/login?")
        return None
    found = re.search(r"Log out <span class=\"muted\">@([a-z0-9_-]+)</span>", upload.text)
    assert upload.status_code == 200 and found
    return found.group(1)


def test_a_cookie_copied_before_logout_no_longer_signs_in(any_web: Web) -> None:
    signup(any_web.client, "clara")
    copied = any_web.client.cookies[SESSION_COOKIE]
    assert _signed_in_as(any_web) == "clara"
    _log_out(any_web)

    _with_cookie(any_web, copied)
    assert _signed_in_as(any_web) is None
    # Nor does the navigation of a page that asks nobody's rights show it as signed in.
    _with_cookie(any_web, copied)
    assert "@clara" not in any_web.client.get("/verify", headers=HTML).text
    # Nor does the editor's API, which also takes the session cookie.
    _with_cookie(any_web, copied)
    assert any_web.client.get("/api/v1/drafts").status_code == 401

    any_web.client.cookies.clear()
    assert login(any_web.client, "clara").status_code == 303
    assert _signed_in_as(any_web) == "clara"


def test_logging_out_in_one_browser_ends_the_others(web: Web) -> None:
    signup(web.client, "clara")
    other_browser = web.client.cookies[SESSION_COOKIE]
    web.client.cookies.clear()
    login(web.client, "clara")
    _log_out(web)
    _with_cookie(web, other_browser)
    assert _signed_in_as(web) is None


def _forge_session(web: Web, data: dict[str, object]) -> str:
    """A session cookie signed as Starlette's SessionMiddleware signs one."""
    payload = base64.b64encode(json.dumps(data).encode("utf-8"))
    return TimestampSigner(web.inst.settings.secret_key).sign(payload).decode("utf-8")


def test_a_session_from_before_epochs_counts_as_logged_out(web: Web) -> None:
    add_user(web.inst, "clara")
    with web.inst.db.session() as session:
        user_id = session.scalars(select(User.id).where(User.handle == "clara")).one()
    session_data: dict[str, object] = {"user_id": user_id, "handle": "clara"}
    _with_cookie(web, _forge_session(web, session_data))
    assert _signed_in_as(web) is None
    # The same cookie with the current epoch is accepted, so the forgery above is faithful.
    _with_cookie(web, _forge_session(web, {**session_data, "epoch": 0}))
    assert _signed_in_as(web) == "clara"
