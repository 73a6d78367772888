"""Notifications on a creator's dashboard: a near-copy found, a dispute opened or decided.

Issue #5 item 3 ("both creators are notified on their dashboard") and issue #7 item 3. A
notification is written in the same transaction as the event it reports, so a creator is never
told of something that did not happen (nor left untold of something that did).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hallmark.errors import AuthError
from hallmark.services.instance import Instance
from hallmark.storage.models import Notification, User

KINDS = (
    "near-copy",
    "dispute-opened",
    "dispute-decided",
    "review-decided",
    "appeal-answered",
)


def notify(
    inst: Instance,
    session: Session,
    user_id: str,
    kind: str,
    message: str,
    *,
    work_id: str | None = None,
    match_id: str | None = None,
    dispute_id: str | None = None,
) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    session.add(
        Notification(
            id=inst.new_id("n"),
            user_id=user_id,
            kind=kind,
            message=message,
            work_id=work_id,
            match_id=match_id,
            dispute_id=dispute_id,
            created_at=inst.clock(),
        )
    )
    # Flushed now so a failure (a bad reference) fails the event's own transaction, visibly.
    session.flush()


def notification_json(row: Notification) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "message": row.message,
        "work_id": row.work_id,
        "match_id": row.match_id,
        "dispute_id": row.dispute_id,
        "read": row.read_at is not None,
        "created_at": row.created_at.isoformat(),
    }


def for_user(inst: Instance, user: User | None, *, limit: int = 50) -> dict[str, Any]:
    """The user's newest notifications and how many are unread."""
    if user is None:
        raise AuthError("Sign in to see your notifications.")
    with inst.db.session() as session:
        rows = session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(max(1, min(limit, 200)))
        )
        unread = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        return {"notifications": [notification_json(r) for r in rows], "unread": unread or 0}


def mark_all_read(inst: Instance, user: User | None) -> int:
    if user is None:
        raise AuthError("Sign in to see your notifications.")
    with inst.db.writer() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=inst.clock())
        )
        return int(getattr(result, "rowcount", 0) or 0)
