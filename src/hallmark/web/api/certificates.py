"""API route for revoking a certificate (issue #2, item 7).

Only the work's creator or an admin may revoke; the service enforces it, and answers "not
found" to anyone who may not even see the work.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hallmark.services import registry
from hallmark.web.api.schemas import RevocationOut, RevokeIn
from hallmark.web.deps import CurrentUser, InstanceDep

router = APIRouter(tags=["certificates"])


@router.post(
    "/certificates/{certificate_id}/revoke",
    response_model=RevocationOut,
    summary="Revoke a certificate (its creator or an admin)",
    responses={
        401: {"description": "No or a wrong API token."},
        403: {"description": "Not the work's creator nor an admin."},
        409: {"description": "Already revoked."},
    },
)
def revoke_certificate(
    inst: InstanceDep, user: CurrentUser, certificate_id: str, body: RevokeIn
) -> dict[str, Any]:
    statement = registry.revoke(inst, certificate_id=certificate_id, reason=body.reason, actor=user)
    return {
        "certificate_id": certificate_id,
        "revoked": True,
        "log_index": statement["log"]["index"],
        "revocation": statement,
    }
