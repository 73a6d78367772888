"""Certificates and revocations: what Hallmark signs and appends to its log.

A certificate is a JSON object encoded with RFC 8785 (JCS) and signed with the instance's
Ed25519 key. The signature covers a fixed domain-separation prefix and the canonical bytes, so
a signature made for a certificate can never be replayed as one for a checkpoint or a
revocation. The log stores only a hash of each statement (DESIGN.md, "Log"): its leaf input is
a one-byte statement kind followed by the SHA-256 of the canonical statement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hallmark.core.canonical import canonical_bytes
from hallmark.core.labels import AssuranceLevel, OriginLabel
from hallmark.crypto.keys import Ed25519PublicKey, verify_signature
from hallmark.errors import InputError

CERTIFICATE_TYPE = "hallmark.certificate"
REVOCATION_TYPE = "hallmark.revocation"
STATEMENT_VERSION = 1

_SIGNING_CONTEXT = {
    CERTIFICATE_TYPE: b"hallmark certificate v1\n",
    REVOCATION_TYPE: b"hallmark revocation v1\n",
}
# Leaf-kind bytes, prefixed to the statement digest in the log's leaf input.
LEAF_KIND = {CERTIFICATE_TYPE: 0x01, REVOCATION_TYPE: 0x02}

WORK_KINDS = ("text", "image")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with whole seconds: the only time form that appears in statements."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, *, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"The {what} must be a base64 string.")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InputError(f"The {what} is not valid base64.") from None


def signing_input(statement: dict[str, Any]) -> bytes:
    kind = statement.get("type")
    if kind not in _SIGNING_CONTEXT:
        raise InputError(f"Unknown statement type {kind!r}.")
    return _SIGNING_CONTEXT[kind] + canonical_bytes(statement)


def statement_sha256(statement: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(statement)).hexdigest()


def leaf_input(statement: dict[str, Any]) -> bytes:
    """The bytes the log hashes as this statement's leaf (RFC 9162 leaf data)."""
    return (
        bytes([LEAF_KIND[statement["type"]]]) + hashlib.sha256(canonical_bytes(statement)).digest()
    )


def sign_statement(statement: dict[str, Any], signer: Any) -> bytes:
    return bytes(signer.sign(signing_input(statement)))


def signature_valid(statement: dict[str, Any], signature: bytes, key: Ed25519PublicKey) -> bool:
    return verify_signature(key, signature, signing_input(statement))


@dataclass(frozen=True)
class WorkDigests:
    """The digests a certificate states for a work's content."""

    sha256: str
    normalized_text_sha256: str | None = None
    perceptual_hash: str | None = None


@dataclass(frozen=True)
class Certificate:
    """A read-only view over a certificate statement, checked for shape when built."""

    body: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def issuer(self) -> str:
        return str(self.body["issuer"])

    @property
    def label(self) -> OriginLabel:
        return OriginLabel(self.body["label"])

    @property
    def level(self) -> AssuranceLevel:
        return AssuranceLevel(self.body["level"])

    @property
    def log_index(self) -> int:
        return int(self.body["log"]["index"])

    @property
    def work(self) -> dict[str, Any]:
        return dict(self.body["work"])

    @property
    def digests(self) -> WorkDigests:
        work = self.body["work"]
        return WorkDigests(
            sha256=work["sha256"],
            normalized_text_sha256=work.get("normalized_text_sha256"),
            perceptual_hash=work.get("perceptual_hash"),
        )

    @classmethod
    def from_json(cls, body: Any) -> Certificate:
        check_certificate_shape(body)
        return cls(body)


