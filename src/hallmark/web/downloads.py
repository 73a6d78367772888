"""Serving a work's bytes and its bundle, shared by the API and the pages.

A work's bytes come from users, so they are served so that no browser can run them: the
media type is the one Hallmark detected (never the uploader's), ``nosniff`` stops guessing,
text is always an attachment, and a sandboxing CSP covers the response should it be opened
anyway. Images are shown inline, since the work page displays them. The credentialed copy
(``?credentials=c2pa``, issue #6) is an attachment under the same rules. Every file answer
carries the work's AI-training consent as W3C TDMRep headers (issue #6, item 3). The bytes
as certified are streamed from the blob store; the credentialed copy is built in memory.

A HEAD request for a file gets the same header fields as a GET, TDMRep ones included, and no
content (RFC 9110, section 9.3.2): a crawler can learn a work's reservation before it fetches
the bytes, and the blob is opened (so a missing one is still a 404) but never read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from hallmark.core.bundle import BUNDLE_MEDIA_TYPE
from hallmark.errors import InputError, NotFoundError
from hallmark.services import consent
from hallmark.services.credentials import C2PA_FORMAT, signed_copy
from hallmark.services.instance import Instance
from hallmark.services.registry import build_bundle
from hallmark.storage.blobs import BlobStream
from hallmark.storage.models import Work

EXTENSIONS = {
    "text/plain": "txt",
    "text/markdown": "md",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}
FILE_POLICY = "default-src 'none'; img-src 'self'; sandbox"


class WorkFileResponse(StreamingResponse):
    """A work's file, streamed for GET; for HEAD its header fields alone, the stream unread."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await super().__call__(scope, receive, send)
            return
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": b""})
        if self.background is not None:
            await self.background()


def _cache_control(work: Work) -> str:
    return "public, max-age=300" if work.visibility == "public" else "private, no-store"


def _file_headers(work: Work, disposition: str, filename: str) -> dict[str, str]:
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Content-Security-Policy": FILE_POLICY,
        "Cache-Control": _cache_control(work),
        # The creator's AI-training consent travels with every copy served (W3C TDMRep).
        **consent.of_work(work).tdm_headers(),
    }


def file_response(inst: Instance, work: Work) -> Response:
    # The blob is opened here, so a missing blob or a store that is down is still a 404 or a
    # 503; its bytes then go out chunk by chunk, never whole in memory (issue #9, item 3).
    blob = inst.blobs.stream(work.blob_key)
    extension = EXTENSIONS.get(work.media_type, "bin")
    is_text = work.kind == "text"
    media_type = f"{work.media_type}; charset=utf-8" if is_text else work.media_type
    disposition = "attachment" if is_text else "inline"
    headers = _file_headers(work, disposition, f"{work.id}.{extension}")
    return blob_response(blob, media_type, headers)


def blob_response(blob: BlobStream, media_type: str, headers: dict[str, str]) -> Response:
    """An opened blob sent chunk by chunk (for HEAD, its header fields alone)."""
    return WorkFileResponse(
        iter(blob),
        media_type=media_type,
        headers={**headers, "Content-Length": str(blob.size)},
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
    headers = _file_headers(work, "attachment", copy.filename)
    headers["Content-Length"] = str(len(copy.data))
    return WorkFileResponse(iter((copy.data,)), media_type=copy.media_type, headers=headers)


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
