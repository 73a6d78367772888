"""The web application: ``create_app(settings)`` wires the API, the pages and their safeguards.

Nothing is built at import time (DESIGN.md, "Settings"): the caller passes the settings, and
optionally an already open :class:`Instance` (tests, ``hallmark serve``). An instance opened
here is closed when the application shuts down; one passed in belongs to the caller.

Middleware, outermost first: security headers on every answer; the signed session cookie;
the request body limit, which sits inside the session so its 413 page can show who is signed
in. Errors from anywhere below are answered by :mod:`hallmark.web.errors`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from starlette.staticfiles import StaticFiles

from hallmark import __version__
from hallmark.errors import UnavailableError
from hallmark.services import analysis, similarity
from hallmark.services.instance import Instance, open_instance
from hallmark.settings import Settings
from hallmark.web import api, pages
from hallmark.web.errors import install_error_handlers
from hallmark.web.middleware import (
    BODY_OVERHEAD_BYTES,
    BodyLimitMiddleware,
    SecurityHeadersMiddleware,
)
from hallmark.web.templating import make_templates

logger = logging.getLogger(__name__)

OPENAPI_URL = f"{api.API_PREFIX}/openapi.json"
SESSION_COOKIE = "hallmark_session"
SESSION_MAX_AGE = 7 * 24 * 3600

DESCRIPTION = """\
Register creative works, get signed certificates recorded in a public append-only log, and
verify works and bundles. Writes need an API token (`Authorization: Bearer <token>`, from
`hallmark token create HANDLE`). Errors are RFC 9457 `application/problem+json` documents.
"""


def create_app(settings: Settings, *, instance: Instance | None = None) -> FastAPI:
    owned = instance is None
    inst = instance if instance is not None else open_instance(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            resumed = analysis.resume_unfinished(inst)
        except UnavailableError as exc:
            # A process restarted while the database is down still starts (and answers 503
            # until it is back); the jobs' sweep finds what was left unfinished later.
            logger.warning("unfinished analyses not resumed: %s", exc.detail)
            resumed = 0
        if resumed:
            logger.info("queued %d unfinished analyses again", resumed)
        yield
        analysis.shutdown(inst)
        similarity.save(inst)
        if owned:
            inst.close()

    app = FastAPI(
        title="Hallmark",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=OPENAPI_URL,
        # FastAPI's docs pages load their scripts from a CDN, which this site never does
        # (no external CDN, strict CSP); the OpenAPI document itself is served.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.instance = inst
    app.state.templates = make_templates()

    install_error_handlers(app)
    app.include_router(api.build_router())
    app.include_router(pages.build_router())
    app.mount("/static", StaticFiles(packages=[("hallmark.web", "static")]), name="static")

    # add_middleware wraps what is already there, so the last one added is the outermost.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes + BODY_OVERHEAD_BYTES)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.secure_cookies,
    )
    app.add_middleware(SecurityHeadersMiddleware, https_only=settings.secure_cookies)
    return app


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory hallmark.web.app:app_from_environment``: settings from
    ``HALLMARK_HOME`` and ``HALLMARK_*`` variables, read when the server starts."""
    return create_app(Settings.load())