def build_certificate(
    *,
    certificate_id: str,
    issuer: str,
    issued_at: datetime,
    work_id: str,
    title: str,
    kind: str,
    media_type: str,
    size: int,
    digests: WorkDigests,
    creator_handle: str,
    label: OriginLabel,
    ai_share: float,
    level: AssuranceLevel,
    evidence: list[dict[str, str]],
    consent: dict[str, Any],
    log_index: int,
    authorship: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a certificate statement. Everything is passed in, so output is reproducible.

    ``authorship`` (issue #3) states what the process journal computed: its root hash and the
    share of the text by origin; it is present only for works written in the editor.
    """
    work: dict[str, Any] = {
        "id": work_id,
        "title": title,
        "kind": kind,
        "media_type": media_type,
        "size": size,
        "sha256": digests.sha256,
    }
    if digests.normalized_text_sha256:
        work["normalized_text_sha256"] = digests.normalized_text_sha256
    if digests.perceptual_hash:
        work["perceptual_hash"] = digests.perceptual_hash
    share: int | float = int(ai_share) if float(ai_share).is_integer() else ai_share
    body = {
        "type": CERTIFICATE_TYPE,
        "version": STATEMENT_VERSION,
        "id": certificate_id,
        "issuer": issuer,
        "issued_at": format_time(issued_at),
        "work": work,
        "creator": {"handle": creator_handle},
        "label": label.value,
        "digital_source_type": label.digital_source_type(),
        "ai_share": share,
        "level": level.value,
        "evidence": evidence,
        "consent": consent,
        "log": {"index": log_index},
    }
    if authorship is not None:
        body["authorship"] = authorship
    check_certificate_shape(body)
    return body


def build_revocation(
    *,
    certificate: dict[str, Any],
    reason: str,
    revoked_at: datetime,
    log_index: int,
) -> dict[str, Any]:
    return {
        "type": REVOCATION_TYPE,
        "version": STATEMENT_VERSION,
        "issuer": certificate["issuer"],
        "certificate_id": certificate["id"],
        "certificate_sha256": statement_sha256(certificate),
        "reason": reason,
        "revoked_at": format_time(revoked_at),
        "log": {"index": log_index},
    }


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise InputError(f"The certificate is malformed: {message}.")


def check_certificate_shape(body: Any) -> None:
    """Refuse anything that is not a well-formed version-1 certificate, saying what is wrong."""
    _require(isinstance(body, dict), "it is not a JSON object")
    _require(body.get("type") == CERTIFICATE_TYPE, f"type must be '{CERTIFICATE_TYPE}'")
    if body.get("version") != STATEMENT_VERSION:
        raise InputError(
            f"Certificate version {body.get('version')!r} is not supported.",
            hint=f"This Hallmark reads version {STATEMENT_VERSION}; upgrade to read newer ones.",
        )
    for field in ("id", "issuer", "issued_at", "label", "level"):
        _require(isinstance(body.get(field), str) and body[field] != "", f"'{field}' is missing")
    _require(body["label"] in {x.value for x in OriginLabel}, "unknown label")
    _require(body["level"] in {x.value for x in AssuranceLevel}, "unknown assurance level")
    work = body.get("work")
    _require(isinstance(work, dict), "'work' is missing")
    _require(
        isinstance(work.get("sha256"), str) and bool(_HEX64.match(work["sha256"])),
        "'work.sha256' is not a SHA-256 hex digest",
    )
    norm = work.get("normalized_text_sha256")
    _require(
        norm is None or (isinstance(norm, str) and bool(_HEX64.match(norm))),
        "'work.normalized_text_sha256' is not a SHA-256 hex digest",
    )
    _require(work.get("kind") in WORK_KINDS, "'work.kind' is unknown")
    # Verification reports the creator's handle; a missing or malformed one must be refused
    # here as input, not found later as a crash (issue #9, found by fuzzing).
    creator = body.get("creator")
    _require(
        isinstance(creator, dict) and isinstance(creator.get("handle"), str),
        "'creator.handle' is missing",
    )
    log = body.get("log")
    _require(
        isinstance(log, dict) and isinstance(log.get("index"), int) and log["index"] >= 0,
        "'log.index' is missing",
    )
    share = body.get("ai_share")
    _require(isinstance(share, int | float) and 0 <= share <= 100, "'ai_share' is out of range")
