"""The log page (latest signed checkpoint, size, verifier key) and the problem-type pages.

``/problems/<slug>`` is where the ``type`` of every RFC 9457 problem the site sends points,
so a developer who meets one can read what it means (RFC 9457, section 3.1.1).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.errors import NotFoundError
from hallmark.services import log as log_service
from hallmark.web.deps import InstanceDep
from hallmark.web.errors import PROBLEM_TYPES
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/log")
def log_page(request: Request, inst: InstanceDep) -> Response:
    checkpoint = log_service.latest_checkpoint(inst)
    context = {
        "checkpoint": checkpoint.note,
        "size": checkpoint.size,
        "published": checkpoint.created_at,
        "verifier_key": inst.verifier_key,
        "origin": inst.origin,
    }
    return render(request, "log.html", context)


@router.get("/problems/{slug}")
def problem_page(request: Request, slug: str) -> Response:
    if slug not in PROBLEM_TYPES:
        raise NotFoundError(f"There is no problem type '{slug[:40]}'.")
    title, meaning = PROBLEM_TYPES[slug]
    return render(request, "problem.html", {"slug": slug, "title": title, "meaning": meaning})
