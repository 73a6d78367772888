"""Browser sessions: who is signed in, the CSRF token, and one-shot notices.

The session lives in a cookie signed with ``settings.secret_key`` (Starlette's
``SessionMiddleware``). It holds the user's id and handle, a random CSRF token, and at most one
notice to show on the next page. Every POST form carries the token in a hidden field and
:func:`check_csrf` compares it in constant time (OWASP CSRF cheat sheet, "synchronizer token").
Signing in starts a fresh session, so a token or id planted before login is not carried over.

A signed cookie stays valid wherever a copy of it is kept, so the session also holds the user's
``session_epoch`` as it was at login. Logging out raises the epoch in the database, and
:func:`session_epoch_matches` then refuses every cookie issued before (OWASP session management
cheat sheet, "Manual session expiration"). The epoch is per user, so logging out ends that
user's sessions in every browser.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request

from hallmark.storage.models import User
from hallmark.web.errors import CsrfError

CSRF_FIELD = "csrf_token"
_CSRF_KEY = "csrf"
_USER_KEY = "user_id"
_HANDLE_KEY = "handle"
_ROLE_KEY = "role"
_EPOCH_KEY = "epoch"
_NOTICE_KEY = "notice"


def has_session(request: Request) -> bool:
    # Error pages can be drawn outside the session middleware, before it ran.
    return "session" in request.scope


def csrf_token(request: Request) -> str:
    """This session's CSRF token, created on first use."""
    if not has_session(request):
        return ""
    token = request.session.get(_CSRF_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[_CSRF_KEY] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    expected = request.session.get(_CSRF_KEY) if has_session(request) else None
    if not isinstance(expected, str) or not sent or not secrets.compare_digest(expected, sent):
        raise CsrfError(
            "This form was sent without a valid security token, so it was refused.",
            hint="Reload the page and send the form again. If cookies are blocked, allow them "
            "for this site.",
        )


def log_in(request: Request, user: User) -> None:
    request.session.clear()
    request.session[_USER_KEY] = user.id
    request.session[_HANDLE_KEY] = user.handle
    # Only to choose which links the navigation shows (issue #4, "Review"); every route
    # checks the role from the database itself.
    request.session[_ROLE_KEY] = user.role
    request.session[_EPOCH_KEY] = user.session_epoch
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def session_user_id(request: Request) -> str | None:
    value = request.session.get(_USER_KEY) if has_session(request) else None
    return value if isinstance(value, str) else None


def session_epoch_matches(request: Request, user: User) -> bool:
    """Whether this session was signed in at the user's current epoch (not logged out since).

    A session without an epoch was signed in before epochs existed and counts as ended.
    """
    value = request.session.get(_EPOCH_KEY) if has_session(request) else None
    return isinstance(value, int) and value == user.session_epoch


def session_handle(request: Request) -> str | None:
    value = request.session.get(_HANDLE_KEY) if has_session(request) else None
    return value if isinstance(value, str) else None


def session_role(request: Request) -> str | None:
    value = request.session.get(_ROLE_KEY) if has_session(request) else None
    return value if isinstance(value, str) else None


def set_notice(request: Request, text: str) -> None:
    request.session[_NOTICE_KEY] = text


def pop_notice(request: Request) -> str | None:
    if not has_session(request):
        return None
    value = request.session.pop(_NOTICE_KEY, None)
    return value if isinstance(value, str) else None
