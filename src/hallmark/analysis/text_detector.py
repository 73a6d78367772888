"""The AI-text detector (issue #4, item 2): ``ai-text``, a built-in detector plugin.

It combines the features of :mod:`hallmark.analysis.text_features` (SmolLM2 token statistics and
stylometry) with a character n-gram signal in one logistic model, calibrated to a probability
that the text was written by an AI. The weights and the decision thresholds are shipped in
``weights/ai_text_v1.json``, written by :mod:`hallmark.analysis.train_text` (which records the
data digest, the seed and the feature spec); inference here is plain numpy, so the runtime does
not need scikit-learn. See ``docs/detection.md`` for the method, the figures and the limits.

A detector is evidence, not a judge: the finding says which passages drove the score, and any
contradiction with a ``human-made`` declaration goes to a person (issue #4, item 4).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from hallmark.analysis.base import Finding, Verdict, WorkInput
from hallmark.analysis.text_features import (
    FEATURE_NAMES,
    LanguageModelUnavailable,
    TokenScores,
    document_features,
    sentence_of_tokens,
    sentence_spans,
    shared_model,
    word_count,
)
from hallmark.core.labels import OriginLabel
from hallmark.plugins.hookspecs import hookimpl

log = logging.getLogger(__name__)

NAME = "ai-text"
RELEASE = "1.0.0"
WEIGHTS_PATH = Path(__file__).parent / "weights" / "ai_text_v1.json"
#: Below this many words the statistics are too noisy to say anything (issue #4, item 2).
MIN_WORDS = 150
#: How many passages the explanation quotes, and how much of each.
TOP_PASSAGES = 3
QUOTE_CHARS = 160
_MIN_PASSAGE_WORDS = 6
_MAX_PASSAGES = 80

_SPACES = re.compile(r"\s+")


# Character n-grams -------------------------------------------------------------------------


def char_ngrams(text: str, low: int = 3, high: int = 5) -> list[str]:
    """Character n-grams of the lower-cased text, whitespace collapsed to one space.

    The training script hands this very function to scikit-learn as the analyzer, so the
    shipped vocabulary and the runtime counts agree by construction.
    """
    clean = _SPACES.sub(" ", text.lower())
    return [clean[i : i + n] for n in range(low, high + 1) for i in range(len(clean) - n + 1)]


@dataclass(frozen=True)
class NgramModel:
    """A sublinear TF-IDF over a bounded n-gram vocabulary, with a linear model on top."""

    low: int
    high: int
    index: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NgramModel:
        return cls(
            low=int(data["ngram_range"][0]),
            high=int(data["ngram_range"][1]),
            index={gram: i for i, gram in enumerate(data["vocabulary"])},
            idf=np.asarray(data["idf"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )

    def logit(self, text: str) -> float:
        counts = Counter(
            self.index[g] for g in char_ngrams(text, self.low, self.high) if g in self.index
        )
        if not counts:
            return self.intercept
        cols = np.fromiter(counts.keys(), dtype=np.int64)
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[cols]
        norm = float(np.sqrt((values**2).sum()))
        return float(values @ self.coef[cols] / norm + self.intercept)


# The shipped classifier --------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """One regression tree of the boosted ensemble, as flat node arrays (-1: no child).

    A row goes left at a node when its feature value is at most the threshold, the rule of
    scikit-learn's histogram gradient boosting that trained it.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tree:
        return cls(
            feature=np.asarray(data["feature"], dtype=np.int64),
            threshold=np.asarray(data["threshold"], dtype=np.float64),
            left=np.asarray(data["left"], dtype=np.int64),
            right=np.asarray(data["right"], dtype=np.int64),
            value=np.asarray(data["value"], dtype=np.float64),
        )

    def predict(self, row: np.ndarray) -> float:
        node = 0
        while self.left[node] >= 0:
            go_left = row[self.feature[node]] <= self.threshold[node]
            node = int(self.left[node] if go_left else self.right[node])
        return float(self.value[node])


