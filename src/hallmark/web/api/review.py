"""API routes for analysis and the review queue (issue #4, items 1 and 5).

They mirror the review pages: reviewers and admins read the queue and decide; a creator
appeals a rejection once; anyone who may see a work reads its newest analysis. The services
enforce every rule (roles, no self-review, one appeal); these routes only translate.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from hallmark.services import analysis, review
from hallmark.web.deps import ApiViewer, CurrentUser, InstanceDep

router = APIRouter(tags=["review"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or a wrong API token."},
    403: {"description": "Not allowed for this account's role, or the caller's own work."},
}


class DecisionIn(BaseModel):
    decision: str = Field(description="approved or rejected.")
    reason: str = Field(default="", max_length=2000, description="Required for a rejection.")


class AppealIn(BaseModel):
    message: str = Field(max_length=2000, description="What the reviewer should look at again.")


@router.get(
    "/review/queue",
    summary="Works waiting for review, oldest first (reviewers and admins)",
    responses=_AUTH,
)
def review_queue(inst: InstanceDep, user: CurrentUser) -> list[dict[str, Any]]:
    return review.queue(inst, user)


@router.get(
    "/review/{work_id}",
    summary="All the evidence about a work, for a reviewer",
    responses=_AUTH,
)
def review_evidence(inst: InstanceDep, user: CurrentUser, work_id: str) -> dict[str, Any]:
    return review.evidence(inst, work_id, user)


@router.post(
    "/review/{work_id}",
    summary="Approve (reissue at 'reviewed') or reject a work, with a reason",
    responses={**_AUTH, 409: {"description": "The work is not waiting for review."}},
)
def decide(inst: InstanceDep, user: CurrentUser, work_id: str, body: DecisionIn) -> dict[str, Any]:
    return review.decide(inst, work_id, user, decision=body.decision, reason=body.reason)


@router.post(
    "/works/{work_id}/appeal",
    status_code=201,
    summary="Appeal a rejection, once (the work's creator)",
    responses={**_AUTH, 409: {"description": "Not rejected, or already appealed."}},
)
def appeal(inst: InstanceDep, user: CurrentUser, work_id: str, body: AppealIn) -> dict[str, Any]:
    return review.appeal(inst, work_id, user, message=body.message)


@router.get(
    "/works/{work_id}/analysis",
    summary="The newest analysis of a work and its review status",
)
def work_analysis(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> dict[str, Any]:
    return analysis.for_work(inst, work_id, viewer)
