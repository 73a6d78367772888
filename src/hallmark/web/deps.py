"""FastAPI dependencies, as ``Annotated`` aliases the routes declare in their signatures.

- :data:`InstanceDep`: the :class:`Instance` that ``create_app`` put on ``app.state``.
- :data:`SessionUser`: the user signed in to the browser session, or None (pages only). A
  session logged out since it was issued (a stale ``session_epoch``) counts as None.
- :data:`ApiViewer`: the user named by a bearer token, or None when there is no token (API
  reads). A token that is present but wrong is an error, never silently anonymous.
- :data:`CurrentUser`: the user named by a bearer token, required (API writes).
- :data:`AuthorViewer` / :data:`AuthorUser`: for the editor's routes (drafts, authorship
  reports, issue #3), a bearer token or the browser session, optional / required.

The API never looks at the session cookie, so a page on another site cannot make a browser
call it with the visitor's rights; pages never look at bearer tokens. The one exception is the
editor's routes, which its page calls with the session cookie: there every request that
changes something must also carry the session's CSRF token in an ``X-CSRF-Token`` header. A
page on another site cannot set that header without a CORS preflight, which this site never
grants, and cannot read the token (OWASP CSRF cheat sheet, "custom request headers").
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hallmark.errors import AuthError
from hallmark.services import accounts
from hallmark.services.instance import Instance
from hallmark.storage.models import User
from hallmark.web import sessions
from hallmark.web.errors import CsrfError


def get_instance(request: Request) -> Instance:
    return cast(Instance, request.app.state.instance)


InstanceDep = Annotated[Instance, Depends(get_instance)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from 'hallmark token create HANDLE', sent as a bearer token.",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_api_viewer(inst: InstanceDep, credentials: BearerCredentials) -> User | None:
    if credentials is None:
        return None
    with inst.db.session() as session:
        # The user stays usable after the session closes: sessions do not expire on commit.
        return accounts.user_for_token(session, credentials.credentials)


ApiViewer = Annotated[User | None, Depends(get_api_viewer)]


def get_current_user(viewer: ApiViewer) -> User:
    if viewer is None:
        raise AuthError(
            "This needs an API token.",
            hint="Send 'Authorization: Bearer <token>'; create a token with "
            "'hallmark token create HANDLE'.",
        )
    return viewer


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_session_user(request: Request, inst: InstanceDep) -> User | None:
    user_id = sessions.session_user_id(request)
    if user_id is None:
        return None
    with inst.db.session() as session:
        user = session.get(User, user_id)
    if user is None or not sessions.session_epoch_matches(request, user):
        # The account is gone or the session was logged out (perhaps in another browser);
        # forget the stale session rather than fail every page.
        sessions.log_out(request)
        return None
    return user


SessionUser = Annotated[User | None, Depends(get_session_user)]


CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_author_viewer(request: Request, inst: InstanceDep, viewer: ApiViewer) -> User | None:
    if viewer is not None:
        return viewer
    user = get_session_user(request, inst)
    if user is not None and request.method not in _SAFE_METHODS:
        try:
            sessions.check_csrf(request, request.headers.get(CSRF_HEADER))
        except CsrfError:
            raise CsrfError(
                f"This request came with the session cookie but without the session's "
                f"{CSRF_HEADER} header, so it was refused.",
                hint=f"Send the page's CSRF token in '{CSRF_HEADER}', or use an API token.",
            ) from None
    return user


AuthorViewer = Annotated[User | None, Depends(get_author_viewer)]


def get_author(viewer: AuthorViewer) -> User:
    if viewer is None:
        raise AuthError(
            "This needs an API token or a signed-in session.",
            hint="Sign in, or send 'Authorization: Bearer <token>'.",
        )
    return viewer


AuthorUser = Annotated[User, Depends(get_author)]
