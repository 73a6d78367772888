"""API routes for the transparency log and the instance's public key (issue #2, item 7).

The checkpoint is served as the C2SP signed note, byte for byte as signed, followed by any
witness cosignatures it has gathered (issue #9; C2SP tlog-cosignature). Proofs are RFC 9162
hash lists in base64; a monitor checks them against checkpoints it verified with the key from
``/keys/public``. Sizes and indexes out of range are a 400 problem, never a 500.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from hallmark.errors import InputError, TooLargeError
from hallmark.services import log as log_service
from hallmark.services import witness as witness_service
from hallmark.web.api.schemas import ConsistencyProofOut, CosignaturesOut, InclusionProofOut
from hallmark.web.deps import InstanceDep

router = APIRouter(tags=["log"])

_TEXT: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}}}


@router.get(
    "/log/checkpoint",
    response_class=PlainTextResponse,
    responses=_TEXT,
    summary="The latest signed checkpoint (C2SP signed note)",
)
def checkpoint(inst: InstanceDep) -> PlainTextResponse:
    note = log_service.latest_checkpoint(inst).note
    # A checkpoint changes with every registration; caches must ask again.
    return PlainTextResponse(note, headers={"Cache-Control": "no-cache"})


@router.get(
    "/log/proof/inclusion",
    response_model=InclusionProofOut,
    summary="An inclusion proof for a log entry",
)
def inclusion_proof(
    inst: InstanceDep,
    index: Annotated[int, Query(ge=0, description="The entry's log index.")],
    size: Annotated[
        int | None, Query(ge=1, description="Tree size; default: the latest checkpoint's.")
    ] = None,
) -> dict[str, Any]:
    return log_service.inclusion_document(inst, index, size)


@router.get(
    "/log/proof/consistency",
    response_model=ConsistencyProofOut,
    summary="A consistency proof between two tree sizes",
)
def consistency_proof(
    inst: InstanceDep,
    old: Annotated[int, Query(ge=0, description="The older tree size.")],
    new: Annotated[
        int | None, Query(ge=0, description="The newer tree size; default: the latest.")
    ] = None,
) -> dict[str, Any]:
    return log_service.consistency_document(inst, old, new)


@router.post(
    "/log/cosignatures",
    response_model=CosignaturesOut,
    summary="Add a witness's cosignature to a checkpoint (C2SP tlog-cosignature)",
    description="The body (text/plain) is one of this log's checkpoints as published, with the "
    "witness's cosignature line added. Only witnesses listed in the instance's 'witnesses' "
    "setting are accepted (403 otherwise); a cosignature that does not verify is a 422; a "
    "checkpoint that differs from the one published at that size is a 409.",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
async def add_cosignatures(request: Request, inst: InstanceDep) -> dict[str, Any]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > witness_service.MAX_COSIGNED_NOTE_BYTES:
            raise TooLargeError("That is far too long to be a cosigned checkpoint.")
    try:
        note = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("A cosigned checkpoint is UTF-8 text.") from None
    # The database work runs in the thread pool, as the synchronous routes' does.
    accepted = await run_in_threadpool(witness_service.add_cosignatures, inst, note)
    return {
        "tree_size": accepted.size,
        "witnesses": accepted.witnesses,
        "checkpoint": accepted.note,
    }


@router.get(
    "/keys/public",
    response_class=PlainTextResponse,
    responses=_TEXT,
    tags=["keys"],
    summary="The instance's verifier key (what 'hallmark verify --key' takes)",
)
def public_key(inst: InstanceDep) -> PlainTextResponse:
    return PlainTextResponse(inst.verifier_key + "\n")
