"""Pages for prior art (issue #5): opening a dispute from a match, the dispute page with both
works side by side and the reviewer's decision, and the creator's dashboard: notifications,
disputes, open drafts and works under review (issue #7, item 3).

The services decide who may do what; a visitor who is not signed in is sent to log in first,
and every form carries the CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from hallmark.errors import HallmarkError
from hallmark.services import disputes, drafts, notifications, review
from hallmark.storage.models import User
from hallmark.web import sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages.accounts import FormText, login_first, redirect
from hallmark.web.templating import render

router = APIRouter(include_in_schema=False)


@router.post("/works/{work_id}/disputes")
def open_dispute(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    match_id: FormText = "",
    statement: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/works/{work_id}")
    try:
        result = disputes.open_dispute(inst, viewer, match_id=match_id, statement=statement)
    except HallmarkError as exc:
        if exc.status not in (400, 409):
            raise
        sessions.set_notice(request, f"The dispute was not opened: {exc.detail}")
        return redirect(f"/works/{work_id}")
    sessions.set_notice(request, "Your dispute is open; a reviewer will compare the two works.")
    return redirect(f"/disputes/{result['dispute_id']}")


def _show(
    request: Request,
    inst: InstanceDep,
    viewer: User,
    dispute_id: str,
    *,
    error: HallmarkError | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    context = disputes.get(inst, viewer, dispute_id)
    return render(
        request,
        "dispute.html",
        {
            "dispute": context,
            "claimant_evidence": context.get("claimant_evidence"),
            "respondent_evidence": context.get("respondent_evidence"),
            "error": error,
            "form": form or {"decision": "", "reason": ""},
        },
        status_code=error.status if error else 200,
    )


@router.get("/disputes/{dispute_id}")
def dispute_page(
    request: Request, inst: InstanceDep, viewer: SessionUser, dispute_id: str
) -> Response:
    if viewer is None:
        return login_first(f"/disputes/{dispute_id}")
    return _show(request, inst, viewer, dispute_id)


@router.post("/disputes/{dispute_id}")
def decide(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    dispute_id: str,
    csrf_token: FormText = "",
    decision: FormText = "",
    reason: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/disputes/{dispute_id}")
    try:
        result = disputes.decide(inst, viewer, dispute_id, decision=decision, reason=reason)
    except HallmarkError as exc:
        if exc.status not in (400, 409):
            raise
        form = {"decision": decision[:20], "reason": reason[:2000]}
        return _show(request, inst, viewer, dispute_id, error=exc, form=form)
    if result["revoked_certificate_id"]:
        sessions.set_notice(request, "Upheld: the later certificate is revoked in the log.")
    else:
        sessions.set_notice(request, f"Recorded: the dispute is {result['status']}.")
    return redirect("/review")


@router.get("/dashboard")
def dashboard(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    if viewer is None:
        return login_first("/dashboard")
    context = notifications.for_user(inst, viewer)
    context["disputes"] = disputes.for_user(inst, viewer)
    context["drafts"] = [draft.summary() for draft in drafts.list_drafts(inst, viewer)]
    context["under_review"] = review.for_creator(inst, viewer)
    context["viewer_page"] = f"/creators/{viewer.handle}"
    return render(request, "dashboard.html", context)


@router.post("/dashboard/read")
def mark_read(
    request: Request, inst: InstanceDep, viewer: SessionUser, csrf_token: FormText = ""
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first("/dashboard")
    notifications.mark_all_read(inst, viewer)
    return redirect("/dashboard")
