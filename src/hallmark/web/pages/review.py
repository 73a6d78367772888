"""Review pages (issue #4, item 5): the queue, one work's evidence with the decision form, and
the creator's appeal form handler (the form itself is on the work page).

Only reviewers and admins see the queue; anyone else signed in gets the 403 page, and a
visitor who is not signed in is sent to log in first. Every form carries the CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.errors import HallmarkError
from hallmark.services import disputes, review
from hallmark.web import sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages.accounts import FormText, login_first, redirect
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/review")
def queue_page(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    if viewer is None:
        return login_first("/review")
    return render(
        request,
        "review_queue.html",
        {"works": review.queue(inst, viewer), "disputes": disputes.list_open(inst, viewer)},
    )


@router.get("/review/{work_id}")
def work_page(request: Request, inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    if viewer is None:
        return login_first(f"/review/{work_id}")
    context = review.evidence(inst, work_id, viewer)
    return render(
        request,
        "review_work.html",
        {**context, "error": None, "form": {"decision": "", "reason": ""}},
    )


@router.post("/review/{work_id}")
def decide(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    decision: FormText = "",
    reason: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/review/{work_id}")
    try:
        result = review.decide(inst, work_id, viewer, decision=decision, reason=reason)
    except HallmarkError as exc:
        if exc.status not in (400, 409):
            raise
        context = review.evidence(inst, work_id, viewer)
        form = {"decision": decision[:20], "reason": reason[:2000]}
        return render(
            request,
            "review_work.html",
            {**context, "error": exc, "form": form},
            status_code=exc.status,
        )
    if result["decision"] == "approved":
        sessions.set_notice(request, "Approved: the certificate is reissued at level reviewed.")
    else:
        sessions.set_notice(request, "Rejected: the creator will see your reason.")
    return redirect("/review")


@router.post("/works/{work_id}/appeal")
def appeal(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    message: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/works/{work_id}")
    try:
        review.appeal(inst, work_id, viewer, message=message)
    except HallmarkError as exc:
        if exc.status not in (400, 409):
            raise
        sessions.set_notice(request, f"Your appeal was not sent: {exc.detail}")
        return redirect(f"/works/{work_id}")
    sessions.set_notice(request, "Your appeal is sent; the work is back in the review queue.")
    return redirect(f"/works/{work_id}")
