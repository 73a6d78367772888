"""API route for the insight page's numbers (issue #7, item 4): ``GET /insights``.

The same aggregates as the page's charts and CSV files (:mod:`hallmark.services.insights`),
as JSON. Public: it counts only public works whose certificate is not revoked.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hallmark.services import insights
from hallmark.web.deps import InstanceDep

router = APIRouter(tags=["insights"])


class _ByLabel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    human_made: int = Field(alias="human-made")
    ai_assisted: int = Field(alias="ai-assisted")
    ai_generated: int = Field(alias="ai-generated")
    total: int


class RegistrationsRow(_ByLabel):
    period_start: str = Field(description="The first day of the period (ISO 8601, UTC).")


class AiShareRow(BaseModel):
    from_percent: int = Field(description="The bin's lower bound, included.")
    to_percent: int = Field(description="The bin's upper bound, left out (but 100 included).")
    works: int


class LevelRow(_ByLabel):
    level: str = Field(description="declared, analyzed, process-verified or reviewed.")


class ReviewRow(BaseModel):
    outcome: str = Field(
        description="approved or rejected (decisions made), pending or appealed (works "
        "waiting now)."
    )
    count: int


class LogRow(BaseModel):
    period_start: str
    certificates: int = Field(description="Certificates appended in the period.")
    revocations: int = Field(description="Revocations appended in the period.")
    log_size: int = Field(description="Entries in the log at the end of the period.")


class InsightsOut(BaseModel):
    as_of: str = Field(description="The day the figures run to (UTC).")
    period: str = Field(description="day, week (ISO, from Monday) or month, from the span.")
    counted: str = Field(description="Which works the figures count.")
    works: int = Field(description="Works counted.")
    log_size: int = Field(description="Entries in the log (every certificate and revocation).")
    registrations: list[RegistrationsRow]
    ai_share: list[AiShareRow] = Field(description="AI-assisted works by AI share.")
    levels: list[LevelRow]
    reviews: list[ReviewRow]
    log: list[LogRow]


@router.get(
    "/insights",
    response_model=InsightsOut,
    summary="Counts behind the insight page: registrations, AI share, levels, reviews, log",
)
def get_insights(inst: InstanceDep) -> dict[str, Any]:
    return insights.current(inst).to_json()
