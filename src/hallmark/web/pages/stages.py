"""The bytes of a work's drafts, for the "How it was made" section of the work page (issue #3,
item 7).

Drafts are their creator's: only the creator and admins get them, anyone else "not found",
even for a public work. Like a work's own file they come from users, so they are served in a
way no browser runs them (see :mod:`hallmark.web.downloads`): the detected media type,
``nosniff``, a sandboxing CSP, text as an attachment, and never cached by shared caches; and
they are streamed from the blob store, never read whole into memory (issue #9, item 3).
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from hallmark.services import stages
from hallmark.web.deps import InstanceDep, SessionUser
from hallmark.web.downloads import EXTENSIONS, FILE_POLICY, blob_response

router = APIRouter(include_in_schema=False)


@router.get("/works/{work_id}/stages/{position}/file")
def stage_file(
    inst: InstanceDep,
    viewer: SessionUser,
    work_id: str,
    position: int,
) -> Response:
    row, blob = stages.stage_file(inst, work_id, position, viewer)
    is_text = row.kind == "text"
    extension = EXTENSIONS.get(row.media_type, "bin")
    return blob_response(
        blob,
        f"{row.media_type}; charset=utf-8" if is_text else row.media_type,
        {
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": (
                f"{'attachment' if is_text else 'inline'}; "
                f'filename="{row.work_id}-stage-{row.position}.{extension}"'
            ),
            "Content-Security-Policy": FILE_POLICY,
            "Cache-Control": "private, no-store",
        },
    )
