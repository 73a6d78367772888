"""API routes for the editor: drafts, their process journal, submitting one as a work, and the
authorship report (issue #3, items 2, 3 and 6).

The editor's page calls these with the browser session (and the ``X-CSRF-Token`` header on
writes); other editors use a bearer token (:data:`hallmark.web.deps.AuthorUser`). Drafts and
raw journals are their creator's alone: for anyone else they are "not found".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from hallmark.services import analysis, drafts
from hallmark.web.api.schemas import (
    AppendOut,
    AuthorshipOut,
    DraftCreatedOut,
    DraftIn,
    DraftOut,
    DraftSummaryOut,
    EventsIn,
    JournalOut,
    ReportVisibilityIn,
    ReportVisibilityOut,
    SubmissionOut,
    SubmitIn,
)
from hallmark.web.deps import AuthorUser, AuthorViewer, InstanceDep

router = APIRouter(tags=["drafts"])

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API token and no signed-in session."},
    403: {"description": "A session without its X-CSRF-Token header."},
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The request clashes with the journal as recorded."}
}


@router.post(
    "/drafts",
    status_code=201,
    response_model=DraftCreatedOut,
    summary="Start a draft in the editor",
    responses=_AUTH_RESPONSES,
)
def create_draft(
    inst: InstanceDep, user: AuthorUser, response: Response, body: DraftIn | None = None
) -> dict[str, Any]:
    draft = drafts.start_draft(inst, user.id, body.title if body else None)
    response.headers["Location"] = f"/api/v1/drafts/{draft.draft_id}"
    return draft.to_json()


@router.get(
    "/drafts",
    response_model=list[DraftSummaryOut],
    summary="The caller's open drafts, most recently changed first",
    responses=_AUTH_RESPONSES,
)
def list_drafts(inst: InstanceDep, user: AuthorUser) -> list[dict[str, Any]]:
    return [draft.summary() for draft in drafts.list_drafts(inst, user)]


@router.post(
    "/drafts/{draft_id}/events",
    response_model=AppendOut,
    summary="Append a batch of journal events",
    responses={**_AUTH_RESPONSES, **_CONFLICT},
)
def append_events(
    inst: InstanceDep, user: AuthorUser, draft_id: str, body: EventsIn
) -> dict[str, Any]:
    return drafts.append_events(inst, draft_id, user, body.events).to_json()


@router.get(
    "/drafts/{draft_id}",
    response_model=DraftOut,
    summary="A draft's text, journal position and statistics",
    responses=_AUTH_RESPONSES,
)
def get_draft(inst: InstanceDep, user: AuthorUser, draft_id: str) -> dict[str, Any]:
    return drafts.get_draft(inst, draft_id, user).to_json()


@router.post(
    "/drafts/{draft_id}/submit",
    status_code=201,
    response_model=SubmissionOut,
    summary="Replay the journal, check it gives the text, and register the work",
    responses={**_AUTH_RESPONSES, **_CONFLICT},
)
def submit_draft(
    inst: InstanceDep, user: AuthorUser, response: Response, draft_id: str, body: SubmitIn
) -> dict[str, Any]:
    submission = drafts.submit_draft(
        inst,
        draft_id,
        user,
        title=body.title,
        declare=body.declare,
        text=body.text,
        ai_share=body.ai_share,
        visibility=body.visibility,
        report_public=body.report_public,
        statement=body.statement,
        consent=body.consent,
        consent_policy_url=body.consent_policy_url,
        analyse=True,
    )
    analysis.dispatch_registered(inst, submission.registration)
    response.headers["Location"] = f"/api/v1/works/{submission.registration.work_id}"
    return submission.to_json()


@router.get(
    "/works/{work_id}/authorship",
    response_model=AuthorshipOut,
    summary="How a work written in the editor came to be: shares, timeline, flags",
)
def get_authorship(inst: InstanceDep, viewer: AuthorViewer, work_id: str) -> dict[str, Any]:
    return drafts.authorship_report(inst, work_id, viewer)


@router.get(
    "/works/{work_id}/journal",
    response_model=JournalOut,
    summary="The raw journal behind a work (its creator only)",
    responses=_AUTH_RESPONSES,
)
def get_journal(inst: InstanceDep, user: AuthorUser, work_id: str) -> dict[str, Any]:
    return drafts.journal_for(inst, work_id, user)


@router.post(
    "/works/{work_id}/authorship/visibility",
    response_model=ReportVisibilityOut,
    summary="Make the authorship report public, or private again",
    responses=_AUTH_RESPONSES,
)
def set_authorship_visibility(
    inst: InstanceDep, user: AuthorUser, work_id: str, body: ReportVisibilityIn
) -> dict[str, Any]:
    return drafts.set_report_public(inst, work_id, user, body.public)
