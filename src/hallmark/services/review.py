"""The review queue: a person decides the cases automated evidence cannot (issue #4, item 5).

A work enters the queue when the policy or the process evidence asks for a person
(``review_status`` "pending") or when its creator appeals a rejection ("appealed"). Reviewers
and admins see the queue, oldest first, and every piece of evidence side by side; nobody
reviews their own work. A decision is always recorded as a :class:`Review` row:

- approve: the certificate is reissued at level ``reviewed`` (the old one superseded and
  revoked in the log), in the same transaction as the review record;
- reject: the certificate stays as it is, and the reason is shown to the creator, who may
  appeal ONCE with a message, which puts the work back in the queue marked "appealed".
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.core.canonical import canonical_bytes
from hallmark.core.certificate import format_time
from hallmark.core.digests import sha256_hex
from hallmark.core.labels import AssuranceLevel
from hallmark.errors import (
    AuthError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from hallmark.services import analysis as analysis_service
from hallmark.services import log as log_service
from hallmark.services import notifications, registry, stages
from hallmark.services.instance import Instance
from hallmark.storage.models import (
    Appeal,
    Authorship,
    Certificate,
    Dispute,
    Review,
    User,
    Work,
)

logger = logging.getLogger(__name__)

REVIEWER_ROLES = ("reviewer", "admin")
IN_QUEUE = ("pending", "appealed")
DECISIONS = ("approved", "rejected")
MAX_REASON = 2000
MAX_APPEAL = 2000


def is_reviewer(user: User | None) -> bool:
    return user is not None and user.role in REVIEWER_ROLES


def require_reviewer(user: User | None) -> User:
    if user is None:
        raise AuthError("Only reviewers can see the review queue.", hint="Sign in first.")
    if not is_reviewer(user):
        raise PermissionDeniedError("Only reviewers and admins can see the review queue.")
    return user


def _queued_work(session: Session, work_id: str, viewer: User) -> Work:
    """The work, if it is a reviewer's business: one they may see anyway, one that is or was
    in review, or one in a dispute. A private work that never went to review is its creator's
    and admins' alone (issue #7, item 6), so for a reviewer it does not exist."""
    work = session.get(Work, work_id) if len(work_id) <= 40 else None
    if work is None or not (
        registry.can_see(work, viewer) or work.review_status != "none" or _disputed(session, work)
    ):
        raise NotFoundError(f"There is no work '{work_id[:40]}'.")
    return work


def _disputed(session: Session, work: Work) -> bool:
    either = (Dispute.claimant_work_id == work.id) | (Dispute.respondent_work_id == work.id)
    return session.scalar(select(Dispute.id).where(either).limit(1)) is not None


def queue(inst: Instance, viewer: User | None) -> list[dict[str, Any]]:
    """Works waiting for a person, oldest first, with why they wait."""
    require_reviewer(viewer)
    with inst.db.session() as session:
        works = session.scalars(
            select(Work)
            .where(Work.review_status.in_(IN_QUEUE))
            .order_by(Work.created_at.asc(), Work.id.asc())
        )
        return [
            {
                "work_id": work.id,
                "title": work.title,
                "kind": work.kind,
                "creator": work.creator.handle,
                "label": work.label,
                "level": work.level,
                "review_status": work.review_status,
                "reasons": work.review_reasons or [],
                "created_at": work.created_at.isoformat(),
                "own": viewer is not None and viewer.id == work.creator_id,
            }
            for work in works
        ]


def for_creator(inst: Instance, creator: User) -> list[dict[str, Any]]:
    """The creator's works waiting for a person (pending, or appealed), newest first, with
    why they wait: their dashboard's "under review" list (issue #7, item 3)."""
    with inst.db.session() as session:
        works = session.scalars(
            select(Work)
            .where(Work.creator_id == creator.id, Work.review_status.in_(IN_QUEUE))
            .order_by(Work.created_at.desc(), Work.id.desc())
        )
        return [
            {
                "work_id": work.id,
                "title": work.title,
                "kind": work.kind,
                "label": work.label,
                "level": work.level,
                "review_status": work.review_status,
                "reasons": work.review_reasons or [],
                "created_at": work.created_at.isoformat(),
            }
            for work in works
        ]


