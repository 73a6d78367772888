"""API route for verification: a file, a bundle, or both (issue #2, item 7; DESIGN.md flow 3).

A verdict is an answer, not an error: a work that does not verify gets 200 with
``valid: false`` and the reason, exactly as ``hallmark verify --json`` prints it. Only input
that cannot be checked at all (nothing sent, an empty file, a malformed bundle) is a problem.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from hallmark.services.verify import verify
from hallmark.web.api.schemas import VerificationOut
from hallmark.web.deps import InstanceDep
from hallmark.web.uploads import read_bundle, receive_upload

router = APIRouter(tags=["verify"])


@router.post("/verify", response_model=VerificationOut, summary="Verify a work or a bundle")
def verify_work(
    inst: InstanceDep,
    file: Annotated[
        UploadFile | None, File(description="The work; alone, it is looked up by digest.")
    ] = None,
    bundle: Annotated[UploadFile | None, File(description="Its *.hallmark.json bundle.")] = None,
) -> dict[str, Any]:
    content = receive_upload(file, limit=inst.settings.max_upload_bytes)
    try:
        return verify(inst, content, read_bundle(bundle)).to_json()
    finally:
        if content is not None:
            content.close()
