"""The evidence policy's table (docs/policy.md): every row, and the plain-words reasons."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hallmark.analysis.base import Finding, Verdict
from hallmark.analysis.policy import PRIOR_ART_TABLE, TABLE, Outcome, Reason, propose
from hallmark.core.labels import AssuranceLevel, OriginLabel

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
FLAG = Reason("large-paste", "A large part of the text was pasted in one go.")


def finding(verdict: str, name: str = "check") -> Finding:
    return Finding(name, "1", Verdict(verdict), f"{name} says {verdict}.")


@pytest.mark.parametrize(("declared", "verdicts", "current", "flagged", "outcome", "level"), TABLE)
def test_every_row_of_the_table(
    declared: str,
    verdicts: tuple[str, ...],
    current: str,
    flagged: bool,
    outcome: str,
    level: str,
) -> None:
    proposal = propose(
        OriginLabel(declared),
        [finding(v, f"d{i}") for i, v in enumerate(verdicts)],
        current=AssuranceLevel(current),
        process_flags=(FLAG,) if flagged else (),
    )
    assert (proposal.outcome.value, proposal.level.value) == (outcome, level)
    # The policy never changes what the creator declared.
    assert proposal.label.value == declared


@pytest.mark.parametrize(("declared", "verdicts", "current", "outcome", "level"), PRIOR_ART_TABLE)
def test_every_row_with_prior_art(
    declared: str, verdicts: tuple[str, ...], current: str, outcome: str, level: str
) -> None:
    copy = Reason("prior-art:w1", "This work closely resembles a work registered earlier.")
    proposal = propose(
        OriginLabel(declared),
        [finding(v, f"d{i}") for i, v in enumerate(verdicts)],
        current=AssuranceLevel(current),
        prior_art=(copy,),
    )
    assert (proposal.outcome.value, proposal.level.value) == (outcome, level)
    assert proposal.rule == "prior-art"
    assert copy in proposal.reasons
    assert proposal.label.value == declared


def test_prior_art_keeps_the_detector_and_journal_reasons() -> None:
    copy = Reason("prior-art:w1", "Resembles an earlier work.")
    proposal = propose(
        OriginLabel.HUMAN_MADE,
        [finding("contradicts", "ai-text")],
        current=AssuranceLevel.DECLARED,
        process_flags=(FLAG,),
        prior_art=(copy,),
    )
    assert [r.code for r in proposal.reasons] == ["large-paste", "detector:ai-text", "prior-art:w1"]


def test_a_contradiction_tells_the_creator_why_in_plain_words() -> None:
    proposal = propose(
        OriginLabel.HUMAN_MADE,
        [finding("consistent", "a"), finding("contradicts", "ai-text")],
        current=AssuranceLevel.DECLARED,
    )
    assert proposal.outcome is Outcome.REVIEW
    [reason] = proposal.reasons
    assert reason.code == "detector:ai-text"
    assert "ai-text says contradicts." in reason.explanation
    assert "a person" in reason.explanation and "stays valid" in reason.explanation


def test_journal_flags_stay_among_the_reasons_when_a_detector_also_contradicts() -> None:
    proposal = propose(
        OriginLabel.HUMAN_MADE,
        [finding("contradicts")],
        current=AssuranceLevel.PROCESS_VERIFIED,
        process_flags=(FLAG,),
    )
    assert proposal.reasons[0] == FLAG and len(proposal.reasons) == 2


@pytest.mark.parametrize("declared", ["ai-assisted", "ai-generated"])
def test_ai_declared_works_never_go_to_review_for_looking_ai(declared: str) -> None:
    findings = [finding("contradicts"), finding("contradicts", "other")]
    proposal = propose(OriginLabel(declared), findings, current=AssuranceLevel.DECLARED)
    assert proposal.outcome is Outcome.KEEP and not proposal.reasons


def test_inconclusive_alone_never_reviews_nor_raises() -> None:
    findings = [finding("inconclusive")] * 3
    proposal = propose(OriginLabel.HUMAN_MADE, findings, current=AssuranceLevel.DECLARED)
    assert proposal.outcome is Outcome.KEEP and proposal.level is AssuranceLevel.DECLARED


def test_the_documented_table_matches_the_code() -> None:
    rows = set()
    for line in DOC.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in {label.value for label in OriginLabel}:
            verdicts = tuple(v for v in re.split(r",\s*", cells[1].strip("`")) if v and v != "none")
            rows.add((cells[0], verdicts, cells[2], cells[3] == "yes", cells[4], cells[5]))
    assert rows == set(TABLE)


def test_the_documented_prior_art_table_matches_the_code() -> None:
    rows = set()
    for line in DOC.read_text("utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] in {label.value for label in OriginLabel}:
            verdicts = tuple(v for v in re.split(r",\s*", cells[1]) if v and v != "none")
            rows.add((cells[0], verdicts, cells[2], cells[3], cells[4]))
    assert rows == set(PRIOR_ART_TABLE)
