"""API routes for the muse, the editor's AI writing companion (issue #8, items 4-6).

``POST /drafts/{id}/muse`` asks for a suggestion. With ``Accept: application/json`` (or no
preference) it answers once the suggestion is complete; with ``Accept: text/event-stream`` it
streams it as server-sent events, in this order:

- ``start``: ``{"id", "mode", "backend", "model", "created_at", "prompt_sha256", "sources"}``;
- ``token``, any number: ``{"text"}``, the next piece of the text;
- ``suggestion``: the finished suggestion, the same object the JSON answer lists (its
  ``text`` is final: trimmed, and prose cut off by the token limit ends at a full sentence);
- or ``error`` instead, a problem document, when the backend breaks off midway.

Closing the connection cancels the suggestion; it is stored as ``cancelled`` with what had been
written. Errors before the first word (bad mode, prose switched off, a backend that is down)
are ordinary problem documents with their status, whichever the ``Accept``.

Like every draft route, these are the draft's creator's alone: anyone else gets 404.

Each suggestion runs a language model, so each user may ask for at most
``muse_suggestions_per_minute`` (a token bucket per user over all their drafts, kept where
``rate_limit_store`` says, so every web process counts against the same budget). Every ask
counts, answered or not; over the limit the answer is 429 with ``Retry-After``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import StreamingResponse

from hallmark.errors import RateLimitedError
from hallmark.muse.base import MuseUnavailable
from hallmark.services import muse
from hallmark.services.instance import Instance
from hallmark.storage.models import User
from hallmark.web.deps import AuthorUser, InstanceDep
from hallmark.web.errors import to_problem
from hallmark.web.ratelimit import app_buckets, client_key

router = APIRouter(tags=["muse"])

EVENT_STREAM = "text/event-stream"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API token and no signed-in session."},
    403: {"description": "A session without its X-CSRF-Token header."},
}
_ASK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_RESPONSES,
    200: {
        "description": "The suggestion; with Accept: text/event-stream, streamed as "
        "server-sent events (start, token..., suggestion or error).",
        "content": {EVENT_STREAM: {}},
    },
    409: {"description": "Prose is switched off for this draft, or the draft was submitted."},
    429: {
        "description": "Over the user's muse_suggestions_per_minute; Retry-After says when "
        "to ask again."
    },
    503: {"description": "The muse is turned off, or its backend is down or busy."},
}


class MuseIn(BaseModel):
    mode: str = Field(description="questions, ideas, critique or continue.")
    selection: str | None = Field(
        default=None,
        description="The passage the writer selected; critique without one takes the "
        "paragraph before the cursor.",
    )
    position: int | None = Field(
        default=None,
        ge=0,
        description="The writer's cursor, in code points; default: the end of the text.",
    )
    personal: bool | None = Field(
        default=None,
        description="Draw on the creator's earlier works; default: the draft's switch.",
    )


class SuggestionOut(BaseModel):
    id: str
    mode: str
    text: str
    status: str = Field(description="complete, cancelled, failed, or streaming.")
    backend: str = Field(description="The muse backend plugin that answered.")
    model: str = Field(description="The model it ran.")
    created_at: str
    prompt_sha256: str = Field(description="SHA-256 of the prompt (docs/muse.md).")
    sources: list[str] = Field(description="The creator's works the prompt quoted.")


class AnswerOut(BaseModel):
    suggestions: list[SuggestionOut]


class SuggestionRecordOut(SuggestionOut):
    finished_at: str | None
    output_sha256: str = Field(description="SHA-256 of the text, as the report states it.")
    copies: int = Field(description="Times the creator copied it from the panel.")
    inserted_chars: int = Field(description="Code points of it the journal took in.")
    used: bool = Field(description="Whether any of its text went into the draft.")


class SwitchesOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    allow_continue: bool = Field(
        alias="continue", description="Whether the muse may write prose for this draft."
    )
    personal: bool = Field(description="Whether it may draw on the creator's earlier works.")


class SwitchesIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    allow_continue: bool | None = Field(
        default=None, alias="continue", description="Let the muse write prose (continue)."
    )
    personal: bool | None = Field(
        default=None, description="Let it draw on the creator's earlier works."
    )


class SuggestionListOut(BaseModel):
    draft_id: str
    settings: SwitchesOut
    suggestions: list[SuggestionRecordOut]


class CopyOut(BaseModel):
    id: str
    copies: int


def charge_suggestion(request: Request, inst: Instance, user: User) -> None:
    """Count one suggestion against the user's budget; raise when it is spent."""
    per_minute = inst.settings.muse_suggestions_per_minute
    buckets = app_buckets(request, "muse_suggestions", {"suggestions": per_minute})
    wait = buckets.take(client_key(request, user), {"suggestions": 1})
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise RateLimitedError(
            f"You have asked the muse for suggestions too often; ask again in {seconds} seconds.",
            hint=f"Each suggestion runs a language model on the server, so each writer may "
            f"ask for {per_minute} a minute.",
            retry_after=seconds,
        )


