"""Register, look up, bundle and revoke works (DESIGN.md, flow 1 "Register").

Registration validates everything first, stores the blob (content-addressed, so a leftover
from a failed attempt is harmless and reused), then in ONE log-writer transaction inserts the
work, signs its certificate with the log index it is about to receive, appends the leaf and a
new checkpoint. Killing the process at any point leaves either all of these or none.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hallmark.core.bundle import Bundle, InclusionProof
from hallmark.core.bundle import Revocation as BundleRevocation
from hallmark.core.canonical import canonical_bytes
from hallmark.core.certificate import (
    Certificate as CertificateView,
)
from hallmark.core.certificate import (
    build_certificate,
    build_revocation,
    leaf_input,
    sign_statement,
    statement_sha256,
)
from hallmark.core.digests import decode_text, sha256_hex
from hallmark.core.labels import AssuranceLevel, OriginLabel, check_ai_share
from hallmark.errors import (
    AuthError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from hallmark.services import consent as consent_rules
from hallmark.services import jobs, listing, search, similarity
from hallmark.services import log as log_service
from hallmark.services.instance import Instance
from hallmark.services.media import MediaInfo, inspect
from hallmark.storage.log_store import LogStore
from hallmark.storage.models import Certificate, Revocation, User, Work, WorkStage
from hallmark.storage.spool import Content, as_content

logger = logging.getLogger(__name__)

VISIBILITIES = ("public", "unlisted", "private")
CONSENT_CHOICES = consent_rules.CONSENT_CHOICES
MAX_TITLE = 300


@dataclass(frozen=True)
class Registration:
    work_id: str
    certificate_id: str
    label: str
    level: str
    ai_share: float
    log_index: int
    sha256: str
    bundle: dict[str, Any]
    consent: str = consent_rules.DEFAULT_CONSENT
    consent_policy_url: str | None = None
    #: The analysis queued with the work (``register_work(..., analyse=True)``), to dispatch.
    analysis_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "certificate_id": self.certificate_id,
            "label": self.label,
            "level": self.level,
            "ai_share": self.ai_share,
            "log_index": self.log_index,
            "sha256": self.sha256,
            "consent": self.consent,
            "consent_policy_url": self.consent_policy_url,
        }


@dataclass
class Evidence:
    """What a use case adds to a registration beyond the declaration (issue #3 and later).

    ``attach`` runs inside the registration's transaction with the new work's id, so rows
    that point at the work (a draft, its stages) are written with it or not at all.
    """

    level: AssuranceLevel = AssuranceLevel.DECLARED
    items: list[dict[str, Any]] = field(default_factory=list)
    authorship: dict[str, Any] | None = None
    review_reasons: list[dict[str, str]] = field(default_factory=list)
    attach: Callable[[Session, str], None] | None = None


def clean_title(title: str | None) -> str:
    title = unicodedata.normalize("NFC", (title or "").strip())
    # Control characters have no place in a title and can hide text from reviewers.
    title = "".join(ch for ch in title if unicodedata.category(ch)[0] != "C" or ch == " ")
    if not title:
        raise InputError("A title is required.", hint="Give the work a title.")
    if len(title) > MAX_TITLE:
        raise InputError(f"The title is longer than {MAX_TITLE} characters.")
    return title


def check_visibility(value: str | None) -> str:
    value = (value or "public").strip().lower()
    if value not in VISIBILITIES:
        raise InputError(
            f"'{value[:30]}' is not a visibility.", hint=f"Use one of: {', '.join(VISIBILITIES)}."
        )
    return value


def register_work(
    inst: Instance,
    *,
    creator_id: str,
    data: bytes | Content,
    title: str,
    declare: str,
    ai_share: float | None = None,
    visibility: str | None = "public",
    filename: str | None = None,
    statement: str | None = None,
    consent: str | None = None,
    consent_policy_url: str | None = None,
    evidence: Evidence | None = None,
    analyse: bool = False,
) -> Registration:
    """Register and certify a work. ``data`` is its bytes, or an upload spooled as it arrived
    (then it is inspected and stored from the spool, never read whole unless it is a text).
    ``consent`` (with ``consent_policy_url`` when constrained) is the work's AI-training
    consent; None takes the creator's default (issue #6). With ``analyse``, its analysis is
    queued in the same transaction (``Registration.analysis_id``; hand it to
    ``analysis.dispatch``), so no registered work can be left without one."""
    label = OriginLabel.parse(declare)
    share = check_ai_share(label, ai_share)
    title = clean_title(title)
    visibility = check_visibility(visibility)
    chosen = consent_rules.parse(consent, consent_policy_url)
    statement_text = (statement or "").strip()[:2000]
    settings = inst.settings
    content = as_content(data)
    media = inspect(
        content,
        filename=filename,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_image_pixels,
        max_text_chars=settings.max_text_chars,
    )
    declaration = {"label": label.value, "ai_share": share, "statement": statement_text}
    # inspect() has checked that a text work is UTF-8; search indexes its text (issue #7).
    text = decode_text(content.read()) if media.kind == "text" else None
    blob_key = content.put_into(inst.blobs)
    try:
        return _record(
            inst,
            creator_id,
            media,
            title,
            label,
            share,
            visibility,
            declaration,
            blob_key,
            chosen,
            evidence or Evidence(),
            text,
            analyse,
        )
    except BaseException:
        # Drop the blob unless another work, or a stored draft (issue #3), uses the same bytes.
        with inst.db.session() as session:
            in_use = (
                select(Work.id)
                .where(Work.blob_key == blob_key)
                .union_all(select(WorkStage.id).where(WorkStage.blob_key == blob_key))
            )
            if session.scalar(in_use.limit(1)) is None:
                inst.blobs.delete(blob_key)
        raise


def _record(
    inst: Instance,
    creator_id: str,
    media: MediaInfo,
    title: str,
    label: OriginLabel,
    share: float,
    visibility: str,
    declaration: dict[str, Any],
    blob_key: str,
    chosen: consent_rules.Consent | None,
    evidence: Evidence,
    text: str | None,
    analyse: bool,
) -> Registration:
    with inst.db.log_writer() as session:
        creator = session.get(User, creator_id)
        if creator is None:
            raise NotFoundError("The creator account does not exist.")
        same = Work.sha256 == media.digests.sha256
        if media.digests.normalized_text_sha256:
            same = or_(same, Work.normalized_text_sha256 == media.digests.normalized_text_sha256)
        existing = session.scalar(select(Work).where(same).limit(1))
        if existing is not None:
            owner = "you" if existing.creator_id == creator_id else "another creator"
            raise ConflictError(
                f"This content is already registered by {owner}.",
                hint="The log records who registered it first; a work is certified once.",
            )
        # The default is read in the transaction that writes the work, so the certificate and
        # the work's consent column always agree.
        consent = consent_rules.for_new_work(chosen, creator)
        now = inst.clock()
        work_id, cert_id = inst.new_id("w"), inst.new_id("c")
        index = log_service.next_index(session)
        body = build_certificate(
            certificate_id=cert_id,
            issuer=inst.origin,
            issued_at=now,
            work_id=work_id,
            title=title,
            kind=media.kind,
            media_type=media.media_type,
            size=media.size,
            digests=media.digests,
            creator_handle=creator.handle,
            label=label,
            ai_share=share,
            level=evidence.level,
            evidence=[
                {"kind": "declaration", "sha256": sha256_hex(canonical_bytes(declaration))},
                *evidence.items,
            ],
            consent=consent.certificate_json(),
            log_index=index,
            authorship=evidence.authorship,
        )
        signature = sign_statement(body, inst.signer)
        sha = statement_sha256(body)
        work = Work(
            id=work_id,
            creator_id=creator.id,
            title=title,
            kind=media.kind,
            media_type=media.media_type,
            size=media.size,
            sha256=media.digests.sha256,
            normalized_text_sha256=media.digests.normalized_text_sha256,
            perceptual_hash=media.digests.perceptual_hash,
            blob_key=blob_key,
            visibility=visibility,
            label=label.value,
            level=evidence.level.value,
            ai_share=share,
            declaration=declaration,
            review_status="pending" if evidence.review_reasons else "none",
            review_reasons=evidence.review_reasons or None,
            created_at=now,
            consent=consent.value,
            consent_policy_url=consent.policy_url,
        )
        session.add(work)
        session.flush()
        if evidence.attach is not None:
            evidence.attach(session, work_id)
        cert_row = Certificate(
            id=cert_id,
            work_id=work_id,
            body=canonical_bytes(body).decode("utf-8"),
            signature=signature,
            statement_sha256=sha,
            log_index=index,
            issued_at=now,
        )
        session.add(cert_row)
        session.flush()
        appended = log_service.append_statement(inst, session, "certificate", sha, leaf_input(body))
        if appended != index:
            raise AssertionError("log index changed under the write lock")
        search.index_work(session, work, text)
        analysis_id = jobs.queue(inst, session, work_id) if analyse else None
        bundle = build_bundle(session, cert_row)
    logger.info("registered %s as %s (%s, log index %d)", work_id, cert_id, label.value, index)
    return Registration(
        work_id,
        cert_id,
        label.value,
        evidence.level.value,
        share,
        index,
        media.digests.sha256,
        bundle.to_json(),
        consent=consent.value,
        consent_policy_url=consent.policy_url,
        analysis_id=analysis_id,
    )


def build_bundle(session: Session, cert: Certificate) -> Bundle:
    """The bundle for ``cert`` against the newest checkpoint, with its revocation if any."""
    store = LogStore(session)
    checkpoint = store.latest_checkpoint()
    if checkpoint is None or checkpoint.size <= cert.log_index:
        raise NotFoundError("The log has no checkpoint covering this certificate yet.")
    size = checkpoint.size
    body = log_service.statement_json(cert.body)
    proof = InclusionProof(cert.log_index, size, tuple(store.inclusion_proof(cert.log_index, size)))
    revocation = None
    rev = cert.revocation
    if rev is not None and rev.log_index < size:
        revocation = BundleRevocation(
            statement=log_service.statement_json(rev.body),
            signature=bytes(rev.signature),
            proof=InclusionProof(
                rev.log_index, size, tuple(store.inclusion_proof(rev.log_index, size))
            ),
        )
    return Bundle(CertificateView(body), bytes(cert.signature), proof, checkpoint.note, revocation)


# Reading works, with visibility rules -------------------------------------------------------


def can_see(work: Work, viewer: User | None) -> bool:
    if work.visibility in ("public", "unlisted"):
        return True
    return viewer is not None and (viewer.id == work.creator_id or viewer.role == "admin")


def get_work(session: Session, work_id: str, viewer: User | None) -> Work:
    """The work, if ``viewer`` may see it; otherwise 'not found', so private works stay secret."""
    work = session.get(Work, work_id) if len(work_id) <= 40 else None
    if work is None or not can_see(work, viewer):
        raise NotFoundError(f"There is no work '{work_id[:40]}'.")
    return work


def list_works(
    session: Session,
    viewer: User | None,
    *,
    creator: User | None = None,
    limit: int = 50,
) -> list[Work]:
    """Works newest first: public ones, plus the viewer's own when listing their own works."""
    return page_works(session, viewer, creator=creator, limit=limit).works


def page_works(
    session: Session,
    viewer: User | None,
    *,
    creator: User | None = None,
    limit: int = 50,
    filters: listing.Filters = listing.ALL,
    after: listing.Cursor | None = None,
) -> listing.Page:
    """One page of :func:`list_works`, narrowed by ``filters``, starting after ``after``.

    Unlike the gallery, revoked works are included (:func:`work_json` marks them): an API
    client that keeps copies needs to learn of a revocation.
    """
    limit = max(1, min(limit, 200))
    query = filters.apply(select(Work))
    if creator is not None:
        query = query.where(Work.creator_id == creator.id)
    own = viewer is not None and (
        viewer.role == "admin" or (creator is not None and viewer.id == creator.id)
    )
    if not own:
        query = query.where(Work.visibility == "public")
    return listing.page_of(list(session.scalars(listing.newest_first(query, after, limit))), limit)


def change_visibility(
    inst: Instance, work_id: str, viewer: User | None, visibility: str
) -> dict[str, Any]:
    """Make a work public, unlisted or private (its creator, or an admin).

    Visibility is not part of the certificate, so nothing is signed or logged; the gallery and
    search follow at once, since the search index is updated in the same transaction.
    """
    if viewer is None:
        raise AuthError("Sign in to change a work's visibility.")
    if not (visibility or "").strip():
        raise InputError("Choose a visibility.", hint=f"Use one of: {', '.join(VISIBILITIES)}.")
    chosen = check_visibility(visibility)
    # A writer session: on SQLite it takes the write lock at once, where a read that turns
    # into a write fails if another write committed meanwhile; registrations index works too.
    with inst.db.log_writer() as session:
        work = get_work(session, work_id, viewer)
        if viewer.id != work.creator_id and viewer.role != "admin":
            raise PermissionDeniedError("Only the work's creator may change its visibility.")
        if work.visibility != chosen:
            work.visibility = chosen
            search.reindex_work(inst, session, work)
            logger.info("work %s is now %s", work.id, chosen)
        return work_json(work)


def work_json(work: Work) -> dict[str, Any]:
    cert = work.certificate
    return {
        "work_id": work.id,
        "title": work.title,
        "kind": work.kind,
        "media_type": work.media_type,
        "size": work.size,
        "sha256": work.sha256,
        "normalized_text_sha256": work.normalized_text_sha256,
        "perceptual_hash": work.perceptual_hash,
        "creator": work.creator.handle,
        "visibility": work.visibility,
        "label": work.label,
        "level": work.level,
        "ai_share": work.ai_share,
        "created_at": work.created_at.isoformat(),
        "consent": work.consent,
        "consent_policy_url": work.consent_policy_url,
        "certificate_id": cert.id if cert else None,
        "log_index": cert.log_index if cert else None,
        "revoked": bool(cert and cert.revocation),
    }


def find_certificate(session: Session, certificate_id: str) -> Certificate:
    cert = session.get(Certificate, certificate_id) if len(certificate_id) <= 40 else None
    if cert is None:
        raise NotFoundError(f"There is no certificate '{certificate_id[:40]}'.")
    return cert


def revoke(
    inst: Instance, *, certificate_id: str, reason: str, actor: User | None
) -> dict[str, Any]:
    """Revoke a certificate: sign a revocation statement and append it to the log.

    ``actor`` None means the operator (the CLI on the instance's own machine). Otherwise only
    the work's creator or an admin may revoke.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InputError("A reason is required to revoke a certificate.")
    if len(reason) > 500:
        raise InputError("The reason is longer than 500 characters.")
    with inst.db.log_writer() as session:
        cert = find_certificate(session, certificate_id)
        if actor is not None:
            viewer = session.get(User, actor.id)
            if viewer is None or not can_see(cert.work, viewer):
                raise NotFoundError(f"There is no certificate '{certificate_id[:40]}'.")
            if viewer.id != cert.work.creator_id and viewer.role != "admin":
                raise PermissionDeniedError("Only the work's creator or an admin may revoke it.")
        if cert.revocation is not None:
            raise ConflictError("This certificate is already revoked.")
        return revoke_in(inst, session, cert, reason, actor.id if actor else None)


def revoke_in(
    inst: Instance, session: Session, cert: Certificate, reason: str, actor_id: str | None
) -> dict[str, Any]:
    """Revoke ``cert`` in the caller's log-writer transaction (the caller has checked who may)."""
    body = _log_revocation(inst, session, cert, reason, actor_id)
    if not cert.superseded:
        # A work without a valid certificate is no longer prior art for anyone, nor shown in
        # the gallery or found by search (issue #7).
        similarity.deactivate(session, cert.work_id)
        search.remove_work(session, cert.work_id)
    return body


def _log_revocation(
    inst: Instance, session: Session, cert: Certificate, reason: str, actor_id: str | None
) -> dict[str, Any]:
    """Sign a revocation of ``cert`` and append it to the log, in the caller's log-writer
    transaction; return the statement."""
    now = inst.clock()
    body = build_revocation(
        certificate=log_service.statement_json(cert.body),
        reason=reason,
        revoked_at=now,
        log_index=log_service.next_index(session),
    )
    sha = statement_sha256(body)
    session.add(
        Revocation(
            id=inst.new_id("r"),
            certificate_id=cert.id,
            body=canonical_bytes(body).decode("utf-8"),
            signature=sign_statement(body, inst.signer),
            statement_sha256=sha,
            log_index=body["log"]["index"],
            reason=reason,
            revoked_by=actor_id,
            created_at=now,
        )
    )
    session.flush()
    log_service.append_statement(inst, session, "revocation", sha, leaf_input(body))
    return body


def reissue_certificate(
    inst: Instance,
    work_id: str,
    *,
    level: AssuranceLevel,
    extra_evidence: list[dict[str, Any]],
    reason: str,
    actor_id: str | None = None,
    attach: Callable[[Session, Certificate], None] | None = None,
) -> str:
    """Replace a work's current certificate by one at ``level``; return the new certificate id.

    Issue #4: when analysis or a reviewer raises the level, the work gets a new certificate
    with the extra evidence, and the old one is marked superseded and revoked in the log with
    the reason "superseded by <new id>" (``reason`` says why, for the server log). All of it,
    and whatever ``attach`` writes (the analysis or review record), happens in ONE log-writer
    transaction: no certificate without its log entry, no supersession without its revocation.
    """
    with inst.db.log_writer() as session:
        work = session.get(Work, work_id)
        if work is None:
            raise NotFoundError(f"There is no work '{work_id[:40]}'.")
        old = work.certificate
        if old is None:
            raise ConflictError("This work has no current certificate to reissue.")
        if old.revocation is not None:
            raise ConflictError(
                "This work's certificate was revoked, so it is not reissued.",
                hint="A revoked work stays revoked; register it again if that was a mistake.",
            )
        previous = log_service.statement_json(old.body)
        now = inst.clock()
        new_id = inst.new_id("c")
        index = log_service.next_index(session)
        kinds = {item["kind"] for item in extra_evidence}
        evidence = [item for item in previous["evidence"] if item.get("kind") not in kinds]
        body = build_certificate(
            certificate_id=new_id,
            issuer=inst.origin,
            issued_at=now,
            work_id=work.id,
            title=previous["work"]["title"],
            kind=work.kind,
            media_type=work.media_type,
            size=work.size,
            digests=CertificateView(previous).digests,
            creator_handle=previous["creator"]["handle"],
            label=OriginLabel(previous["label"]),
            ai_share=float(previous["ai_share"]),
            level=level,
            evidence=[*evidence, *extra_evidence],
            consent=previous["consent"],
            log_index=index,
            authorship=previous.get("authorship"),
        )
        sha = statement_sha256(body)
        old.superseded = True
        new = Certificate(
            id=new_id,
            work_id=work.id,
            body=canonical_bytes(body).decode("utf-8"),
            signature=sign_statement(body, inst.signer),
            statement_sha256=sha,
            log_index=index,
            issued_at=now,
        )
        session.add(new)
        work.level = level.value
        session.flush()
        appended = log_service.append_statement(inst, session, "certificate", sha, leaf_input(body))
        if appended != index:
            raise AssertionError("log index changed under the write lock")
        _log_revocation(inst, session, old, f"superseded by {new_id}", actor_id)
        if attach is not None:
            attach(session, new)
    logger.info("reissued %s as %s at level %s (%s)", old.id, new_id, level.value, reason)
    return new_id
