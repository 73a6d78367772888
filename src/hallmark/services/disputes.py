"""Disputes: a creator says a matched work copies theirs, and a reviewer decides (issue #5, 5).

A dispute is opened from a recorded match (:mod:`hallmark.services.similarity`) by the creator
of one of the two works. A reviewer (never one of the two creators) sees both works, their
evidence and their log entries side by side and either *upholds* the dispute, which revokes the
certificate of the work the log holds second (the revocation is signed and logged like any
other), or *dismisses* it with a reason. Both creators are told, on their dashboard, in the
same transaction as the decision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hallmark.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hallmark.services import notifications, registry, review
from hallmark.services.instance import Instance
from hallmark.services.similarity import first_log_indexes
from hallmark.storage.models import Dispute, LogEntry, SimilarityMatch, User, Work

MAX_STATEMENT = 2000
MAX_REASON = 2000
DECISIONS = ("upheld", "dismissed")


def _first_index(session: Session, work_id: str) -> int | None:
    return first_log_indexes(session, [work_id]).get(work_id)


def _first_entry(session: Session, work_id: str) -> dict[str, Any] | None:
    index = _first_index(session, work_id)
    if index is None:
        return None
    entry = session.get(LogEntry, index)
    return {"log_index": index, "logged_at": entry.created_at.isoformat() if entry else None}


def _get(session: Session, dispute_id: str) -> Dispute:
    dispute = session.get(Dispute, dispute_id) if len(dispute_id) <= 40 else None
    if dispute is None:
        raise NotFoundError(f"There is no dispute '{dispute_id[:40]}'.")
    return dispute


def _party(session: Session, dispute: Dispute, user: User | None) -> bool:
    if user is None:
        return False
    respondent = session.get(Work, dispute.respondent_work_id)
    return user.id == dispute.claimant_id or (
        respondent is not None and respondent.creator_id == user.id
    )


def dispute_json(session: Session, dispute: Dispute) -> dict[str, Any]:
    match = dispute.match
    return {
        "dispute_id": dispute.id,
        "match_id": dispute.match_id,
        "status": dispute.status,
        "claimant": session.get(User, dispute.claimant_id).handle,  # type: ignore[union-attr]
        "claimant_work_id": dispute.claimant_work_id,
        "respondent_work_id": dispute.respondent_work_id,
        "statement": dispute.statement,
        "score": round(match.score, 4),
        "kind": match.kind,
        "first_work_id": match.first_work_id,
        "decision_reason": dispute.decision_reason,
        "revoked_certificate_id": dispute.revoked_certificate_id,
        "created_at": dispute.created_at.isoformat(),
        "decided_at": dispute.decided_at.isoformat() if dispute.decided_at else None,
    }


def open_dispute(
    inst: Instance, user: User | None, *, match_id: str, statement: str
) -> dict[str, Any]:
    """Open a dispute from a match the user's work is part of."""
    if user is None:
        raise PermissionDeniedError("Sign in to open a dispute.")
    statement = (statement or "").strip()
    if not statement:
        raise InputError(
            "Say why you believe the other work copies yours.",
            hint="For example where and when you first published it.",
        )
    if len(statement) > MAX_STATEMENT:
        raise InputError(f"The statement is longer than {MAX_STATEMENT} characters.")
    with inst.db.writer() as session:
        match = session.get(SimilarityMatch, match_id) if len(match_id) <= 40 else None
        if match is None:
            raise NotFoundError(f"There is no match '{match_id[:40]}'.")
        works = {w.creator_id: w for w in (match.work, match.matched_work)}
        mine = works.get(user.id)
        if mine is None:
            # Not a party: the match stays as secret as the works in it.
            raise NotFoundError(f"There is no match '{match_id[:40]}'.")
        other = match.matched_work if mine.id == match.work_id else match.work
        if session.scalar(select(Dispute.id).where(Dispute.match_id == match.id)) is not None:
            raise ConflictError("A dispute about these two works is already open or decided.")
        dispute = Dispute(
            id=inst.new_id("d"),
            match_id=match.id,
            claimant_id=user.id,
            claimant_work_id=mine.id,
            respondent_work_id=other.id,
            statement=statement,
            status="open",
            created_at=inst.clock(),
        )
        session.add(dispute)
        session.flush()
        notifications.notify(
            inst,
            session,
            other.creator_id,
            "dispute-opened",
            f"Another creator says your work '{other.title}' copies theirs. A reviewer will "
            "compare the two works and their log entries; your certificate stays valid "
            "meanwhile.",
            work_id=other.id,
            match_id=match.id,
            dispute_id=dispute.id,
        )
        return dispute_json(session, dispute)


def list_open(inst: Instance, viewer: User | None) -> list[dict[str, Any]]:
    """Open disputes, oldest first, for the review queue."""
    review.require_reviewer(viewer)
    with inst.db.session() as session:
        rows = session.scalars(
            select(Dispute).where(Dispute.status == "open").order_by(Dispute.created_at)
        )
        return [dispute_json(session, d) for d in rows]


