"""Pages for works: the home page, the upload form, the work page, its file and bundle, and
revoking from the work page (issue #2, item 8).

The home page lists public works only, whoever is looking; a signed-in person also sees a list
of their own works, private ones included. Everything else goes through
:func:`hallmark.services.registry.get_work`, so private works are "not found" for others.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from starlette.responses import Response

from hallmark.errors import HallmarkError, InputError
from hallmark.services import analysis, disputes, registry, review, stages
from hallmark.services import log as log_service
from hallmark.services.credentials import offers_credentials, upload_credentials
from hallmark.storage.models import Authorship, User, Work
from hallmark.web import downloads, sessions
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.pages import consent as consent_page
from hallmark.web.pages.accounts import FormText, login_first, redirect
from hallmark.web.pages.badges import embed_snippet
from hallmark.web.templating import render
from hallmark.web.uploads import parse_ai_share, receive_file, receive_upload

router = APIRouter(include_in_schema=False)

HOME_LIMIT = 12


@router.get("/")
def home(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    with inst.db.session() as session:
        # Passing no viewer keeps the public list public even when an admin is looking.
        latest = registry.list_works(session, None, limit=HOME_LIMIT)
        own = registry.list_works(session, viewer, creator=viewer) if viewer else []
        context = {"latest": [_summary(w) for w in latest], "own": [_summary(w) for w in own]}
    return render(request, "home.html", context)


def _summary(work: Work) -> dict[str, Any]:
    return {
        "id": work.id,
        "title": work.title,
        "kind": work.kind,
        "creator": work.creator.display_name,
        "creator_handle": work.creator.handle,
        "label": work.label,
        "level": work.level,
        "visibility": work.visibility,
        "created_at": work.created_at,
        "revoked": bool(work.certificate and work.certificate.revocation),
    }


def _empty_upload_form() -> dict[str, str]:
    return {
        "title": "",
        "declare": "human-made",
        "ai_share": "",
        "visibility": "public",
        "statement": "",
        # Empty: the creator's default (issue #6).
        "consent": "",
        "consent_policy_url": "",
    }


@router.get("/upload")
def upload_form(request: Request, inst: InstanceDep, viewer: SessionUser) -> Response:
    if viewer is None:
        return login_first("/upload")
    context = {"form": _empty_upload_form(), "error": None}
    context["consent_default"] = consent_page.upload_context(inst, viewer)
    return render(request, "upload.html", context)


@router.post("/upload")
def upload(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    file: Annotated[UploadFile | None, File()] = None,
    stage: Annotated[list[UploadFile] | None, File()] = None,
    csrf_token: FormText = "",
    title: FormText = "",
    declare: FormText = "human-made",
    ai_share: FormText = "",
    visibility: FormText = "public",
    statement: FormText = "",
    consent: FormText = "",
    consent_policy_url: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first("/upload")
    form = {
        "title": title[:400],
        "declare": declare,
        "ai_share": ai_share[:20],
        "visibility": visibility,
        "statement": statement[:2000],
        "consent": consent[:20],
        "consent_policy_url": consent_policy_url[:2000],
    }
    limit = inst.settings.max_upload_bytes
    try:
        with ExitStack() as spools:
            content = receive_upload(file, limit=limit)
            if content is None:
                raise InputError("Choose the file of your work.", hint="UTF-8 text or an image.")
            spools.enter_context(content)
            # Browsers send an empty part when no draft was chosen; those are not drafts.
            drafts = [
                stages.StageUpload(
                    spools.enter_context(receive_file(part, limit=limit)), part.filename
                )
                for part in stage or []
                if part.filename
            ]
            registration = stages.register_with_stages(
                inst,
                stages=drafts,
                creator_id=viewer.id,
                data=content,
                title=title,
                declare=declare,
                ai_share=parse_ai_share(ai_share),
                visibility=visibility,
                filename=file.filename if file else None,
                statement=statement,
                consent=consent or None,
                # The conditions field is always on the form; it counts only with constrained.
                consent_policy_url=consent_policy_url if consent == "constrained" else None,
                analyse=True,
            )
    except HallmarkError as exc:
        if exc.status >= 500:
            raise
        context = {"form": form, "error": exc}
        context["consent_default"] = consent_page.upload_context(inst, viewer)
        return render(request, "upload.html", context, status_code=exc.status)
    analysis.dispatch_registered(inst, registration)
    sessions.set_notice(request, "Your certificate is issued and recorded in the public log.")
    return redirect(f"/works/{registration.work_id}")


def _may_revoke(work: Work, viewer: User | None) -> bool:
    return viewer is not None and (viewer.id == work.creator_id or viewer.role == "admin")


@router.get("/works/{work_id}")
def work_page(request: Request, inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        cert = work.certificate
        revocation = cert.revocation if cert else None
        report = session.get(Authorship, work.id)
        context: dict[str, Any] = {
            "work": registry.work_json(work),
            "creator_name": work.creator.display_name,
            "certificate": log_service.statement_json(cert.body) if cert else None,
            "revocation": (
                {"reason": revocation.reason, "at": revocation.created_at} if revocation else None
            ),
            "statement": str(work.declaration.get("statement") or ""),
            "may_revoke": _may_revoke(work, viewer) and revocation is None and cert is not None,
            "may_change_visibility": _may_revoke(work, viewer),
            # The report link is shown only where it leads somewhere for this viewer.
            "report_visible": report is not None and (report.public or _may_revoke(work, viewer)),
        }
        text = None
        if work.kind == "text":
            # The stored bytes were checked as UTF-8 at registration; replace rather than fail
            # if the blob store ever hands back something else.
            text = inst.blobs.get(work.blob_key).decode("utf-8", errors="replace")
        context["text"] = text
        latest = analysis.latest(session, work.id)
        context["analysis"] = analysis.analysis_json(latest) if latest else None
        # Why a work is in review, and a rejection's reason, are for its creator and reviewers.
        involved = _may_revoke(work, viewer) or review.is_reviewer(viewer)
        context["review"] = review.status_for(session, work) if involved else None
        context["is_creator"] = viewer is not None and viewer.id == work.creator_id
        # Content Credentials (issue #6): the download that embeds them, and what the upload's
        # own manifest claims.
        context["offers_credentials"] = offers_credentials(work)
        context["upload_credentials"] = upload_credentials(inst, work)
        context["embed_snippet"] = embed_snippet(inst.settings.public_url, work)
        # AI-training consent, its JSON-LD and TDMRep headers (issue #6).
        context["consent"] = consent_page.work_context(inst, work, viewer)
    context["progression"] = stages.progression(inst, work_id, viewer)
    context["matches"] = disputes.matches_for(inst, viewer, work_id)
    response = render(request, "work.html", context)
    response.headers.update(context["consent"]["headers"])
    return response


@router.get("/works/{work_id}/file")
def work_file(
    inst: InstanceDep, viewer: SessionUser, work_id: str, credentials: str | None = None
) -> Response:
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        return downloads.work_file_response(inst, work, credentials)


@router.get("/works/{work_id}/bundle")
def work_bundle(inst: InstanceDep, viewer: SessionUser, work_id: str) -> Response:
    with inst.db.session() as session:
        return downloads.bundle_response(session, registry.get_work(session, work_id, viewer))


@router.post("/works/{work_id}/visibility")
def change_visibility(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    visibility: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/works/{work_id}")
    result = registry.change_visibility(inst, work_id, viewer, visibility)
    sessions.set_notice(request, VISIBILITY_NOTICES[result["visibility"]])
    return redirect(f"/works/{work_id}")


VISIBILITY_NOTICES = {
    "public": "The work is public: it is listed in the gallery and found by search.",
    "unlisted": "The work is unlisted: anyone with its link can see it; it is not listed.",
    "private": "The work is private: only you and the instance's admins can see it.",
}


@router.post("/works/{work_id}/revoke")
def revoke(
    request: Request,
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    csrf_token: FormText = "",
    reason: FormText = "",
) -> Response:
    sessions.check_csrf(request, csrf_token)
    if viewer is None:
        return login_first(f"/works/{work_id}")
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        certificate_id = work.certificate.id if work.certificate else ""
    registry.revoke(inst, certificate_id=certificate_id, reason=reason, actor=viewer)
    sessions.set_notice(request, "The certificate is revoked; the revocation is in the log.")
    return redirect(f"/works/{work_id}")
