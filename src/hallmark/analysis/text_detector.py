"""The AI-text detector (issue #4, item 2): ``ai-text``, a built-in detector plugin.

It combines the features of :mod:`hallmark.analysis.text_features` (SmolLM2 token statistics and
stylometry) with a character n-gram signal in one logistic model, calibrated to a probability
that the text was written by an AI. The weights and the decision thresholds are shipped in
``weights/ai_text_v2.json``, written by :mod:`hallmark.analysis.train_text` (which records the
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
RELEASE = "2.0.0"
WEIGHTS_PATH = Path(__file__).parent / "weights" / "ai_text_v2.json"
WEIGHTS_FORMAT = "hallmark-ai-text-weights/2"
#: Below this many words the statistics are too noisy to say anything (issue #4, item 2).
MIN_WORDS = 150
#: How many passages the explanation quotes, and how much of each.
TOP_PASSAGES = 3
QUOTE_CHARS = 160
_MIN_PASSAGE_WORDS = 6
_MAX_PASSAGES = 80

_SPACES = re.compile(r"\s+")
_WORD_TOKEN = re.compile(r"\b\w\w+\b")


# Character and word n-grams ----------------------------------------------------------------


def char_ngrams(text: str, low: int = 3, high: int = 5) -> list[str]:
    """Character n-grams of the lower-cased text, whitespace collapsed to one space.

    The training script hands this very function to scikit-learn as the analyzer, so the
    shipped vocabulary and the runtime counts agree by construction.
    """
    clean = _SPACES.sub(" ", text.lower())
    return [clean[i : i + n] for n in range(low, high + 1) for i in range(len(clean) - n + 1)]


def word_ngrams(text: str, low: int = 1, high: int = 2) -> list[str]:
    """Lower-cased word n-grams (words of two or more word characters, joined by a space).

    Like :func:`char_ngrams`, this is the analyzer the training script hands to scikit-learn.
    """
    tokens = _WORD_TOKEN.findall(text.lower())
    return [
        " ".join(tokens[i : i + n])
        for n in range(low, high + 1)
        for i in range(len(tokens) - n + 1)
    ]


ANALYZERS = {"char": char_ngrams, "word": word_ngrams}


@dataclass(frozen=True)
class NgramModel:
    """A sublinear TF-IDF over a bounded n-gram vocabulary, with a linear model on top.

    Its logit is one feature of the classifier, named ``name`` (``ngram_logit`` for character
    n-grams, ``word_logit`` for words).
    """

    name: str
    analyzer: str
    low: int
    high: int
    index: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NgramModel:
        return cls(
            name=str(data["name"]),
            analyzer=str(data["analyzer"]),
            low=int(data["ngram_range"][0]),
            high=int(data["ngram_range"][1]),
            index={gram: i for i, gram in enumerate(data["vocabulary"])},
            idf=np.asarray(data["idf"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),
        )

    def counts(self, text: str) -> np.ndarray:
        """How often each vocabulary n-gram occurs in ``text`` (a dense vector)."""
        grams = ANALYZERS[self.analyzer](text, self.low, self.high)
        found = [self.index[g] for g in grams if g in self.index]
        return np.bincount(np.asarray(found, dtype=np.int64), minlength=len(self.index)).astype(
            np.float64
        )

    def logits_of_counts(self, counts: np.ndarray) -> np.ndarray:
        """The logit of each row of n-gram counts (``counts`` is 1-D or 2-D)."""
        matrix = np.atleast_2d(counts)
        tf = np.where(matrix > 0, 1.0 + np.log(np.maximum(matrix, 1.0)), 0.0) * self.idf
        norms = np.sqrt((tf**2).sum(axis=1))
        raw = tf @ self.coef
        return np.where(norms > 0, raw / np.maximum(norms, 1e-300), 0.0) + self.intercept

    def logit(self, text: str) -> float:
        return float(self.logits_of_counts(self.counts(text))[0])


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
    ngrams: tuple[NgramModel, ...]
    threshold: float
    low: float
    digest: str

    @classmethod
    def from_json(cls, data: dict[str, Any], digest: str) -> TextClassifier:
        model = data["model"]
        names = tuple(model["feature_names"])
        ngrams = tuple(NgramModel.from_json(part) for part in data.get("ngrams", []))
        if data.get("format") != WEIGHTS_FORMAT or names != tuple(FEATURE_NAMES) + tuple(
            m.name for m in ngrams
        ):
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
            ngrams=ngrams,
            threshold=float(data["thresholds"]["contradicts"]),
            low=float(data["thresholds"]["low"]),
            digest=digest,
        )

    def row(self, features: dict[str, float], text: str) -> np.ndarray:
        values = [features[name] for name in FEATURE_NAMES]
        values.extend(model.logit(text) for model in self.ngrams)
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

    Leaving a sentence out removes its tokens from the language-model statistics, its text
    from the stylometric features and its n-grams from the n-gram counts; the model is not
    re-run, so this is an approximation that ignores how the sentence conditions the next
    ones. N-gram counts of the rest are the whole text's minus the sentence's (the few
    n-grams that straddle the sentence's edges are ignored), so every sentence costs one pass
    over its own words rather than over the whole text.
    """
    all_spans = sentence_spans(text)
    chosen = [
        (i, start, end)
        for i, (start, end) in enumerate(all_spans[:_MAX_PASSAGES])
        if len(text[start:end].split()) >= _MIN_PASSAGE_WORDS
    ]
    if len(all_spans) < 2 or not chosen:
        return []
    full = classifier.score_text(scores, text)
    owner = sentence_of_tokens(scores, all_spans)
    # Per n-gram model: the logit of the text without each sentence, all sentences at once.
    left_out = [
        model.logits_of_counts(
            np.maximum(
                model.counts(text)[None, :]
                - np.vstack([model.counts(text[start:end]) for _, start, end in chosen]),
                0.0,
            )
        )
        for model in classifier.ngrams
    ]
    results = []
    for k, (i, start, end) in enumerate(chosen):
        keep = owner != i
        # Offsets must follow the shortened text so tokens still fall in their sentences.
        shift = end - start
        starts = np.where(scores.starts >= end, scores.starts - shift, scores.starts)[keep]
        reduced = TokenScores(starts, scores.logp[keep], scores.entropy[keep], scores.logrank[keep])
        rest = text[:start] + text[end:]
        features = document_features(reduced, rest)
        row = [features[name] for name in FEATURE_NAMES] + [float(lo[k]) for lo in left_out]
        results.append(
            {
                "start": start,
                "end": end,
                "evidence": round(full - classifier.score_row(np.array(row)), 4),
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