def history(session: Session, work_id: str) -> dict[str, Any]:
    """Every decision on a work, oldest first, and its appeal if there is one."""
    reviews = session.scalars(
        select(Review)
        .where(Review.work_id == work_id)
        .order_by(Review.created_at.asc(), Review.id.asc())
    )
    rows = []
    for review in reviews:
        reviewer = session.get(User, review.reviewer_id)
        rows.append(
            {
                "review_id": review.id,
                "decision": review.decision,
                "reason": review.reason,
                "reviewer": reviewer.handle if reviewer else None,
                "certificate_id": review.certificate_id,
                "created_at": review.created_at.isoformat(),
            }
        )
    appeal = session.scalar(select(Appeal).where(Appeal.work_id == work_id))
    return {
        "reviews": rows,
        "appeal": (
            {
                "message": appeal.message,
                "created_at": appeal.created_at.isoformat(),
                "answered": appeal.answer_id is not None,
            }
            if appeal
            else None
        ),
    }


def status_for(session: Session, work: Work) -> dict[str, Any]:
    """What the creator (and anyone who may see the work) is told about its review."""
    past = history(session, work.id)
    rejection = next((r for r in reversed(past["reviews"]) if r["decision"] == "rejected"), None)
    return {
        "status": work.review_status,
        "reasons": work.review_reasons or [],
        "rejection": rejection,
        "may_appeal": work.review_status == "rejected" and past["appeal"] is None,
        **past,
    }


def evidence(inst: Instance, work_id: str, viewer: User | None) -> dict[str, Any]:
    """All the evidence about one work, for a reviewer to read side by side."""
    reviewer = require_reviewer(viewer)
    with inst.db.session() as session:
        work = _queued_work(session, work_id, reviewer)
        cert = work.certificate
        report = session.get(Authorship, work.id)
        latest = analysis_service.latest(session, work.id)
        text = None
        if work.kind == "text":
            text = inst.blobs.get(work.blob_key).decode("utf-8", errors="replace")
        result: dict[str, Any] = {
            "work": registry.work_json(work),
            "declaration": dict(work.declaration),
            "certificate": log_service.statement_json(cert.body) if cert else None,
            "analysis": analysis_service.analysis_json(latest) if latest else None,
            "authorship": (
                {
                    "shares": report.report.get("shares"),
                    "ai_share": report.report.get("ai_share"),
                    "events": report.report.get("events"),
                    "flags": report.report.get("flags", []),
                    "public": report.public,
                    "link": f"/works/{work.id}/authorship"
                    if report.public or (viewer is not None and viewer.role == "admin")
                    else None,
                }
                if report
                else None
            ),
            "text": text,
            "review": status_for(session, work),
            "own": viewer is not None and viewer.id == work.creator_id,
        }
    try:
        result["progression"] = stages.progression(inst, work_id, viewer)
    except NotFoundError:
        # A private work's drafts stay its creator's (and admins'); the reviewer still has the
        # rest of the evidence.
        result["progression"] = None
    return result


