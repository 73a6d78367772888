"""Request and response shapes of the JSON API, as they appear in the OpenAPI document.

The models describe what the services return (``Registration.to_json``, ``work_json``,
``VerificationResult.to_json``); the routes validate their answers against them, so the
published schema cannot drift from what is sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hallmark.web.errors import PROBLEM_MEDIA_TYPE


class ProblemDoc(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI reference naming the kind of problem.")
    title: str = Field(description="A short, stable summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, in plain words.")
    hint: str | None = Field(default=None, description="What to do about it, when known.")


def _problem(description: str) -> dict[str, Any]:
    return {"model": ProblemDoc, "description": description, "content": {PROBLEM_MEDIA_TYPE: {}}}


#: Error answers every API route can give, for the OpenAPI document.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Bad input: a missing or malformed field, file or bundle."),
    404: _problem("Not found, or not visible to the caller."),
    413: _problem("The upload is over the size limit."),
}


class WorkOut(BaseModel):
    work_id: str
    title: str
    kind: str
    media_type: str
    size: int
    sha256: str
    normalized_text_sha256: str | None
    perceptual_hash: str | None
    creator: str
    visibility: str
    label: str
    level: str
    ai_share: float
    created_at: str
    certificate_id: str | None
    log_index: int | None
    revoked: bool


class RegistrationOut(BaseModel):
    work_id: str
    certificate_id: str
    label: str
    level: str
    ai_share: float
    log_index: int
    sha256: str
    bundle: dict[str, Any] = Field(description="The bundle (*.hallmark.json) for the new work.")


class CertificateOut(BaseModel):
    certificate_id: str
    work_id: str
    log_index: int
    certificate: dict[str, Any] = Field(description="The certificate statement, as signed.")
    signature: str = Field(description="Base64 Ed25519 signature over the certificate.")
    revoked: bool


class VerificationOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    valid: bool
    reason: str = Field(description="'valid', or why not: content-changed, revoked, ...")
    detail: str = Field(description="The reason in plain words.")
    matched: str | None = Field(description="Which digest matched: sha256 or normalized-text.")
    label: str | None
    level: str | None
    ai_share: float | None
    certificate_id: str | None
    work_id: str | None
    title: str | None
    creator: str | None
    issued_at: str | None
    issuer: str | None
    log_index: int | None
    tree_size: int | None
    revocation: dict[str, Any] | None


class RevokeIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it is revoked; public.")


class RevocationOut(BaseModel):
    certificate_id: str
    revoked: bool
    log_index: int
    revocation: dict[str, Any] = Field(description="The signed revocation statement.")


class InclusionProofOut(BaseModel):
    log_index: int
    tree_size: int
    leaf_hash: str = Field(description="Base64 RFC 9162 leaf hash of the entry.")
    hashes: list[str] = Field(description="Base64 RFC 9162 inclusion proof, leaf to root.")
    root_hash: str = Field(description="Base64 root hash of the tree of this size.")
    checkpoint: str | None = Field(description="The signed checkpoint of this size, if published.")


class ConsistencyProofOut(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    hashes: list[str] = Field(description="Base64 RFC 9162 consistency proof.")
    old_checkpoint: str | None
    new_checkpoint: str | None
