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
    consent: str = Field(description="AI training now: allowed, not-allowed or constrained.")
    consent_policy_url: str | None = Field(description="The policy of a constrained consent.")
    certificate_id: str | None
    log_index: int | None
    revoked: bool


class FiltersOut(BaseModel):
    label: str = Field(description="The origin label shown, or 'all'.")
    level: str | None
    kind: str | None
    consent: str | None


class WorkPageOut(BaseModel):
    """One page of works, newest first (issue #7)."""

    works: list[WorkOut]
    next_cursor: str | None = Field(
        description="Pass as 'cursor' for the next page; null on the last page."
    )
    filters: FiltersOut


class SearchPageOut(WorkPageOut):
    query: str = Field(description="The query as received (at most 500 characters are read).")
    terms: list[str] = Field(
        description="The words and phrases searched for, once punctuation is dropped; every "
        "one must match."
    )


class VisibilityIn(BaseModel):
    visibility: str = Field(description="public, unlisted or private.")


class RegistrationOut(BaseModel):
    work_id: str
    certificate_id: str
    label: str
    level: str
    ai_share: float
    log_index: int
    sha256: str
    consent: str = Field(description="The work's AI-training consent, as certified.")
    consent_policy_url: str | None = Field(description="The policy of a constrained consent.")
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


class CosignaturesOut(BaseModel):
    """What a witness's cosignatures changed (docs/operations.md, "Witnesses")."""

    tree_size: int = Field(description="The size of the cosigned checkpoint.")
    witnesses: list[str] = Field(description="The witnesses whose cosignatures were accepted.")
    checkpoint: str = Field(description="The checkpoint note as now served, cosignatures added.")


# Drafts of a work made elsewhere (issue #3, item 7) -----------------------------------------


class SeriesCreatedOut(BaseModel):
    series_id: str = Field(description="Send drafts to /series/{series_id}/stages.")


class StageOut(BaseModel):
    series_id: str
    stage_id: str
    position: int = Field(description="1 for the first draft, then 2, 3, ...")
    kind: str = Field(description="text or image; a series holds one kind only.")
    media_type: str
    size: int
    sha256: str
    perceptual_hash: str | None = Field(description="'phash:<hex>' for images.")
    note: str
    arrived_at: str = Field(description="When the server received the draft (UTC).")


class SeriesOut(BaseModel):
    series_id: str
    kind: str | None = Field(description="text or image; null while the series is empty.")
    work_id: str | None = Field(description="The work registered with it; null until then.")
    max_stages: int
    stages: list[StageOut]


class ProgressionStageOut(BaseModel):
    position: int
    kind: str
    media_type: str
    size: int
    sha256: str
    perceptual_hash: str | None
    note: str | None = Field(description="The creator's note; the creator and admins only.")
    arrived_at: str
    width: int | None = Field(default=None, description="Images only.")
    height: int | None = Field(default=None, description="Images only.")
    distance: int | None = Field(
        default=None,
        description="Images only: pHash Hamming distance to the final work (0 = alike).",
    )


class ProgressionStepOut(BaseModel):
    from_: str = Field(alias="from", description="'stage N'.")
    to: str = Field(description="'stage N+1', or 'final'.")
    lines_added: int
    lines_removed: int
    chars_added: int
    chars_removed: int
    similarity: float = Field(description="2*matching characters / both lengths, 0 to 1.")
    diff: str | None = Field(description="Unified diff; the creator and admins only.")
    diff_truncated: bool | None


class ProgressionOut(BaseModel):
    work_id: str
    kind: str
    count: int
    evidence: dict[str, Any] | None = Field(
        description="The certificate's 'stages' evidence item, recomputed from the stages: "
        "SHA-256 of the JCS list of {sha256, arrived_at} in order."
    )
    final: dict[str, Any] = Field(
        description="The final work's digest, size, date (and size in pixels for images)."
    )
    stages: list[ProgressionStageOut]
    steps: list[ProgressionStepOut] = Field(description="Texts only: each draft to the next.")
    distance_bits: int | None = Field(description="Images only: bits in the perceptual hash.")
    drafts_visible: bool = Field(
        description="Whether the caller may see the drafts themselves (notes, diffs, files)."
    )


# Drafts written in the editor, and their authorship reports (issue #3) ------------------------


class DraftIn(BaseModel):
    title: str | None = Field(default=None, description="A working title; may be left empty.")


class DraftCreatedOut(BaseModel):
    draft_id: str
    title: str
    next_seq: int = Field(description="The seq of the first event to send: 0.")
    length: int = Field(description="Length of the draft's text, in code points.")


