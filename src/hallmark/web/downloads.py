"""Serving a work's bytes and its bundle, shared by the API and the pages.

A work's bytes come from users, so they are served so that no browser can run them: the
media type is the one Hallmark detected (never the uploader's), ``nosniff`` stops guessing,
text is always an attachment, and a sandboxing CSP covers the response should it be opened
anyway. Images are shown inline, since the work page displays them. The credentialed copy
(``?credentials=c2pa``, issue #6) is an attachment under the same rules. Every file answer
carries the work's AI-training consent as W3C TDMRep headers (issue #6, item 3). The bytes
as certified are streamed from the blob store; the credentialed copy is built in memory.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse

from hallmark.core.bundle import BUNDLE_MEDIA_TYPE
from hallmark.errors import InputError, NotFoundError
from hallmark.services import consent
from hallmark.services.credentials import C2PA_FORMAT, signed_copy
from hallmark.services.instance import Instance
from hallmark.services.registry import build_bundle
from hallmark.storage.models import Work

_EXTENSIONS = {
    "text/plain": "txt",
    "text/markdown": "md",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
_FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox"


def _cache_control(work: Work) -> str:
    return "public, max-age=300" if work.visibility == "public" else "private, no-store"


def _file_headers(work: Work, disposition: str, filename: str) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Content-Security-Policy": _FILE_POLICY,
        "Cache-Control": _cache_control(work),
        # The creator's AI-training consent travels with every copy served (W3C TDMRep).
        **consent.of_work(work).tdm_headers(),
    }


def file_response(inst: Instance, work: Work) -> Response:
    # The blob is opened here, so a missing blob or a store that is down is still a 404 or a
    # 503; its bytes then go out chunk by chunk, never whole in memory (issue #9, item 3).
    blob = inst.blobs.stream(work.blob_key)
    extension = _EXTENSIONS.get(work.media_type, "bin")
    is_text = work.kind == "text"
    media_type = f"{work.media_type}; charset=utf-8" if is_text else work.media_type
    disposition = "attachment" if is_text else "inline"
    headers = _file_headers(work, disposition, f"{work.id}.{extension}")
    headers["Content-Length"] = str(blob.size)
    return StreamingResponse(
        iter(blob),
        media_type=media_type,
        headers=headers,
        # Runs however the answer ends, a client that hangs up half-way included.
        background=BackgroundTask(blob.close),
    )


def work_file_response(inst: Instance, work: Work, credentials: str | None) -> Response:
    """The work's bytes, or with ``credentials="c2pa"`` its credentialed copy.

    ``work`` must be attached to an open session: the copy reads its certificate.
    """
    if credentials is None:
        return file_response(inst, work)
    if credentials != C2PA_FORMAT:
        raise InputError(
            f"'{credentials[:20]}' is not a kind of credentials Hallmark embeds.",
            hint=f"Use ?credentials={C2PA_FORMAT} for Content Credentials, or leave it out.",
        )
    copy = signed_copy(inst, work)
    return Response(
        copy.data,
        media_type=copy.media_type,
        headers=_file_headers(work, "attachment", copy.filename),
    )


def bundle_json(session: Session, work: Work) -> dict[str, Any]:
    if work.certificate is None:
        raise NotFoundError(f"The work '{work.id}' has no certificate.")
    return build_bundle(session, work.certificate).to_json()


def bundle_response(session: Session, work: Work) -> Response:
    return JSONResponse(
        bundle_json(session, work),
        media_type=BUNDLE_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{work.id}.hallmark.json"',
            "Cache-Control": _cache_control(work),
        },
    )
