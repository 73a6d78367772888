"""Database tables (SQLAlchemy 2 typed ORM). Alembic migrations under ``migrations/`` create them.

The log's tables hold hashes only, never personal data (DESIGN.md, "Log"): ``log_entries`` names
each leaf's statement by digest, ``log_nodes`` keeps every complete perfect subtree hash keyed by
(level, index) so proofs need one batched read, and ``checkpoints`` keeps each signed tree head.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="creator")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: Failed logins to this account from every address, draining away at
    #: ``login_account_max_failures`` per ``login_lockout_seconds`` since ``login_strain_at``.
    #: Over that ceiling, logins from addresses the account never signed in from slow down.
    login_strain: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    login_strain_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    #: The AI-training consent a new work gets when its creator does not choose one (issue #6):
    #: allowed, not-allowed or constrained; constrained needs ``consent_policy_url``.
    consent_default: Mapped[str] = mapped_column(
        String(16), default="not-allowed", server_default="not-allowed"
    )
    consent_policy_url: Mapped[str | None] = mapped_column(String(2000))
    #: Copied into the browser session at login; raising it ends every session signed in
    #: before (logout), since a signed cookie cannot be taken back from whoever holds a copy.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    works: Mapped[list[Work]] = relationship(back_populates="creator")


class LoginClient(Base):
    """One account's logins from one client address: failures, a lock, and the last success.

    Failures lock only this (account, address) pair, so someone guessing passwords from one
    address cannot lock the owner out from another (``hallmark.services.accounts``).
    """

    __tablename__ = "login_clients"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: HMAC-SHA256 of the address under the instance's secret key, never the address itself:
    #: a copy of the database does not say where people log in from.
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    failed_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    signed_in_at: Mapped[datetime | None]


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Only a SHA-256 of the token is stored; the token itself is shown once, at creation.
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Work(Base):
    __tablename__ = "works"
    # The gallery, search and creator pages list works newest first and page with a
    # (created_at, id) cursor (issue #7), so each listing walks one of these in order.
    __table_args__ = (
        Index("ix_works_visibility_created_id", "visibility", "created_at", "id"),
        Index("ix_works_visibility_label_created_id", "visibility", "label", "created_at", "id"),
        Index("ix_works_creator_created_id", "creator_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    normalized_text_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    perceptual_hash: Mapped[str | None] = mapped_column(String(80))
    blob_key: Mapped[str] = mapped_column(String(64))
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    label: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(20))
    ai_share: Mapped[float] = mapped_column(Float, default=0.0)
    declaration: Mapped[dict[str, Any]]
    #: "none", or "pending" when the evidence asks for a person to look (flags, large pastes).
    review_status: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    review_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    #: AI-training consent as it is now (issue #6): the creator may change it after
    #: registration, while the certificate keeps what was declared. Published as TDMRep,
    #: robots.txt, ai.txt, JSON-LD and Content Credentials.
    consent: Mapped[str] = mapped_column(
        String(16), default="not-allowed", server_default="not-allowed"
    )
    #: Where a ``constrained`` consent's conditions are written (http or https); else None.
    consent_policy_url: Mapped[str | None] = mapped_column(String(2000))

    creator: Mapped[User] = relationship(back_populates="works")
    certificate: Mapped[Certificate | None] = relationship(
        primaryjoin="and_(Work.id == Certificate.work_id, Certificate.superseded == false())",
        uselist=False,
        viewonly=True,
    )


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # A work keeps one current certificate; a reissued one (e.g. at level "reviewed") replaces
    # it and the old one is marked superseded (and revoked in the log), so history stays.
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)
    superseded: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The canonical (RFC 8785) bytes exactly as signed, so a bundle is rebuilt byte for byte.
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    statement_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    issued_at: Mapped[datetime]

    work: Mapped[Work] = relationship()
    revocation: Mapped[Revocation | None] = relationship(
        back_populates="certificate", uselist=False
    )


class Revocation(Base):
    __tablename__ = "revocations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), unique=True)
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    statement_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    certificate: Mapped[Certificate] = relationship(back_populates="revocation")


class LogEntry(Base):
    __tablename__ = "log_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    statement_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class LogNode(Base):
    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CheckpointRow(Base):
    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Draft(Base):
    """A text being written in the editor: its journal so far and the state to accept more.

    ``text``, ``next_seq`` and ``head`` are what :func:`hallmark.core.journal.ingest` needs, so
    a new batch is checked without replaying the whole journal.
    """

    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    next_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    work_id: Mapped[str | None] = mapped_column(ForeignKey("works.id"), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The creator's muse switches for this draft (issue #8): whether the muse may write prose
    #: (``continue``), and whether it may draw on the creator's earlier works.
    muse_continue: Mapped[bool] = mapped_column(default=True, server_default=true())
    muse_personal: Mapped[bool] = mapped_column(default=True, server_default=true())


class JournalEvent(Base):
    """One accepted journal event, with the chain hash that covers it and all before it."""

    __tablename__ = "journal_events"

    draft_id: Mapped[str] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    t: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))
    pos: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    len: Mapped[int | None] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(100))
    src: Mapped[str | None] = mapped_column(String(20))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Authorship(Base):
    """The authorship report of a work written in the editor (issue #3)."""

    __tablename__ = "authorship"

    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), unique=True)
    journal_root: Mapped[str] = mapped_column(String(64))
    report: Mapped[dict[str, Any]]
    #: The creator's choice: whether anyone may see the report (the raw journal stays private).
    public: Mapped[bool] = mapped_column(default=False)


