"""API routes for drafts of a work made elsewhere (issue #3, item 7).

A creator starts a series, uploads drafts to it as they are made (each stamped with the time it
arrived), and registers the final work with ``series_id`` on ``POST /works``; drafts can also
come with the work itself, as repeated ``stage`` parts. ``GET /works/{id}/stages`` shows the
progression to whoever may see the work; the drafts' contents (diffs, notes) only to its creator
and admins. A series is its creator's alone: anyone else gets "not found".
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Response, UploadFile

from hallmark.services import stages
from hallmark.web.api.schemas import ProgressionOut, SeriesCreatedOut, SeriesOut, StageOut
from hallmark.web.deps import ApiViewer, CurrentUser, InstanceDep
from hallmark.web.uploads import receive_file

router = APIRouter(tags=["stages"])

_AUTH: dict[int | str, dict[str, Any]] = {401: {"description": "No or a wrong API token."}}


@router.post(
    "/series",
    status_code=201,
    response_model=SeriesCreatedOut,
    summary="Start a series of drafts for a work to come",
    responses=_AUTH,
)
def start_series(inst: InstanceDep, user: CurrentUser, response: Response) -> dict[str, Any]:
    series_id = stages.start_series(inst, user.id)
    response.headers["Location"] = f"/api/v1/series/{series_id}"
    return {"series_id": series_id}


@router.post(
    "/series/{series_id}/stages",
    status_code=201,
    response_model=StageOut,
    summary="Add the next draft to a series; the server records when it arrived",
    responses={
        **_AUTH,
        409: {"description": "The series already belongs to a registered work."},
        415: {"description": "The file is neither UTF-8 text nor a supported image."},
    },
)
def add_stage(
    inst: InstanceDep,
    user: CurrentUser,
    response: Response,
    series_id: str,
    file: Annotated[UploadFile, File(description="The draft: UTF-8 text or an image.")],
    note: Annotated[str, Form(description="What this stage is, for you (at most 500).")] = "",
) -> dict[str, Any]:
    with receive_file(file, limit=inst.settings.max_upload_bytes) as content:
        stage = stages.add_stage(inst, series_id, user.id, content, file.filename, note)
    response.headers["Location"] = f"/api/v1/series/{series_id}"
    return stage


@router.get(
    "/series/{series_id}",
    response_model=SeriesOut,
    summary="A series and its drafts (its creator only)",
    responses=_AUTH,
)
def get_series(inst: InstanceDep, user: CurrentUser, series_id: str) -> dict[str, Any]:
    return stages.get_series(inst, series_id, user.id)


@router.get(
    "/works/{work_id}/stages",
    response_model=ProgressionOut,
    summary="How a work came to be: its drafts, with diffs or perceptual distances",
)
def get_progression(inst: InstanceDep, viewer: ApiViewer, work_id: str) -> dict[str, Any]:
    return stages.progression(inst, work_id, viewer)