class DraftSummaryOut(BaseModel):
    draft_id: str
    title: str
    next_seq: int
    length: int
    head: str = Field(description="Hex SHA-256 at the head of the journal's hash chain.")
    status: str = Field(description="open, or submitted.")
    work_id: str | None
    created_at: str
    updated_at: str


class DraftOut(DraftSummaryOut):
    text: str = Field(description="The text the journal replays to so far.")
    stats: dict[str, Any] = Field(
        description="The authorship report so far (shares, counts, flags...), without timeline."
    )


class EventsIn(BaseModel):
    events: list[Any] = Field(
        description="Journal events in order, from the draft's next_seq (events already "
        "recorded may be resent and are skipped when identical); at most 5,000. Wire format: "
        "docs/journal.md and docs/journal.schema.json."
    )


class AppendOut(BaseModel):
    accepted: int = Field(description="How many events were new.")
    next_seq: int = Field(description="The seq of the next event to send.")
    length: int = Field(description="Length of the draft's text, in code points.")
    head: str = Field(description="Hex SHA-256 at the head of the journal's hash chain.")


class SubmitIn(BaseModel):
    title: str
    declare: str = Field(description="human-made, ai-assisted or ai-generated.")
    text: str = Field(description="The final text: it must equal what the journal replays to.")
    ai_share: float | None = Field(
        default=None,
        description="Percent AI-generated, if the creator declares more than the journal shows.",
    )
    visibility: str = Field(default="public", description="public, unlisted or private.")
    report_public: bool = Field(default=False, description="Show the authorship report.")
    statement: str | None = Field(default=None, description="How the work was made.")
    consent: str | None = Field(
        default=None,
        description="AI training: allowed, not-allowed or constrained; default: the creator's.",
    )
    consent_policy_url: str | None = Field(
        default=None, description="The http(s) URL of the conditions, with constrained."
    )


class FlagOut(BaseModel):
    code: str = Field(description="mostly-pasted, large-paste, too-fast, machine-regular, ...")
    explanation: str


class SharesOut(BaseModel):
    typed: float
    pasted: float
    muse: float
    imported: float


class ReviewOut(BaseModel):
    status: str = Field(description="'none', or 'pending' when a flag sent the work to review.")
    reasons: list[FlagOut]


class AuthorshipSummaryOut(BaseModel):
    journal_root: str
    events: int
    shares: SharesOut
    ai_share: float
    flags: list[FlagOut]
    public: bool


class SubmissionOut(RegistrationOut):
    authorship: AuthorshipSummaryOut
    review: ReviewOut


class MuseReportSuggestionOut(BaseModel):
    id: str
    mode: str = Field(description="questions, ideas, critique or continue.")
    backend: str
    model: str
    created_at: str
    prompt_sha256: str = Field(description="SHA-256 of the prompt (docs/muse.md).")
    output_sha256: str = Field(description="SHA-256 of the suggestion's UTF-8 text.")
    status: str = Field(description="complete, cancelled, failed, or streaming.")
    chars: int = Field(description="Length of the suggestion, in code points.")
    copies: int = Field(description="Times the creator copied it from the panel.")
    inserted_chars: int = Field(description="Code points the journal took from it.")
    used: bool = Field(description="Whether any of its text went into the draft.")


class MuseReportOut(BaseModel):
    share: float = Field(description="Percent of the final text from the muse.")
    offered: int = Field(description="Suggestions the muse made for the draft.")
    used: int = Field(description="Suggestions whose text went into the draft.")
    record_sha256: str = Field(description="The digest the certificate's muse evidence states.")
    unattributed_chars: int = Field(
        description="Muse text in the journal that names no suggestion of this instance."
    )
    suggestions: list[MuseReportSuggestionOut]


class AuthorshipOut(BaseModel):
    work_id: str
    public: bool
    journal_root: str = Field(description="Hex root of the journal's hash chain (certified).")
    events: int
    length: int
    shares: SharesOut = Field(description="Percent of the final text by origin.")
    counts: dict[str, int] = Field(description="Code points of the final text by origin.")
    ai_share: float = Field(description="Percent from the muse or pasted as AI text.")
    deleted_chars: int
    longest_paste: int
    active_seconds: int
    sessions: int
    keystrokes: int
    flags: list[FlagOut]
    timeline: list[dict[str, int]] = Field(
        description="Code points of the text by origin over time: {t, typed, pasted, muse, "
        "imported}."
    )
    muse: MuseReportOut | None = Field(
        default=None,
        description="What the muse suggested and which suggestions were used (issue #8); "
        "absent when the muse was not asked.",
    )


class JournalOut(BaseModel):
    work_id: str
    journal_root: str
    events: list[dict[str, Any]] = Field(description="The raw journal, in the wire format.")


class ReportVisibilityIn(BaseModel):
    public: bool


class ReportVisibilityOut(BaseModel):
    work_id: str
    public: bool
