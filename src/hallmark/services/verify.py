"""Online verification: a file with or without its bundle, checked against this instance.

With a bundle, the check is the same offline one the CLI runs (:func:`hallmark.core.verify.
verify_bundle`), plus this instance's own revocation list, which may be newer than the bundle.
With a file alone, the file is looked up by its SHA-256, then by its normalized-text digest,
among works that anyone may see, and verified against a freshly built bundle.
"""

from __future__ import annotations

from sqlalchemy import select

from hallmark.core.bundle import Bundle
from hallmark.core.certificate import statement_sha256
from hallmark.core.verify import REASONS, ContentDigests, VerificationResult, verify_bundle
from hallmark.errors import InputError
from hallmark.services.instance import Instance
from hallmark.services.log import statement_json
from hallmark.services.registry import build_bundle
from hallmark.storage.models import Certificate, Work
from hallmark.storage.spool import Content, as_content


def digests_of(inst: Instance, content: Content) -> ContentDigests:
    """The digests of an upload: its SHA-256 as counted on arrival and, for a file small enough
    to be a registered text, its normalized-text digest (the only time it is read whole)."""
    # A text work holds at most max_text_chars characters of at most 4 bytes each.
    if content.size > 4 * inst.settings.max_text_chars:
        return ContentDigests(content.sha256, None)
    return ContentDigests.of(content.read())


def _lookup(inst: Instance, digests: ContentDigests) -> Bundle | None:
    with inst.db.session() as session:
        visible = Work.visibility.in_(("public", "unlisted"))
        work = session.scalar(select(Work).where(Work.sha256 == digests.sha256, visible).limit(1))
        normalized = digests.normalized_text_sha256
        if work is None and normalized:
            work = session.scalar(
                select(Work).where(Work.normalized_text_sha256 == normalized, visible).limit(1)
            )
        if work is None or work.certificate is None:
            return None
        return build_bundle(session, work.certificate)


def verify(
    inst: Instance, content: bytes | Content | None, bundle_data: bytes | None
) -> VerificationResult:
    """Verify a file (its bytes, or an upload spooled as it arrived), its bundle, or both."""
    if content is None and bundle_data is None:
        raise InputError("Send a file, a bundle, or both.")
    digests = None
    if content is not None:
        spooled = as_content(content)
        if not spooled.size:
            raise InputError("The file is empty.")
        digests = digests_of(inst, spooled)
    if bundle_data is not None:
        bundle = Bundle.parse(bundle_data)
    else:
        assert digests is not None
        found = _lookup(inst, digests)
        if found is None:
            return VerificationResult(False, "not-registered", REASONS["not-registered"])
        bundle = found
    result = verify_bundle(digests, bundle, inst.verifier)
    apply_revocation(inst, bundle, result)
    return result


def apply_revocation(inst: Instance, bundle: Bundle, result: VerificationResult) -> None:
    """Mark a valid result revoked when this instance has revoked that very certificate.

    A bundle saved before its certificate was revoked does not say so; the instance that
    issued it does. Only the same signed bytes count, not just the same id.
    """
    if not result.valid:
        return
    with inst.db.session() as session:
        row = session.get(Certificate, bundle.certificate.id)
        if row is None or row.statement_sha256 != statement_sha256(bundle.certificate.body):
            return
        revocation = row.revocation
        if revocation is None:
            return
        result.valid = False
        result.reason = "revoked"
        result.detail = f"{REASONS['revoked']} Reason given: {revocation.reason}"
        result.revocation = statement_json(revocation.body)