def decide(
    inst: Instance, work_id: str, reviewer: User | None, *, decision: str, reason: str
) -> dict[str, Any]:
    """Record a reviewer's decision; an approval reissues the certificate at ``reviewed``."""
    require_reviewer(reviewer)
    assert reviewer is not None
    decision = (decision or "").strip().lower()
    if decision in ("approve", "reject"):
        decision += "d"
    if decision not in DECISIONS:
        raise InputError(
            f"'{decision[:20]}' is not a decision.", hint="Use 'approved' or 'rejected'."
        )
    reason = (reason or "").strip()
    if decision == "rejected" and not reason:
        raise InputError(
            "A rejection needs a reason.", hint="The creator sees it; say what was missing."
        )
    if len(reason) > MAX_REASON:
        raise InputError(f"The reason is longer than {MAX_REASON} characters.")
    with inst.db.session() as session:
        work = _queued_work(session, work_id, reviewer)
        if work.creator_id == reviewer.id:
            raise PermissionDeniedError("Nobody reviews their own work.")
        if work.review_status not in IN_QUEUE:
            raise ConflictError("This work is not waiting for review.")
    now = inst.clock()
    review_id = inst.new_id("v")

    def record(session: Session, certificate: Certificate | None = None) -> None:
        work = _queued_work(session, work_id, reviewer)
        # Checked again under the write: two reviewers deciding at once must not both win.
        if work.review_status not in IN_QUEUE:
            raise ConflictError("This work is not waiting for review.")
        session.add(
            Review(
                id=review_id,
                work_id=work.id,
                reviewer_id=reviewer.id,
                decision=decision,
                reason=reason,
                certificate_id=certificate.id if certificate else None,
                created_at=now,
            )
        )
        session.flush()
        work.review_status = decision
        appeal = session.scalar(select(Appeal).where(Appeal.work_id == work.id))
        answers_appeal = appeal is not None and appeal.answer_id is None
        if appeal is not None and answers_appeal:
            appeal.answer_id = review_id
        # Issue #7, item 3: the creator learns of the decision on their dashboard, written in
        # the decision's own transaction.
        notifications.notify(
            inst,
            session,
            work.creator_id,
            "appeal-answered" if answers_appeal else "review-decided",
            _decision_message(work.title, decision, reason, appeal=answers_appeal),
            work_id=work.id,
        )

    certificate_id = None
    if decision == "approved":
        item = {
            "kind": "review",
            "sha256": sha256_hex(
                canonical_bytes(
                    {
                        "work_id": work_id,
                        "decision": decision,
                        "reason": reason,
                        "reviewer": reviewer.handle,
                        "at": format_time(now),
                    }
                )
            ),
        }
        certificate_id = registry.reissue_certificate(
            inst,
            work_id,
            level=AssuranceLevel.REVIEWED,
            extra_evidence=[item],
            reason=f"review {review_id}",
            actor_id=reviewer.id,
            attach=record,
        )
    else:
        with inst.db.log_writer() as session:
            record(session)
    logger.info("review %s: %s %s", review_id, work_id, decision)
    return {
        "review_id": review_id,
        "work_id": work_id,
        "decision": decision,
        "reason": reason,
        "certificate_id": certificate_id,
    }


def _decision_message(title: str, decision: str, reason: str, *, appeal: bool) -> str:
    subject = f"Your appeal about '{title}'" if appeal else f"The review of '{title}'"
    if decision == "approved":
        message = f"{subject}: approved. The work's certificate is reissued at level Reviewed."
    else:
        message = f"{subject}: rejected. The certificate stays as it was."
        if not appeal:
            message += " You may appeal once, from the work's page."
    return f"{message} The reviewer's reason: {reason}" if reason else message


def appeal(inst: Instance, work_id: str, creator: User | None, *, message: str) -> dict[str, Any]:
    """The creator answers a rejection, once; the work goes back to the queue."""
    if creator is None:
        raise AuthError("Sign in to appeal.")
    message = (message or "").strip()
    if not message:
        raise InputError(
            "An appeal needs a message.", hint="Say what the reviewer should look at again."
        )
    if len(message) > MAX_APPEAL:
        raise InputError(f"The message is longer than {MAX_APPEAL} characters.")
    with inst.db.log_writer() as session:
        work = registry.get_work(session, work_id, creator)
        if work.creator_id != creator.id:
            raise PermissionDeniedError("Only the work's creator can appeal.")
        if session.scalar(select(Appeal.id).where(Appeal.work_id == work.id)) is not None:
            raise ConflictError("This work was already appealed; an appeal is allowed once.")
        if work.review_status != "rejected":
            raise ConflictError("Only a rejected work can be appealed.")
        row = Appeal(
            id=inst.new_id("p"),
            work_id=work.id,
            creator_id=creator.id,
            message=message,
            created_at=inst.clock(),
        )
        session.add(row)
        work.review_status = "appealed"
        return {"appeal_id": row.id, "work_id": work.id, "review_status": "appealed"}
