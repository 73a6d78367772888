"""API routes for prior art: near-copy search, a work's matches, disputes, notifications.

Issue #5, items 3-5. The services enforce every rule (who may see a match, who may dispute,
who decides); these routes only translate.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from pydantic import BaseModel, Field

from hallmark.errors import InputError
from hallmark.services import disputes, notifications, similarity
from hallmark.web.deps import ApiViewer, CurrentUser, InstanceDep
from hallmark.web.uploads import receive_file

router = APIRouter(tags=["prior art"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or a wrong API token."},
    403: {"description": "Not allowed for this account."},
}


class MatchOut(BaseModel):
    work_id: str
    score: float = Field(
        description="Similarity in [0, 1]; only matches at or above the "
        "shipped threshold are returned."
    )
    kind: str = Field(description="exact, near-copy, paraphrase or contains-passage.")
    log_index: int | None = Field(description="The work's first entry in the log.")
    logged_at: str | None
    creator: str
    title: str
    label: str
    level: str
    work_kind: str = Field(description="text or image.")


class SimilarOut(BaseModel):
    matches: list[MatchOut]


class DisputeIn(BaseModel):
    match_id: str = Field(max_length=40)
    statement: str = Field(max_length=2000, description="Why the other work copies yours.")


class DisputeDecisionIn(BaseModel):
    decision: str = Field(description="upheld (revoke the later registration) or dismissed.")
    reason: str = Field(max_length=2000, description="Both creators read it.")


@router.post(
    "/similar",
    response_model=SimilarOut,
    summary="Registered works near a text or image, best first",
    responses={503: {"description": "Near-copy search is turned off on this instance."}},
)
def similar(
    inst: InstanceDep,
    viewer: ApiViewer,
    file: Annotated[UploadFile, File(description="A UTF-8 text or an image.")],
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many matches.")] = 10,
) -> dict[str, Any]:
    with receive_file(file, limit=inst.settings.max_upload_bytes) as content:
        if not content.size:
            raise InputError("The file is empty.", hint="Send a text or an image in 'file'.")
        matches = similarity.find_similar(
            inst, content, filename=file.filename, viewer=viewer, limit=limit
        )
    return {"matches": matches}


@router.get(
    "/works/{work_id}/matches",
    summary="Near-copies recorded for a work (its creator and reviewers)",
)
def work_matches(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> dict[str, Any]:
    return {"matches": disputes.matches_for(inst, viewer, work_id)}


@router.post(
    "/disputes",
    status_code=201,
    summary="Dispute a match: the other work copies yours",
    responses={**_AUTH, 409: {"description": "A dispute about this match exists."}},
)
def open_dispute(inst: InstanceDep, user: CurrentUser, body: DisputeIn) -> dict[str, Any]:
    return disputes.open_dispute(inst, user, match_id=body.match_id, statement=body.statement)


@router.get("/disputes", summary="Open disputes, oldest first (reviewers)", responses=_AUTH)
def open_disputes(inst: InstanceDep, user: CurrentUser) -> list[dict[str, Any]]:
    return disputes.list_open(inst, user)


@router.get(
    "/disputes/{dispute_id}",
    summary="A dispute; reviewers also get both works' evidence",
    responses=_AUTH,
)
def get_dispute(inst: InstanceDep, user: CurrentUser, dispute_id: str) -> dict[str, Any]:
    return disputes.get(inst, user, dispute_id)


@router.post(
    "/disputes/{dispute_id}/decision",
    summary="Uphold (revoke the later certificate) or dismiss a dispute",
    responses={**_AUTH, 409: {"description": "Already decided."}},
)
def decide_dispute(
    inst: InstanceDep, user: CurrentUser, dispute_id: str, body: DisputeDecisionIn
) -> dict[str, Any]:
    return disputes.decide(inst, user, dispute_id, decision=body.decision, reason=body.reason)


@router.get("/notifications", summary="Your newest notifications", responses=_AUTH)
def list_notifications(inst: InstanceDep, user: CurrentUser) -> dict[str, Any]:
    return notifications.for_user(inst, user)


@router.post("/notifications/read", summary="Mark all your notifications read", responses=_AUTH)
def read_notifications(inst: InstanceDep, user: CurrentUser) -> dict[str, Any]:
    return {"marked": notifications.mark_all_read(inst, user)}
