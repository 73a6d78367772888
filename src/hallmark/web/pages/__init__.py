"""Server-rendered pages (issue #2, item 8): Jinja2 templates, no scripts, no external assets.

Pages use the browser session for identity and check a CSRF token on every POST form. Every
page checks the session against the database first (once per request, shared with the routes
that ask for :data:`~hallmark.web.deps.SessionUser`), so a session that was logged out
elsewhere is not shown as signed in, not even in the navigation drawn from the cookie.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from hallmark.web.deps import get_session_user
from hallmark.web.pages import (
    accounts,
    badges,
    consent,
    creators,
    disputes,
    editor,
    gallery,
    insights,
    log,
    report,
    review,
    stages,
    verify,
    works,
)


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=[Depends(get_session_user)])
    modules = (
        works,
        stages,
        report,
        editor,
        accounts,
        verify,
        log,
        insights,
        gallery,
        creators,
        review,
        disputes,
        badges,
        consent,
    )
    for module in modules:
        router.include_router(module.router)
    # A file's headers, TDMRep consent included, for HEAD too (hallmark.web.downloads).
    router.add_api_route("/works/{work_id}/file", works.work_file, methods=["HEAD"])
    return router
