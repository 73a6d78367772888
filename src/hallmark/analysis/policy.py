"""The evidence policy: declaration + findings + process evidence -> proposed label and level.

Issue #4, item 4, and ``docs/policy.md``, which states the same table in words. The policy is
pure (no database, no web) and is the only place that turns detector findings into a decision,
so the rules a creator is judged by are readable in one screen and tested row by row.

Principles, from DESIGN.md ("Threats": detector false positives against real humans):

- A detector alone never refuses a human. A contradiction sends the work to a person (the
  review queue) with the evidence, and the creator is told why in plain words.
- ``inconclusive`` proves nothing either way: the work keeps its level and is not reviewed.
- A work declared as using AI is never sent to review for looking like AI.
- The label is the creator's declaration; the policy never changes it, only the level.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from hallmark.analysis.base import Finding, Verdict
from hallmark.core.labels import AssuranceLevel, OriginLabel


class Outcome(enum.StrEnum):
    """What the policy asks the service to do with the work."""

    #: Reissue the certificate at the proposed (higher) level.
    RAISE = "raise"
    #: Keep the certificate as it is.
    KEEP = "keep"
    #: Keep the certificate and put the work in the review queue.
    REVIEW = "review"


@dataclass(frozen=True)
class Reason:
    """Why a work is in the review queue, in words the creator can read."""

    code: str
    explanation: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "explanation": self.explanation}


@dataclass(frozen=True)
class Proposal:
    label: OriginLabel
    level: AssuranceLevel
    outcome: Outcome
    #: The table row that decided (see ``docs/policy.md``), for the record and the tests.
    rule: str
    reasons: tuple[Reason, ...] = field(default=())


def _contradiction_reason(finding: Finding, declared: OriginLabel) -> Reason:
    return Reason(
        code=f"detector:{finding.detector}",
        explanation=(
            f"An automated check ({finding.detector}) found something that does not match "
            f"your declaration '{declared.value}': {finding.explanation} Automated checks can "
            "be wrong, so nothing changes until a person has looked at all the evidence; your "
            "certificate stays valid meanwhile."
        ),
    )


def propose(
    declared: OriginLabel,
    findings: Sequence[Finding],
    *,
    current: AssuranceLevel,
    process_flags: Sequence[Reason] = (),
    prior_art: Sequence[Reason] = (),
) -> Proposal:
    """The label and level the evidence supports, and whether a person must look.

    ``current`` is the level the work's certificate has now (``process-verified`` for a work
    written in the editor); ``process_flags`` are the reasons the process evidence already
    asked for review (journal flags such as large pastes, issue #3); ``prior_art`` the
    reasons a near-copy check gave (the work resembles an earlier work of another creator,
    issue #5), which send any work to a person whatever its label: copying is not about AI.
    """
    contradicting = [f for f in findings if f.verdict is Verdict.CONTRADICTS]
    consistent = [f for f in findings if f.verdict is Verdict.CONSISTENT]

    if prior_art:
        detector_reasons: tuple[Reason, ...] = ()
        if declared is OriginLabel.HUMAN_MADE:
            detector_reasons = tuple(_contradiction_reason(f, declared) for f in contradicting)
        reasons = tuple(process_flags) + detector_reasons + tuple(prior_art)
        return Proposal(declared, current, Outcome.REVIEW, "prior-art", reasons)

    if contradicting and declared is OriginLabel.HUMAN_MADE:
        reasons = tuple(process_flags) + tuple(
            _contradiction_reason(f, declared) for f in contradicting
        )
        return Proposal(declared, current, Outcome.REVIEW, "contradiction", reasons)
    if process_flags:
        # The process evidence already asked a person to look; the reviewer decides the level.
        return Proposal(declared, current, Outcome.REVIEW, "process-flags", tuple(process_flags))
    if contradicting:
        # Declared as AI-made (in part or whole) and a detector disagrees: not a reason to
        # suspect the creator, but not support for the declaration either.
        return Proposal(declared, current, Outcome.KEEP, "ai-declared-contradiction")
    if not consistent:
        return Proposal(declared, current, Outcome.KEEP, "inconclusive")
    if current.rank >= AssuranceLevel.ANALYZED.rank:
        return Proposal(declared, current, Outcome.KEEP, "already-higher")
    return Proposal(declared, AssuranceLevel.ANALYZED, Outcome.RAISE, "consistent")


#: The documented table, row by row: (declared, verdicts, current level, journal flags) ->
#: (outcome, level). ``docs/policy.md`` shows it and ``tests/analysis/test_policy.py`` checks
#: every row against :func:`propose`.
TABLE: tuple[tuple[str, tuple[str, ...], str, bool, str, str], ...] = (
    ("human-made", ("consistent",), "declared", False, "raise", "analyzed"),
    ("human-made", ("consistent", "inconclusive"), "declared", False, "raise", "analyzed"),
    ("human-made", ("inconclusive",), "declared", False, "keep", "declared"),
    ("human-made", (), "declared", False, "keep", "declared"),
    ("human-made", ("contradicts",), "declared", False, "review", "declared"),
    ("human-made", ("consistent", "contradicts"), "declared", False, "review", "declared"),
    ("human-made", ("consistent",), "process-verified", False, "keep", "process-verified"),
    ("human-made", ("contradicts",), "process-verified", False, "review", "process-verified"),
    ("human-made", ("consistent",), "process-verified", True, "review", "process-verified"),
    ("human-made", ("consistent",), "declared", True, "review", "declared"),
    ("ai-assisted", ("consistent",), "declared", False, "raise", "analyzed"),
    ("ai-assisted", ("contradicts",), "declared", False, "keep", "declared"),
    ("ai-assisted", ("inconclusive",), "declared", False, "keep", "declared"),
    ("ai-generated", ("consistent",), "declared", False, "raise", "analyzed"),
    ("ai-generated", ("contradicts",), "declared", False, "keep", "declared"),
    ("ai-generated", ("inconclusive",), "declared", False, "keep", "declared"),
)


#: With a prior-art reason (a near-copy of another creator's earlier work), every row becomes a
#: review at the current level: (declared, verdicts, current level) -> (outcome, level).
PRIOR_ART_TABLE: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    ("human-made", ("consistent",), "declared", "review", "declared"),
    ("human-made", (), "process-verified", "review", "process-verified"),
    ("ai-assisted", ("consistent",), "declared", "review", "declared"),
    ("ai-generated", ("inconclusive",), "declared", "review", "declared"),
)