class MuseSuggestion(Base):
    """One answer of the muse to a draft's creator (issue #8): evidence of how the draft grew.

    The prompt itself (the draft and the creator's earlier works) is not kept, only its
    SHA-256; ``output`` is what the muse said, in full. ``sources`` lists the earlier works the
    prompt quoted for the creator's voice. Whether a suggestion was used is read from the
    journal: a ``muse`` event names it in its ``ref``.
    """

    __tablename__ = "muse_suggestions"
    __table_args__ = (Index("ix_muse_suggestions_draft_created", "draft_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    #: questions, ideas, critique or continue.
    mode: Mapped[str] = mapped_column(String(16))
    backend: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    prompt_sha256: Mapped[str] = mapped_column(String(64))
    sources: Mapped[list[Any]] = mapped_column(JSON)
    output: Mapped[str] = mapped_column(Text, default="")
    #: streaming, complete, cancelled (the creator stopped it) or failed (the backend did).
    status: Mapped[str] = mapped_column(String(16))
    #: How many times the creator copied it from the panel.
    copies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WorkStage(Base):
    """A draft or stage of a work made elsewhere, uploaded before the final version (issue #3)."""

    __tablename__ = "work_stages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    series_id: Mapped[str] = mapped_column(String(32), index=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    work_id: Mapped[str | None] = mapped_column(ForeignKey("works.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    perceptual_hash: Mapped[str | None] = mapped_column(String(80))
    blob_key: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(500), default="")
    arrived_at: Mapped[datetime]


class Analysis(Base):
    """One run of the detectors over a work, and what the policy proposed from it (issue #4)."""

    __tablename__ = "analyses"
    # The sweep that sends lost jobs again looks for unfinished rows whose lease has run out.
    __table_args__ = (Index("ix_analyses_status_lease_until", "status", "lease_until"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)
    #: queued, running, done or failed.
    status: Mapped[str] = mapped_column(String(16), default="queued")
    findings: Mapped[list[Any] | None] = mapped_column(JSON)
    findings_sha256: Mapped[str | None] = mapped_column(String(64))
    proposed_label: Mapped[str | None] = mapped_column(String(16))
    proposed_level: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: Times a worker claimed the job (issue #9); one that keeps losing its worker is failed
    #: after ``job_max_attempts``.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Who runs it, or ran it last: a Celery worker or a web process, with its pid.
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    #: While running, the claim holds until then, renewed by the worker's heartbeat; while
    #: queued, the sweep sends the job again after then if no worker has taken it.
    lease_until: Mapped[datetime | None]


class Review(Base):
    """A reviewer's decision on a work, with reasons the creator sees (issue #4)."""

    __tablename__ = "reviews"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    #: approved or rejected.
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    #: The certificate issued by an approval (level "reviewed").
    certificate_id: Mapped[str | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime]


class Appeal(Base):
    """A creator's one appeal against a rejection (issue #4)."""

    __tablename__ = "appeals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), unique=True)
    creator_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    message: Mapped[str] = mapped_column(Text)
    #: The review that answered it, once answered.
    answer_id: Mapped[str | None] = mapped_column(ForeignKey("reviews.id"))
    created_at: Mapped[datetime]


class FingerprintRow(Base):
    """What the prior-art index keeps of a work (issue #5), as stored bytes.

    ``seq`` is assigned inside the serialized writer transaction (max + 1), so sequence order is
    commit order and a process brings its in-memory index up to date by reading ``seq`` above
    the last one it has seen. ``data`` is the fingerprint's arrays (``numpy.savez``); a row
    whose work's certificate was revoked is kept with ``active`` false, so it leaves the index.
    """

    __tablename__ = "fingerprints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime]


class SimilarityMatch(Base):
    """A registered work found to be near an earlier one of another creator (issue #5)."""

    __tablename__ = "similarity_matches"
    __table_args__ = (UniqueConstraint("work_id", "matched_work_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: The work that was checked (the newer registration).
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)
    #: The work it resembles, registered by someone else.
    matched_work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20))
    #: Which of the two the log holds first (the lower first log index).
    first_work_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]

    work: Mapped[Work] = relationship(foreign_keys=[work_id])
    matched_work: Mapped[Work] = relationship(foreign_keys=[matched_work_id])


class Dispute(Base):
    """A creator's claim that a matched work copies theirs, and a reviewer's decision."""

    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    match_id: Mapped[str] = mapped_column(ForeignKey("similarity_matches.id"), unique=True)
    claimant_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    #: The claimant's own work, and the other creator's work it says is a copy.
    claimant_work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    respondent_work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    statement: Mapped[str] = mapped_column(Text)
    #: open, upheld (the later certificate was revoked) or dismissed.
    status: Mapped[str] = mapped_column(String(16), default="open")
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    revoked_certificate_id: Mapped[str | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]

    match: Mapped[SimilarityMatch] = relationship()


class Notification(Base):
    """Something a creator should see on their dashboard (a near-copy, a decision)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    #: near-copy, dispute-opened, dispute-decided, review-decided, appeal-answered.
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    work_id: Mapped[str | None] = mapped_column(ForeignKey("works.id"))
    match_id: Mapped[str | None] = mapped_column(ForeignKey("similarity_matches.id"))
    dispute_id: Mapped[str | None] = mapped_column(ForeignKey("disputes.id"))
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


__all__ = [
    "Analysis",
    "ApiToken",
    "Appeal",
    "Authorship",
    "Base",
    "Certificate",
    "CheckpointRow",
    "Dispute",
    "Draft",
    "FingerprintRow",
    "JournalEvent",
    "LogEntry",
    "LogNode",
    "MuseSuggestion",
    "Notification",
    "Review",
    "Revocation",
    "SimilarityMatch",
    "User",
    "Work",
    "WorkStage",
]
