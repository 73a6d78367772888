"""Pages for accounts: sign up, log in, log out (issue #2, items 5 and 8).

Logging out ends the user's sessions in every browser, copies of the cookie included
(:func:`hallmark.services.accounts.end_sessions`).

Forms that fail are drawn again with the person's input (escaped by the templates) and a
sentence saying what to fix; passwords are never sent back. Every POST checks the CSRF token
first, before looking at anything else the form says.

Failed logins lock out only the (account, address) pair they came from, so a stranger cannot
lock the owner out (:func:`hallmark.services.accounts.authenticate`). Logins and sign-ups are
also counted per client address over all accounts (``login_attempts_per_minute``, issue #7,
item 6): the per-account counts do not see one password tried against many accounts, and
each attempt costs a deliberately slow password hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from hallmark.errors import HallmarkError, InputError, RateLimitedError
from hallmark.services import accounts
from hallmark.services.instance import Instance
from hallmark.web import sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.ratelimit import app_buckets, charge, client_address, client_key
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else (``//evil``, URLs) goes home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target[:300]


def redirect(path: str) -> RedirectResponse:
    # 303 turns the browser's POST into a GET of the new page.
    return RedirectResponse(path, status_code=303)


def login_first(path: str) -> RedirectResponse:
    """Send an anonymous visitor to log in, and back to ``path`` afterwards."""
    return redirect("/login?" + urlencode({"next": path}))


def charge_attempt(request: Request, inst: Instance) -> None:
    """Count one login or sign-up against the client's address; raise when over the budget."""
    budget = {"attempts": inst.settings.login_attempts_per_minute}
    buckets = app_buckets(request, "login_attempts", budget)
    charge(buckets, client_key(request, None), {"attempts": 1}, "login attempts")


def form_refused(
    request: Request, name: str, context: Mapping[str, object], error: HallmarkError
) -> Response:
    """The form again with the error; a rate limit also says when to try again."""
    response = render(request, name, {**context, "error": error}, status_code=error.status)
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        # RFC 9110, section 10.2.3.
        response.headers["Retry-After"] = str(error.retry_after)
    return response


@router.get("/signup")
def signup_form(request: Request) -> Response:
    return render(
        request, "signup.html", {"form": {"handle": "", "display_name": ""}, "error": None}
    )


@router.post("/signup")
def signup(
    request: Request,
    inst: InstanceDep,
    csrf_token: FormText = "",
    handle: FormText = "",
    display_name: FormText = "",
    password: FormText = "",
    password_again: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    form = {"handle": handle[:60], "display_name": display_name[:120]}
    try:
        charge_attempt(request, inst)
        if password != password_again:
            raise InputError("The two passwords are not the same.", hint="Type it again twice.")
        with inst.db.session() as session:
            user = accounts.create_user(
                inst, session, handle, password=password, display_name=display_name or None
            )
    except HallmarkError as exc:
        return form_refused(request, "signup.html", {"form": form}, exc)
    sessions.log_in(request, user)
    sessions.set_notice(request, f"Welcome, {user.display_name}. Your account is ready.")
    return redirect("/upload")


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    context = {"handle": "", "next": safe_next(next), "error": None}
    return render(request, "login.html", context)


@router.post("/login")
def login(
    request: Request,
    inst: InstanceDep,
    csrf_token: FormText = "",
    handle: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    error: HallmarkError | None = None
    try:
        charge_attempt(request, inst)
        user = accounts.authenticate(inst, handle, password, client=client_address(request))
    except HallmarkError as exc:
        error = exc
    if error is not None:
        context = {"handle": handle[:60], "next": safe_next(next)}
        return form_refused(request, "login.html", context, error)
    sessions.log_in(request, user)
    return redirect(safe_next(next))


@router.post("/logout")
def logout(
    request: Request, inst: InstanceDep, viewer: SessionUser, csrf_token: FormText = ""
) -> Response:
    sessions.check_csrf(request, csrf_token)
    sessions.log_out(request)
    if viewer is not None:
        # Clearing this browser's cookie is not enough: a copy of it would still sign in.
        with inst.db.session() as session:
            accounts.end_sessions(session, viewer.id)
        sessions.set_notice(request, "You are logged out.")
    return redirect("/")
