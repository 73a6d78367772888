"""Offline verification of a work against its bundle (DESIGN.md, flow 3 "Verify").

The checks run in a fixed order, and the first failure decides the reason, so each kind of
tampering gets the reason people expect:

1. the certificate's signature (``bad-signature``),
2. the checkpoint's signature by the same instance (``bad-checkpoint-signature``),
3. the certificate's inclusion proof against that checkpoint (``proof-mismatch``),
4. the content against the certificate's digests (``content-changed``),
5. a revocation carried in the bundle (``revoked``).

Only the instance's verifier key is trusted; nothing in the bundle vouches for itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from hallmark.core.bundle import Bundle, InclusionProof
from hallmark.core.certificate import leaf_input, signature_valid, statement_sha256
from hallmark.core.digests import normalized_text_sha256
from hallmark.errors import InputError, ProofError, VerificationError
from hallmark.ledger import merkle
from hallmark.ledger.checkpoint import Checkpoint, open_checkpoint
from hallmark.ledger.note import Verifier

#: Every reason a verification can give, with the plain-words sentence shown to people.
REASONS: dict[str, str] = {
    "valid": "The work matches its certificate, which is signed and recorded in the log.",
    "content-changed": "The file's content differs from the certified work.",
    "bad-signature": "The certificate's signature is not valid for this instance's key.",
    "bad-checkpoint-signature": "The log checkpoint is not signed by this instance's key.",
    "wrong-issuer": "The certificate was issued by a different log than the checkpoint's.",
    "proof-mismatch": "The certificate's log proof does not match the signed checkpoint.",
    "revoked": "The certificate has been revoked.",
    "not-registered": "No certificate for this content is known to this instance.",
}


@dataclass
class VerificationResult:
    valid: bool
    reason: str
    detail: str
    matched: str | None = None
    certificate: dict[str, Any] | None = None
    checkpoint: Checkpoint | None = None
    revocation: dict[str, Any] | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        cert = self.certificate or {}
        return {
            "valid": self.valid,
            "reason": self.reason,
            "detail": self.detail,
            "matched": self.matched,
            "label": cert.get("label"),
            "level": cert.get("level"),
            "ai_share": cert.get("ai_share"),
            "certificate_id": cert.get("id"),
            "work_id": cert.get("work", {}).get("id"),
            "title": cert.get("work", {}).get("title"),
            "creator": cert.get("creator", {}).get("handle"),
            "issued_at": cert.get("issued_at"),
            "issuer": cert.get("issuer"),
            "log_index": cert.get("log", {}).get("index"),
            "tree_size": self.checkpoint.size if self.checkpoint else None,
            "revocation": self.revocation,
        }


def _fail(reason: str, result: VerificationResult, extra: str = "") -> VerificationResult:
    result.valid = False
    result.reason = reason
    result.detail = REASONS[reason] + (f" {extra}" if extra else "")
    return result


@dataclass(frozen=True)
class ContentDigests:
    """The digests a work is matched by: its SHA-256, and that of its normalized text (None
    when the content is not UTF-8 text). A server computes them from an upload as it arrives,
    without holding the upload whole."""

    sha256: str
    normalized_text_sha256: str | None

    @classmethod
    def of(cls, content: bytes) -> ContentDigests:
        try:
            normalized: str | None = normalized_text_sha256(content)
        except InputError:
            normalized = None
        return cls(hashlib.sha256(content).hexdigest(), normalized)


def match_content(content: bytes | ContentDigests, work: dict[str, Any]) -> str | None:
    """Which certified digest the content matches: ``sha256``, ``normalized-text``, or None."""
    digests = content if isinstance(content, ContentDigests) else ContentDigests.of(content)
    if digests.sha256 == work["sha256"]:
        return "sha256"
    expected = work.get("normalized_text_sha256")
    if work.get("kind") == "text" and expected and digests.normalized_text_sha256 == expected:
        return "normalized-text"
    return None


def _included(statement: dict[str, Any], proof: InclusionProof, checkpoint: Checkpoint) -> bool:
    if proof.tree_size != checkpoint.size or statement["log"]["index"] != proof.log_index:
        return False
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf_input(statement)),
            proof.log_index,
            proof.tree_size,
            list(proof.hashes),
            checkpoint.root_hash,
        )
    except ProofError:
        return False
    return True


def verify_bundle(
    content: bytes | ContentDigests | None, bundle: Bundle, verifier: Verifier
) -> VerificationResult:
    """Check ``content`` (its bytes or digests; if None, the bundle alone) against ``bundle``
    with ``verifier``."""
    cert = bundle.certificate
    result = VerificationResult(False, "", "", certificate=cert.body)
    if not signature_valid(cert.body, bundle.signature, verifier.public_key):
        return _fail("bad-signature", result)
    try:
        checkpoint = open_checkpoint(bundle.checkpoint, verifier)
    except (VerificationError, InputError):
        return _fail("bad-checkpoint-signature", result)
    result.checkpoint = checkpoint
    if cert.issuer != checkpoint.origin:
        return _fail("wrong-issuer", result)
    if not _included(cert.body, bundle.proof, checkpoint):
        return _fail("proof-mismatch", result)
    if content is not None:
        result.matched = match_content(content, cert.body["work"])
        if result.matched is None:
            return _fail("content-changed", result)
    if bundle.revocation is not None:
        rev = bundle.revocation
        # A revocation counts only if the same instance signed it, it names this exact
        # certificate, and the log holds it; otherwise anyone could "revoke" a bundle.
        if (
            signature_valid(rev.statement, rev.signature, verifier.public_key)
            and rev.statement.get("certificate_sha256") == statement_sha256(cert.body)
            and isinstance(rev.statement.get("log"), dict)
            and _included(rev.statement, rev.proof, checkpoint)
        ):
            result.revocation = rev.statement
            return _fail("revoked", result, f"Reason given: {rev.statement.get('reason', '')}")
    result.valid = True
    result.reason = "valid"
    result.detail = REASONS["valid"]
    return result