def _wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


def _event(name: str, doc: dict[str, Any]) -> bytes:
    # JSON escapes line breaks, so each event's data stays on one line.
    return f"event: {name}\ndata: {json.dumps(doc, ensure_ascii=False)}\n\n".encode()


async def _stream(run: muse.Run, request: Request) -> AsyncIterator[bytes]:
    """The suggestion as server-sent events.

    Each piece is read in a worker thread that the request's cancellation waits for (anyio's
    default), so when the writer disconnects the run is never being read while it is closed
    here: it stops the backend and is stored as cancelled.
    """
    pieces = iter(run)
    try:
        yield _event("start", run.start_json())
        while True:
            piece = await anyio.to_thread.run_sync(next, pieces, None)
            if piece is None:
                break
            yield _event("token", {"text": piece})
        yield _event("suggestion", run.to_json())
    except MuseUnavailable as exc:
        yield _event("error", to_problem(exc, request).to_json())
    finally:
        run.close()


@router.post(
    "/drafts/{draft_id}/muse",
    response_model=AnswerOut,
    summary="Ask the muse for questions, ideas, a critique or a continuation",
    responses=_ASK_RESPONSES,
)
def ask_muse(
    request: Request, inst: InstanceDep, user: AuthorUser, draft_id: str, body: MuseIn
) -> Any:
    run = muse.ask(
        inst,
        draft_id,
        user,
        mode=body.mode,
        selection=body.selection,
        position=body.position,
        personal=body.personal,
        charge=lambda: charge_suggestion(request, inst, user),
    )
    if _wants_stream(request):
        try:
            return StreamingResponse(
                _stream(run, request),
                media_type=EVENT_STREAM,
                # Proxies must pass each event on as it comes, not buffer the answer.
                headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            )
        except BaseException:
            run.close()
            raise
    try:
        return {"suggestions": [run.collect()]}
    finally:
        run.close()


@router.get(
    "/drafts/{draft_id}/muse",
    response_model=SuggestionListOut,
    summary="Every suggestion the muse made for a draft, and what became of it",
    responses=_RESPONSES,
)
def list_suggestions(inst: InstanceDep, user: AuthorUser, draft_id: str) -> dict[str, Any]:
    return muse.list_suggestions(inst, draft_id, user)


@router.post(
    "/drafts/{draft_id}/muse/settings",
    response_model=SwitchesOut,
    summary="Switch the muse's prose or its use of earlier works on or off for a draft",
    responses={**_RESPONSES, 409: {"description": "The draft was submitted."}},
)
def set_switches(
    inst: InstanceDep, user: AuthorUser, draft_id: str, body: SwitchesIn
) -> dict[str, Any]:
    changed = muse.set_switches(
        inst, draft_id, user, allow_continue=body.allow_continue, personal=body.personal
    )
    return changed.to_json()


@router.post(
    "/drafts/{draft_id}/muse/{suggestion_id}/copied",
    response_model=CopyOut,
    summary="Record that the creator copied a suggestion out of the panel",
    responses=_RESPONSES,
)
def record_copy(
    inst: InstanceDep, user: AuthorUser, draft_id: str, suggestion_id: str
) -> dict[str, Any]:
    return muse.record_copy(inst, draft_id, suggestion_id, user)