def for_user(inst: Instance, user: User, *, limit: int = 50) -> list[dict[str, Any]]:
    """Disputes the user opened or answers to, newest first (their dashboard)."""
    with inst.db.session() as session:
        respondent = select(Work.id).where(Work.creator_id == user.id)
        rows = session.scalars(
            select(Dispute)
            .where((Dispute.claimant_id == user.id) | Dispute.respondent_work_id.in_(respondent))
            .order_by(Dispute.created_at.desc())
            .limit(limit)
        )
        return [dispute_json(session, d) for d in rows]


def get(inst: Instance, viewer: User | None, dispute_id: str) -> dict[str, Any]:
    """A dispute: for reviewers with both works' full evidence; for the two creators, the
    record and its status."""
    with inst.db.session() as session:
        dispute = _get(session, dispute_id)
        if not (review.is_reviewer(viewer) or _party(session, dispute, viewer)):
            raise NotFoundError(f"There is no dispute '{dispute_id[:40]}'.")
        result = dispute_json(session, dispute)
        result["log"] = {
            dispute.claimant_work_id: _first_entry(session, dispute.claimant_work_id),
            dispute.respondent_work_id: _first_entry(session, dispute.respondent_work_id),
        }
        reviewer = review.is_reviewer(viewer) and not _party(session, dispute, viewer)
    if reviewer:
        result["claimant_evidence"] = review.evidence(inst, dispute.claimant_work_id, viewer)
        result["respondent_evidence"] = review.evidence(inst, dispute.respondent_work_id, viewer)
    result["can_decide"] = reviewer and result["status"] == "open"
    return result


def decide(
    inst: Instance, reviewer: User | None, dispute_id: str, *, decision: str, reason: str
) -> dict[str, Any]:
    """Uphold (revoke the later registration) or dismiss a dispute, with a reason."""
    review.require_reviewer(reviewer)
    assert reviewer is not None
    if decision not in DECISIONS:
        raise InputError(f"The decision must be one of: {', '.join(DECISIONS)}.")
    reason = (reason or "").strip()
    if not reason:
        raise InputError("A reason is required; both creators will read it.")
    if len(reason) > MAX_REASON:
        raise InputError(f"The reason is longer than {MAX_REASON} characters.")
    with inst.db.log_writer() as session:
        dispute = _get(session, dispute_id)
        if _party(session, dispute, reviewer):
            raise PermissionDeniedError("Nobody decides a dispute about their own work.")
        if dispute.status != "open":
            raise ConflictError("This dispute has already been decided.")
        claimant = session.get(Work, dispute.claimant_work_id)
        respondent = session.get(Work, dispute.respondent_work_id)
        assert claimant is not None and respondent is not None
        first = {w.id: _first_index(session, w.id) for w in (claimant, respondent)}
        later = max((claimant, respondent), key=lambda w: first[w.id] or 0)
        earlier = claimant if later is respondent else respondent
        dispute.status = decision
        dispute.decided_by = reviewer.id
        dispute.decision_reason = reason
        dispute.decided_at = inst.clock()
        if decision == "upheld":
            cert = later.certificate
            if cert is not None and cert.revocation is None:
                registry.revoke_in(
                    inst,
                    session,
                    cert,
                    f"prior art: work {earlier.id} was registered first "
                    f"(log index {first[earlier.id]}); dispute {dispute.id} upheld",
                    reviewer.id,
                )
                dispute.revoked_certificate_id = cert.id
        outcome = (
            f"The certificate of '{later.title}', registered later, was revoked."
            if dispute.revoked_certificate_id
            else "No certificate was revoked."
        )
        for work in (claimant, respondent):
            notifications.notify(
                inst,
                session,
                work.creator_id,
                "dispute-decided",
                f"The dispute about '{claimant.title}' and '{respondent.title}' was "
                f"{decision}. {outcome} The reviewer's reason: {reason}",
                work_id=work.id,
                match_id=dispute.match_id,
                dispute_id=dispute.id,
            )
        return dispute_json(session, dispute)


def matches_for(inst: Instance, viewer: User | None, work_id: str) -> list[dict[str, Any]]:
    """The recorded matches of a work, for its creator and reviewers (the work page)."""
    with inst.db.session() as session:
        work = registry.get_work(session, work_id, viewer)
        if viewer is None or not (viewer.id == work.creator_id or review.is_reviewer(viewer)):
            return []
        rows = session.scalars(
            select(SimilarityMatch)
            .where(
                (SimilarityMatch.work_id == work.id) | (SimilarityMatch.matched_work_id == work.id)
            )
            .order_by(SimilarityMatch.score.desc())
        )
        out = []
        for match in rows:
            other = match.matched_work if match.work_id == work.id else match.work
            shown = registry.can_see(other, viewer) or review.is_reviewer(viewer)
            dispute = session.scalar(select(Dispute).where(Dispute.match_id == match.id))
            out.append(
                {
                    "match_id": match.id,
                    "score": round(match.score, 4),
                    "kind": match.kind,
                    "other_work_id": other.id if shown else None,
                    "other_title": other.title if shown else None,
                    "other_creator": other.creator.handle if shown else None,
                    "this_first": match.first_work_id == work.id,
                    "dispute_id": dispute.id if dispute else None,
                    "dispute_status": dispute.status if dispute else None,
                    "can_dispute": dispute is None and viewer.id == work.creator_id,
                }
            )
        return out
