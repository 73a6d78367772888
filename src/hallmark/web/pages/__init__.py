"""Server-rendered pages (issue #2, item 8): Jinja2 templates, no scripts, no external assets.

Pages use the browser session for identity and check a CSRF token on every POST form.
"""

from __future__ import annotations

from fastapi import APIRouter

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
    router = APIRouter(include_in_schema=False)
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
    return router
