"""Bundles (``*.hallmark.json``): everything needed to verify a work offline.

A bundle holds the signed certificate, an RFC 9162 inclusion proof of the certificate's log
leaf, and a signed checkpoint (C2SP tlog-checkpoint) whose root the proof must reach. When the
certificate has been revoked, the bundle also carries the signed revocation and its own
inclusion proof against the same checkpoint. With only the instance's verifier key, anyone can
check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hallmark.core.canonical import loads
from hallmark.core.certificate import REVOCATION_TYPE, Certificate, b64, unb64
from hallmark.errors import InputError

BUNDLE_MEDIA_TYPE = "application/vnd.hallmark.bundle+json"
BUNDLE_VERSION = 1
BUNDLE_SUFFIX = ".hallmark.json"
MAX_BUNDLE_BYTES = 1_000_000


@dataclass(frozen=True)
class InclusionProof:
    log_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "log_index": self.log_index,
            "tree_size": self.tree_size,
            "hashes": [b64(h) for h in self.hashes],
        }

    @classmethod
    def from_json(cls, value: Any, *, what: str) -> InclusionProof:
        if not isinstance(value, dict):
            raise InputError(f"The bundle's {what} is missing or not an object.")
        index, size, hashes = value.get("log_index"), value.get("tree_size"), value.get("hashes")
        if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
            raise InputError(f"The bundle's {what} has an impossible index or tree size.")
        if not isinstance(hashes, list) or len(hashes) > 64:
            raise InputError(f"The bundle's {what} hashes must be a list of at most 64 items.")
        decoded = tuple(unb64(h, what=f"{what} hash") for h in hashes)
        if any(len(h) != 32 for h in decoded):
            raise InputError(f"Every {what} hash must be 32 bytes.")
        return cls(index, size, decoded)


@dataclass(frozen=True)
class Revocation:
    statement: dict[str, Any]
    signature: bytes
    proof: InclusionProof


@dataclass(frozen=True)
class Bundle:
    certificate: Certificate
    signature: bytes
    proof: InclusionProof
    checkpoint: str
    revocation: Revocation | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "media_type": BUNDLE_MEDIA_TYPE,
            "version": BUNDLE_VERSION,
            "certificate": self.certificate.body,
            "signature": b64(self.signature),
            "inclusion_proof": self.proof.to_json(),
            "checkpoint": self.checkpoint,
        }
        if self.revocation is not None:
            doc["revocation"] = {
                "statement": self.revocation.statement,
                "signature": b64(self.revocation.signature),
                "inclusion_proof": self.revocation.proof.to_json(),
            }
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> Bundle:
        if not isinstance(doc, dict):
            raise InputError("The bundle is not a JSON object.")
        if doc.get("media_type") != BUNDLE_MEDIA_TYPE:
            raise InputError(
                "This is not a Hallmark bundle (its media_type is missing or different).",
                hint=f"A bundle's media_type is '{BUNDLE_MEDIA_TYPE}'.",
            )
        if doc.get("version") != BUNDLE_VERSION:
            raise InputError(
                f"Bundle version {doc.get('version')!r} is not supported.",
                hint=f"This Hallmark reads bundle version {BUNDLE_VERSION}.",
            )
        certificate = Certificate.from_json(doc.get("certificate"))
        signature = unb64(doc.get("signature"), what="certificate signature")
        proof = InclusionProof.from_json(doc.get("inclusion_proof"), what="inclusion proof")
        checkpoint = doc.get("checkpoint")
        if not isinstance(checkpoint, str) or not checkpoint:
            raise InputError("The bundle has no checkpoint.")
        revocation = None
        if doc.get("revocation") is not None:
            rev = doc["revocation"]
            if not isinstance(rev, dict) or not isinstance(rev.get("statement"), dict):
                raise InputError("The bundle's revocation is malformed.")
            if rev["statement"].get("type") != REVOCATION_TYPE:
                raise InputError("The bundle's revocation has the wrong type.")
            revocation = Revocation(
                statement=rev["statement"],
                signature=unb64(rev.get("signature"), what="revocation signature"),
                proof=InclusionProof.from_json(
                    rev.get("inclusion_proof"), what="revocation inclusion proof"
                ),
            )
        return cls(certificate, signature, proof, checkpoint, revocation)

    @classmethod
    def parse(cls, data: bytes) -> Bundle:
        if len(data) > MAX_BUNDLE_BYTES:
            raise InputError(f"The bundle is larger than {MAX_BUNDLE_BYTES:,} bytes.")
        if not data.strip():
            raise InputError("The bundle file is empty.")
        return cls.from_json(loads(data, what="bundle"))