@dataclass(frozen=True)
class Linear:
    """A linear score on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray

    def predict(self, row: np.ndarray) -> float:
        return float(((row - self.mean) / self.scale) @ self.coef)


@dataclass(frozen=True)
class TextClassifier:
    """Features + n-gram logit -> score (boosted trees, optionally a linear part) -> Platt P(AI).

    The shipped model is boosted trees only; the linear part exists for hand-made models.
    """

    feature_names: tuple[str, ...]
    baseline: float
    trees: tuple[Tree, ...]
    linear: Linear | None
    platt_a: float
    platt_b: float
    ngrams: NgramModel | None
    threshold: float
    low: float
    digest: str

    @classmethod
    def from_json(cls, data: dict[str, Any], digest: str) -> TextClassifier:
        model = data["model"]
        names = tuple(model["feature_names"])
        if names != tuple(FEATURE_NAMES) + (("ngram_logit",) if data.get("ngrams") else ()):
            raise LanguageModelUnavailable(
                "The shipped AI-text weights do not match this version's features.",
                hint="Retrain them with: python -m hallmark.analysis.train_text",
            )
        return cls(
            feature_names=names,
            baseline=float(model["baseline"]),
            trees=tuple(Tree.from_json(tree) for tree in model["trees"]),
            linear=None,
            platt_a=float(data["calibration"]["a"]),
            platt_b=float(data["calibration"]["b"]),
            ngrams=NgramModel.from_json(data["ngrams"]) if data.get("ngrams") else None,
            threshold=float(data["thresholds"]["contradicts"]),
            low=float(data["thresholds"]["low"]),
            digest=digest,
        )

    def row(self, features: dict[str, float], text: str) -> np.ndarray:
        values = [features[name] for name in FEATURE_NAMES]
        if self.ngrams is not None:
            values.append(self.ngrams.logit(text))
        return np.array(values, dtype=np.float64)

    def score_row(self, row: np.ndarray) -> float:
        """The uncalibrated score (a logit; higher = more AI-like)."""
        score = self.baseline + sum(tree.predict(row) for tree in self.trees)
        if self.linear is not None:
            score += self.linear.predict(row)
        return float(score)

    def probability(self, score: float) -> float:
        """Calibrated P(AI) for a score: increasing in the score, always in [0, 1]."""
        z = self.platt_a * score + self.platt_b
        return float(1.0 / (1.0 + math.exp(-z))) if z > -700 else 0.0

    def score_text(self, scores: TokenScores, text: str) -> float:
        return self.score_row(self.row(document_features(scores, text), text))


@cache
def load_classifier(path: Path = WEIGHTS_PATH) -> TextClassifier:
    raw = path.read_bytes()
    return TextClassifier.from_json(json.loads(raw), hashlib.sha256(raw).hexdigest())


# Passages ----------------------------------------------------------------------------------


def passage_evidence(
    classifier: TextClassifier, scores: TokenScores, text: str
) -> list[dict[str, Any]]:
    """How much each sentence pushed the score up: the drop in score when it is left out.

    Leaving a sentence out removes its tokens from the language-model statistics and its
    text from the stylometric and n-gram features; the model is not re-run, so this is an
    approximation that ignores how the sentence conditions the next ones.
    """
    spans = sentence_spans(text)
    if len(spans) < 2:
        return []
    full = classifier.score_text(scores, text)
    owner = sentence_of_tokens(scores, spans)
    results = []
    for i, (start, end) in enumerate(spans[:_MAX_PASSAGES]):
        if len(text[start:end].split()) < _MIN_PASSAGE_WORDS:
            continue
        keep = owner != i
        # Offsets must follow the shortened text so tokens still fall in their sentences.
        shift = end - start
        starts = np.where(scores.starts >= end, scores.starts - shift, scores.starts)[keep]
        reduced = TokenScores(starts, scores.logp[keep], scores.entropy[keep], scores.logrank[keep])
        rest = text[:start] + text[end:]
        results.append(
            {
                "start": start,
                "end": end,
                "evidence": round(full - classifier.score_text(reduced, rest), 4),
            }
        )
    results.sort(key=lambda item: item["evidence"], reverse=True)
    return results


def _percent(p: float) -> str:
    # A rounded "100%" or "0%" would overstate what a detector can know.
    return "over 99%" if p > 0.99 else "under 1%" if p < 0.01 else f"{p:.0%}"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "\u2026"


# The detector ------------------------------------------------------------------------------

_NOT_PROOF = (
    "An automated detector is not proof of how a text was made; a person reviews any "
    "contradiction before anything changes, and you can answer it."
)


class TextDetector:
    """The ``ai-text`` detector. The language model loads on first use, once per process."""

    name = NAME
    kinds = ("text",)

    def __init__(self, classifier: TextClassifier | None = None) -> None:
        self._classifier = classifier or load_classifier()
        self.version = f"{RELEASE}+{self._classifier.digest[:12]}"

    @property
    def classifier(self) -> TextClassifier:
        return self._classifier

    def _finding(self, verdict: Verdict, explanation: str, **kw: Any) -> Finding:
        return Finding(self.name, self.version, verdict, explanation, **kw)

    def analyze(self, work: WorkInput) -> Finding:
        text = (work.text or "").strip()
        words = word_count(text)
        if words < MIN_WORDS:
            return self._finding(
                Verdict.INCONCLUSIVE,
                f"The text is too short to judge: {words} words, and this detector needs at "
                f"least {MIN_WORDS}. Short texts give too little evidence either way.",
                details={"words": words},
            )
        try:
            scores = shared_model().score(text)
        except LanguageModelUnavailable as exc:
            return self._finding(
                Verdict.INCONCLUSIVE,
                f"The text was not analysed: the language model is not installed ({exc.detail}).",
                details={"words": words, "error": exc.detail, "hint": exc.hint},
            )
        return self.judge(text, scores, work.declared)

    def judge(self, text: str, scores: TokenScores, declared: OriginLabel) -> Finding:
        """The finding for a text whose tokens are already scored (split out for tests)."""
        clf = self._classifier
        score = clf.score_text(scores, text)
        p = clf.probability(score)
        ranked = passage_evidence(clf, scores, text)
        passages = [
            {"text": _quote(text[item["start"] : item["end"]]), **item}
            for item in ranked[:TOP_PASSAGES]
            if item["evidence"] > 0
        ]
        verdict, summary = self._verdict(p, declared)
        lines = [summary, f"Estimated probability that an AI wrote it: {_percent(p)}."]
        if passages and p >= clf.low:
            lines.append("The passages that most raised this estimate:")
            lines.extend(f'  - "{item["text"]}"' for item in passages)
        lines.append(_NOT_PROOF)
        return self._finding(
            verdict,
            "\n".join(lines),
            score=round(score, 4),
            probability=round(p, 4),
            details={
                "words": word_count(text),
                "tokens_scored": int(scores.logp.size + 1),
                "threshold": clf.threshold,
                "low": clf.low,
                "passages": passages,
            },
        )

    def _verdict(self, p: float, declared: OriginLabel) -> tuple[Verdict, str]:
        clf = self._classifier
        if declared is OriginLabel.HUMAN_MADE:
            if p >= clf.threshold:
                return Verdict.CONTRADICTS, (
                    "This text reads much like AI-generated text, which does not match the "
                    "'human-made' declaration."
                )
            if p < clf.low:
                return Verdict.CONSISTENT, (
                    "This text reads like human writing, which matches the 'human-made' "
                    "declaration."
                )
            return Verdict.INCONCLUSIVE, (
                "This text has some features of AI-generated text, but not enough to say it "
                "does not match the 'human-made' declaration."
            )
        if p >= clf.threshold:
            return Verdict.CONSISTENT, (
                f"This text reads like AI-generated text, which matches the '{declared.value}' "
                "declaration."
            )
        return Verdict.INCONCLUSIVE, (
            f"The detector found no strong sign of AI writing. That does not contradict the "
            f"'{declared.value}' declaration: detectors miss much AI-written or AI-edited text."
        )


_detector: TextDetector | None = None
_detector_lock = threading.Lock()


def text_detector_factory(settings: Any = None) -> TextDetector:
    """Build (once) the ``ai-text`` detector; the settings are not needed yet."""
    global _detector
    with _detector_lock:
        if _detector is None:
            _detector = TextDetector()
        return _detector


@hookimpl
def hallmark_detectors() -> dict[str, Any]:
    return {NAME: text_detector_factory}
