"""The JSON API, mounted under ``/api/v1`` (issue #2, item 7).

Writes need a bearer API token; reads take one optionally, to see the caller's own private
works. Every error is an RFC 9457 problem document (:mod:`hallmark.web.errors`).
"""

from __future__ import annotations

from fastapi import APIRouter

from hallmark.web.api import (
    certificates,
    consent,
    drafts,
    insights,
    log,
    muse,
    review,
    search,
    similarity,
    stages,
    verify,
    works,
)
from hallmark.web.api.schemas import PROBLEM_RESPONSES

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, responses=PROBLEM_RESPONSES)
    modules = (
        works,
        stages,
        drafts,
        muse,
        verify,
        certificates,
        log,
        review,
        similarity,
        consent,
        insights,
        search,
    )
    for module in modules:
        router.include_router(module.router)
    # A file's headers, TDMRep consent included, for HEAD too (hallmark.web.downloads). Left
    # out of the OpenAPI document, which describes HEAD nowhere else either.
    router.add_api_route(
        "/works/{work_id}/file", works.get_file, methods=["HEAD"], include_in_schema=False
    )
    return router
